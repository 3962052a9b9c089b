"""AWS Signature Version 4 for S3: header auth and presigned (query) auth.

Byte-identical to botocore's ``S3SigV4Auth`` and ``S3SigV4QueryAuth`` for the
same request (tests/backends/test_s3_signing.py proves it with Hypothesis),
without botocore's per-request machinery. The signing key, four chained
HMACs, depends only on the secret, the day and the region, so it is derived
once per day and region and cached; a signature then costs one SHA-256 of the
canonical request and one HMAC.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SERVICE = "s3"
# Headers that proxies and HTTP libraries may change: never signed (botocore's list).
UNSIGNED_HEADERS = frozenset(
    {"baggage", "connection", "expect", "keep-alive", "proxy-authenticate",
     "proxy-authorization", "te", "traceparent", "tracestate", "trailer",
     "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Keys:
    """One set of credentials, as read at the moment of signing (never shown)."""

    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:
        return f"Keys(access_key={self.access_key!r})"


_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~/-]*")
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def encode_path(path: str) -> str:
    """Percent-encode an S3 path as S3 and botocore do: everything but ``A-Za-z0-9-._~/``."""
    return path if _PLAIN_PATH.fullmatch(path) else quote(path, safe="/~")


def encode(value: str) -> str:
    """Percent-encode a query name or value: everything but ``A-Za-z0-9-._~``."""
    return value if _PLAIN.fullmatch(value) else quote(value, safe="-_.~")


def encode_query(pairs: Iterable[tuple[str, str]]) -> str:
    """A query string in the order given, each name and value percent-encoded."""
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in pairs)


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """The canonical query string: encoded pairs sorted by name, then value."""
    encoded = sorted((encode(k), encode(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


_last_stamp: tuple[datetime, str] = (datetime.min, "")


def timestamp(now: datetime) -> str:
    """The SigV4 time stamp (``20240101T000000Z``) of an aware UTC datetime."""
    global _last_stamp  # noqa: PLW0603 - one string per second, for many signatures
    last, stamp = _last_stamp
    if now.replace(microsecond=0) == last:
        return stamp
    stamp = (
        f"{now.year:04d}{now.month:02d}{now.day:02d}T"
        f"{now.hour:02d}{now.minute:02d}{now.second:02d}Z"
    )
    _last_stamp = (now.replace(microsecond=0), stamp)
    return stamp


class Signer:
    """Signs requests for one region; thread-safe, with the signing key cached per day."""

    def __init__(self, region: str):
        self.region = region
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], bytes] = {}
        self._last_auth: tuple[tuple[object, ...], list[tuple[str, str]], str] | None = None

    def sign_headers(
        self,
        keys: Keys,
        method: str,
        path: str,
        query: Iterable[tuple[str, str]],
        headers: dict[str, str],
        payload_hash: str,
        now: datetime,
    ) -> None:
        """Add ``x-amz-date``, ``x-amz-content-sha256``, the token and ``Authorization``.

        ``headers`` (lowercase names, ``host`` included) are signed as they are,
        but for those in :data:`UNSIGNED_HEADERS`; ``path`` is the encoded path.
        """
        stamp = timestamp(now)
        headers["x-amz-date"] = stamp
        if keys.token:
            headers["x-amz-security-token"] = keys.token
        headers["x-amz-content-sha256"] = payload_hash
        names = sorted(name for name in headers if name not in UNSIGNED_HEADERS)
        signed = ";".join(names)
        canonical = _canonical_request(
            method, path, canonical_query(query), headers, names, signed, payload_hash
        )
        scope = self._scope(stamp)
        signature = self._signature(keys, stamp, scope, canonical)
        headers["authorization"] = (
            f"{ALGORITHM} Credential={keys.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )

    def presign(
        self,
        keys: Keys,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: Mapping[str, str],
        expires: int,
        now: datetime,
    ) -> str:
        """The query string of a presigned URL (operation parameters, then auth, then signature).

        ``headers`` (lowercase, ``host`` included) are the ones the client must send.
        """
        stamp = timestamp(now)
        names = sorted(headers)
        signed = ";".join(names)
        auth, canonical_auth = self._auth_query(keys, stamp, expires, signed)
        if query:
            encoded = [(encode(k), encode(v)) for k, v in query]
            canonical_query = "&".join(f"{k}={v}" for k, v in sorted(encoded + auth))
        else:
            canonical_query = canonical_auth
        canonical = _canonical_request(
            method, path, canonical_query, headers, names, signed, UNSIGNED_PAYLOAD
        )
        signature = self._signature(keys, stamp, self._scope(stamp), canonical)
        operation = encode_query(query) + "&" if query else ""
        given = "&".join(f"{k}={v}" for k, v in auth)
        return f"{operation}{given}&X-Amz-Signature={signature}"

    def _auth_query(
        self, keys: Keys, stamp: str, expires: int, signed: str
    ) -> tuple[list[tuple[str, str]], str]:
        """The encoded auth parameters, in botocore's order and in canonical order; the
        same within one second, so presigning many URLs builds them once."""
        memo = (keys.access_key, keys.token, stamp, expires, signed)
        if self._last_auth is not None and self._last_auth[0] == memo:
            return self._last_auth[1], self._last_auth[2]
        auth = [
            ("X-Amz-Algorithm", ALGORITHM),
            ("X-Amz-Credential", _encoded(f"{keys.access_key}/{self._scope(stamp)}")),
            ("X-Amz-Date", stamp),
            ("X-Amz-Expires", str(expires)),
            ("X-Amz-SignedHeaders", _encoded(signed)),
        ]
        if keys.token is not None:
            auth.append(("X-Amz-Security-Token", _encoded(keys.token)))
        canonical = "&".join(f"{k}={v}" for k, v in sorted(auth))
        self._last_auth = (memo, auth, canonical)
        return auth, canonical

    def _scope(self, stamp: str) -> str:
        return f"{stamp[:8]}/{self.region}/{SERVICE}/aws4_request"

    def _signature(self, keys: Keys, stamp: str, scope: str, canonical: str) -> str:
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{digest}"
        key = self._signing_key(keys.secret_key, stamp[:8])
        return hmac.digest(key, to_sign.encode("utf-8"), "sha256").hex()

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached = self._cache.get((secret, day))
        if cached is not None:
            return cached
        key = _hmac(f"AWS4{secret}".encode(), day)
        for part in (self.region, SERVICE, "aws4_request"):
            key = _hmac(key, part)
        with self._lock:
            if len(self._cache) >= 8:  # rotated secrets and past days
                self._cache.clear()
            self._cache[(secret, day)] = key
        return key


@functools.lru_cache(maxsize=64)
def _encoded(value: str) -> str:
    """:func:`encode`, remembered: the credential scope changes once a day."""
    return encode(value)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.digest(key, message.encode("utf-8"), "sha256")


def _canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    names: list[str],
    signed: str,
    payload_hash: str,
) -> str:
    """SigV4's canonical request: ``query`` canonical already, ``names`` the sorted
    headers to sign (``signed`` joined by ``;``)."""
    lines = "".join(f"{name}:{_trim(headers[name])}\n" for name in names)
    return "\n".join((method, path, query, lines, signed, payload_hash))


def _trim(value: str) -> str:
    # SigV4's Trimall, exactly as botocore applies it
    return " ".join(value.split())
