"""objstore's own signed URLs (SPEC §8): the scheme, in one place.

``presign`` on a backend that cannot presign natively makes a URL under
``base_url``; ``objstore.server`` checks it. Both sides use
:class:`SignedUrls`, so the string that is signed is written once::

    objstore-signed-url-v1 \\n METHOD \\n BASE-PATH \\n KEY \\n EXPIRES \\n CONTENT-TYPE

signed with HMAC-SHA256 under the first ``signing_key`` and checked, in
constant time, against every one of them (rotation). ``METHOD`` is ``GET`` or
``PUT`` (a ``GET`` signature also allows ``HEAD``), ``BASE-PATH`` is the path
of ``base_url`` (a URL is only valid where it was meant to be served),
``EXPIRES`` the Unix time after which it is refused, ``CONTENT-TYPE`` the type a
``PUT`` must carry (empty: any). Keys, paths and content types hold no line
break, so the fields cannot run into each other.

The URL is ``base_url/<key, percent-encoded>?X-Objstore-Expires=...
[&X-Objstore-Content-Type=...]&X-Objstore-Signature=<hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from . import _defaults
from ._options import Option, as_size, as_str, optional
from .errors import UnsupportedOperationError

EXPIRES = "X-Objstore-Expires"
CONTENT_TYPE = "X-Objstore-Content-Type"
SIGNATURE = "X-Objstore-Signature"

_VERSION = "objstore-signed-url-v1"
_MIN_KEY_LENGTH = 16
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_UNIX_TIME = re.compile(r"[0-9]{1,12}")
_ORIGIN = re.compile(r"https?://[^/?#\s]+")


# -- configuration ------------------------------------------------------------------------------


def as_base_url(value: Any) -> str:
    """An ``http(s)://host[:port][/path]`` URL without query or fragment; no trailing ``/``."""
    url = as_str(value).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http:// or https:// URL such as http://localhost:8080/files")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ValueError("expected a URL without query or fragment")
    return url.rstrip("/")


def as_signing_keys(value: Any) -> tuple[str, ...]:
    """One key, or a list of keys: the first signs, every one verifies (rotation)."""
    keys = value if isinstance(value, list | tuple) else [value]
    parsed = tuple(as_str(key) for key in keys)
    if not parsed:
        raise ValueError("expected a key or a non-empty list of keys")
    if any(len(key) < _MIN_KEY_LENGTH for key in parsed):
        raise ValueError(
            f"each key must be at least {_MIN_KEY_LENGTH} characters "
            "(use 32 random bytes, e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return parsed


def as_origins(value: Any) -> tuple[str, ...]:
    """Web origins (``https://app.example.com``, ``http://127.0.0.1:3000``) or ``*``: a
    list, or one string of comma-separated origins (as an environment variable gives)."""
    items = value if isinstance(value, list | tuple) else as_str(value).split(",")
    origins = []
    for item in items:
        origin = as_str(item).strip().rstrip("/").lower()
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ValueError(f"expected origins such as https://app.example.com or *, not {item!r}")
        origins.append(origin)
    return tuple(origins)


#: The section keys of signed URLs, added by the registry to every backend that
#: cannot presign natively (docs/configuration.md documents them).
OPTIONS: Mapping[str, Option] = {
    "base_url": Option(
        optional(as_base_url), None, doc="URL under which objstore.server serves this store"
    ),
    "signing_key": Option(
        optional(as_signing_keys),
        None,
        secret=True,
        doc="HMAC key for signed URLs, or a list: the first signs, all verify",
    ),
    "max_upload_size": Option(
        as_size, _defaults.MAX_UPLOAD_SIZE, doc="largest body a signed PUT may carry"
    ),
    "cors_origins": Option(
        optional(as_origins), None, doc="web origins allowed to use the signed URLs (CORS)"
    ),
}


# -- signing and checking -----------------------------------------------------------------------


class Refused(Exception):  # noqa: N818 - an answer, not a fault
    """A request whose signature does not hold; ``reason`` is safe to send back."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedUrls:
    """Signs and checks the URLs of one store.

    Attributes:
        section: The configuration section the settings come from (for messages).
        base_url: Where the server runs, without trailing ``/``; ``None`` if unset.
        signing_keys: The keys, first one signing; never shown in ``repr``.
        max_upload_size: The largest body a signed ``PUT`` may carry.
        cors_origins: The web origins allowed to use the URLs (``*``: any).
    """

    section: str
    base_url: str | None
    signing_keys: tuple[str, ...] = field(default=(), repr=False)
    max_upload_size: int = _defaults.MAX_UPLOAD_SIZE
    cors_origins: tuple[str, ...] = ()

    @property
    def missing(self) -> str | None:
        """Why this store cannot sign (the keys to set), or ``None`` when it can."""
        unset = [name for name, value in self._required() if not value]
        if not unset:
            return None
        names = " and ".join(f"{self.section}.{name}" for name in unset)
        return f"set {names} in the configuration to use signed URLs (SPEC §8)"

    @property
    def base_path(self) -> str:
        """The decoded path of ``base_url`` without trailing ``/`` (``""`` at the root)."""
        return unquote(urlsplit(self.base_url or "").path).rstrip("/")

    def sign(self, key: str, method: str, expires: int, content_type: str | None) -> str:
        """A URL granting ``method`` on ``key`` for ``expires`` seconds from now.

        Raises:
            UnsupportedOperationError: ``base_url`` or ``signing_key`` is not set.
        """
        if self.missing is not None or self.base_url is None:
            raise UnsupportedOperationError(
                f"the {self.section} backend cannot presign: {self.missing}",
                key=key,
                backend=self.section,
            )
        expires_at = int(time.time()) + expires
        query = {EXPIRES: str(expires_at)}
        if content_type is not None:
            query[CONTENT_TYPE] = content_type
        query[SIGNATURE] = self._digest(self.signing_keys[0], method, key, expires_at, content_type)
        return f"{self.base_url}/{quote(key, safe='/')}?{urlencode(query, quote_via=quote)}"

    def verify(self, method: str, key: str, query: str, now: float | None = None) -> str | None:
        """Check a request's signature and expiry; return the content type it binds.

        ``method`` is the request's (``HEAD`` is checked as ``GET``). ``None``
        means the URL binds no content type.

        Raises:
            Refused: the query is malformed, the signature does not match with any
                key, or the URL has expired.
        """
        params = _signature_params(query)
        expires_at = int(params[EXPIRES])
        content_type = params.get(CONTENT_TYPE)
        signed = "GET" if method == "HEAD" else method
        given = params[SIGNATURE]
        matched = False
        for secret in self.signing_keys:  # every key, so timing tells nothing about which
            expected = self._digest(secret, signed, key, expires_at, content_type)
            matched |= hmac.compare_digest(expected, given)
        if not matched:
            raise Refused("the signature does not match this request")
        if (time.time() if now is None else now) > expires_at:
            raise Refused("the URL has expired")
        return content_type

    def _required(self) -> Sequence[tuple[str, object]]:
        return (("base_url", self.base_url), ("signing_key", self.signing_keys))

    def _digest(
        self, secret: str, method: str, key: str, expires_at: int, content_type: str | None
    ) -> str:
        fields = (_VERSION, method, self.base_path, key, str(expires_at), content_type or "")
        message = "\n".join(fields).encode("utf-8")
        return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def find(backend: object) -> SignedUrls | None:
    """The signed-URL settings of a stack of layers, or ``None`` when it has none."""
    layer: object | None = backend
    while layer is not None:
        settings = getattr(layer, "signed_urls", None)
        if isinstance(settings, SignedUrls):
            return settings
        layer = getattr(layer, "inner", None)
    return None


def cannot_presign(backend: object, name: str) -> str:
    """Why a store whose backend is ``backend`` (named ``name``) cannot presign."""
    settings = find(backend)
    if settings is not None and settings.missing is not None:
        return f"the {name} backend cannot presign: {settings.missing}"
    return (
        f"the {name} backend cannot presign URLs natively; set {name}.base_url and "
        f"{name}.signing_key in the configuration to use objstore's signed URLs (SPEC §8)"
    )


def _signature_params(query: str) -> dict[str, str]:
    """The signature's parameters of a query string; anything malformed is refused."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise Refused("the query string is malformed") from None
    ours = (EXPIRES, CONTENT_TYPE, SIGNATURE)
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in ours:
            if name in params:
                raise Refused(f"{name} is given twice")
            params[name] = value
    if SIGNATURE not in params or EXPIRES not in params:
        raise Refused("the URL is not signed (no signature or expiry)")
    if not _HEX_DIGEST.fullmatch(params[SIGNATURE]) or not _UNIX_TIME.fullmatch(params[EXPIRES]):
        raise Refused("the signature or expiry is malformed")
    return params
