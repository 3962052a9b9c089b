"""The HTTP side of signed URLs, without I/O: what a request asks and how to answer.

Both apps (WSGI and ASGI) turn a request into a :class:`Request`, ask
:meth:`Router.route` what it is (an answer at once, a :class:`Read` or a
:class:`Write`), do the storage calls their own way (sync or async), and let the
router build every answer. So the two apps agree on every status, header and
refusal, and the checks (path, key, signature, expiry, content type, size,
conditions, ranges, CORS) are written once.
"""

from __future__ import annotations

import http
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Literal

from .. import _checks
from .._keys import key_problem
from .._models import ObjectInfo
from .._signed_urls import Refused, SignedUrls
from .._signed_urls import find as find_signed_urls
from ..errors import (
    ConfigError,
    InsufficientStorageError,
    InvalidKeyError,
    KeyConflictError,
    NotFoundError,
    ObjstoreError,
    PermissionDeniedError,
    PreconditionFailedError,
    StoreClosedError,
    UnavailableError,
    UnsupportedOperationError,
)

log = logging.getLogger("objstore.server")

Headers = list[tuple[str, str]]

CHUNK = 1 << 20  # bytes per body piece, both ways
_METHODS = ("GET", "HEAD", "PUT")
_ALLOW = "GET, HEAD, PUT, OPTIONS"
_CORS_REQUEST_HEADERS = frozenset(
    ("content-type", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
     "if-range", "range")
)  # fmt: skip
_CORS_EXPOSED = "Accept-Ranges, Content-Length, Content-Range, ETag, Last-Modified"
_CORS_MAX_AGE = "3600"
_ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")
_LENGTH = re.compile(r"[0-9]{1,19}")

# Storage errors as answers, most specific first; the text is ours, never the
# exception's, so no path or internal detail reaches the client.
_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (NotFoundError, 404, "no such object"),
    (InvalidKeyError, 404, "no such object"),
    (PreconditionFailedError, 412, "the precondition does not hold"),
    (KeyConflictError, 409, "the key conflicts with an existing key"),
    (PermissionDeniedError, 403, "the store refuses this operation"),
    (InsufficientStorageError, 507, "the store is full"),
    (UnsupportedOperationError, 501, "the store cannot do this"),
    (UnavailableError, 503, "the store is unavailable"),
    (StoreClosedError, 503, "the store is closed"),
)


class UploadFailed(Exception):  # noqa: N818 - an answer for the uploader
    """An upload body that cannot be stored; raised from the body so ``put`` stores nothing."""

    status = 400
    reason = "the request body is incomplete"


class BodyIncomplete(UploadFailed):
    """The client sent less than its ``Content-Length``, or went away."""


class BodyTooLarge(UploadFailed):
    status = 413
    reason = "the body is larger than max_upload_size"


class BodyTimeout(UploadFailed):
    status = 408
    reason = "the client stopped sending the body"


@dataclass(frozen=True)
class Request:
    """What the apps extract from a request.

    Attributes:
        method: Upper-case method.
        path: The full path (mount point included), percent-decoded; ``None`` when
            it is not valid UTF-8.
        query: The raw query string.
        headers: Header values by lower-case name (repeated headers joined by ``,``).
    """

    method: str
    path: str | None
    query: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass(frozen=True)
class Reply:
    """A whole answer: status, headers, a small body."""

    status: int
    headers: Headers
    body: bytes = b""


@dataclass(frozen=True)
class Read:
    """A signed ``GET`` or ``HEAD`` of ``key``."""

    key: str
    head: bool


@dataclass(frozen=True)
class Write:
    """A signed ``PUT`` of ``key``.

    Attributes:
        content_type: The type to store (``None``: guessed from the key).
        if_match: The etag the current object must have; ``"*"``: any object.
        if_none_match: ``"*"``: only if no object has the key.
        length: The body's ``Content-Length``; ``None`` when it is streamed.
        limit: The largest body allowed.
    """

    key: str
    content_type: str | None
    if_match: str | None
    if_none_match: str | None
    length: int | None
    limit: int


@dataclass(frozen=True)
class Body:
    """How to answer a read: status and headers, then ``length`` bytes from ``start``
    (``send`` is false for ``HEAD`` and for answers without a body)."""

    status: int
    headers: Headers
    start: int = 0
    length: int = 0
    send: bool = False
    text: bytes = b""


class Router:
    """Every decision of the signed-URL server, for one store's settings."""

    def __init__(self, settings: SignedUrls):
        self.settings = settings
        self._base = settings.base_path + "/"
        self._origins = frozenset(settings.cors_origins)

    # -- routing ---------------------------------------------------------------------------

    def route(self, request: Request, now: float | None = None) -> Reply | Read | Write:
        """Decide what ``request`` is; refusals come back as a :class:`Reply`."""
        key = self._key(request.path)
        if key is None:
            return self.reply(request, 404, "no such object")
        if request.method == "OPTIONS":
            return self._preflight(request)
        if request.method not in _METHODS:
            return self.reply(request, 405, "method not allowed", [("Allow", _ALLOW)])
        try:
            bound = self.settings.verify(request.method, key, request.query, now)
        except Refused as refused:
            return self.reply(request, 403, refused.reason)
        if request.method == "PUT":
            return self._write(request, key, bound)
        return Read(key, head=request.method == "HEAD")

    def _key(self, path: str | None) -> str | None:
        """The key a path names under ``base_url``'s path; ``None`` if it names none."""
        if path is None or not path.startswith(self._base):
            return None
        key = path[len(self._base) :]
        return key if key_problem(key) is None else None

    def _write(self, request: Request, key: str, bound: str | None) -> Reply | Write:
        content_type = request.header("content-type")
        if bound is not None and content_type != bound:
            return self.reply(request, 403, "the Content-Type differs from the signed one")
        try:
            content_type = _checks.check_content_type(content_type)
        except ValueError:
            return self.reply(request, 400, "the Content-Type is malformed")
        conditions = _write_conditions(request)
        if isinstance(conditions, str):
            return self.reply(request, 400, conditions)
        length = request.header("content-length")
        if length is not None and not _LENGTH.fullmatch(length.strip()):
            return self.reply(request, 400, "the Content-Length is malformed")
        size = int(length) if length is not None else None
        limit = self.settings.max_upload_size
        if size is not None and size > limit:
            return self.reply(request, 413, BodyTooLarge.reason)
        return Write(key, content_type, *conditions, length=size, limit=limit)

    # -- answers ---------------------------------------------------------------------------

    def read(self, request: Request, info: ObjectInfo, head: bool) -> Body:
        """How to answer a ``GET``/``HEAD`` of the object ``info`` describes."""
        headers = self.cors(request) + _object_headers(info)
        refusal = _read_preconditions(request, info)
        if refusal == 304:
            kept = [(name, value) for name, value in headers if name not in _ENTITY_HEADERS]
            return Body(304, kept)
        if refusal == 412:
            return self._short(request, 412, "the precondition does not hold")
        span = None if head else _range(request, info)
        if isinstance(span, str):
            extra = [("Content-Range", f"bytes */{info.size}")]
            return self._short(request, 416, "the range is not satisfiable", extra)
        if span is None:
            headers.append(("Content-Length", str(info.size)))
            return Body(200, headers, 0, info.size, send=not head)
        start, end = span
        headers.append(("Content-Length", str(end - start)))
        headers.append(("Content-Range", f"bytes {start}-{end - 1}/{info.size}"))
        return Body(206, headers, start, end - start, send=True)

    def written(self, request: Request, info: ObjectInfo) -> Reply:
        headers = [*self.cors(request), ("ETag", _quoted(info.etag)), ("Content-Length", "0")]
        headers.append(("Last-Modified", _http_date(info.last_modified)))
        return Reply(200, headers)

    def failed(self, request: Request, exc: BaseException) -> Reply:
        """The answer for a storage error or a refused upload body."""
        if isinstance(exc, UploadFailed):
            return self.reply(request, exc.status, exc.reason)
        for kind, status, reason in _ERRORS:
            if isinstance(exc, kind):
                return self.reply(request, status, reason)
        if isinstance(exc, ObjstoreError):
            log.error("signed URL request failed: %s", type(exc).__name__)
        else:
            log.error("signed URL request failed", exc_info=exc)
        return self.reply(request, 500, "internal error")

    def reply(
        self, request: Request, status: int, reason: str, extra: Headers | None = None
    ) -> Reply:
        """A small plain-text answer."""
        body = _text(status, reason)
        headers = [*self.cors(request), *(extra or []), *_text_headers(body)]
        return Reply(status, headers, body)

    def _short(
        self, request: Request, status: int, reason: str, extra: Headers | None = None
    ) -> Body:
        reply = self.reply(request, status, reason, extra)
        return Body(status, reply.headers, text=reply.body if request.method != "HEAD" else b"")

    # -- CORS ------------------------------------------------------------------------------

    def cors(self, request: Request) -> Headers:
        """The CORS headers of an answer to ``request`` (none for other origins)."""
        origin = request.header("origin")
        allowed = self._allowed(origin)
        if allowed is None:
            return []
        return [
            ("Access-Control-Allow-Origin", allowed),
            ("Access-Control-Expose-Headers", _CORS_EXPOSED),
            ("Vary", "Origin"),
        ]

    def _allowed(self, origin: str | None) -> str | None:
        if origin is None:
            return None
        if origin.lower() in self._origins:
            return origin
        return "*" if "*" in self._origins else None

    def _preflight(self, request: Request) -> Reply:
        method = request.header("access-control-request-method")
        origin = self._allowed(request.header("origin"))
        if method is None:
            return Reply(204, [("Allow", _ALLOW)])
        wanted = [
            name.strip().lower()
            for name in (request.header("access-control-request-headers") or "").split(",")
            if name.strip()
        ]
        if origin is None or method not in _METHODS or not set(wanted) <= _CORS_REQUEST_HEADERS:
            body = _text(403, "CORS preflight refused")
            return Reply(403, _text_headers(body), body)  # no CORS headers: the browser refuses
        headers = [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Methods", "GET, HEAD, PUT"),
            ("Access-Control-Max-Age", _CORS_MAX_AGE),
            ("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        ]
        if wanted:
            headers.append(("Access-Control-Allow-Headers", ", ".join(wanted)))
        return Reply(204, headers)


# -- helpers ---------------------------------------------------------------------------------

_ENTITY_HEADERS = frozenset(("Content-Type", "Accept-Ranges", "Content-Security-Policy"))


def _object_headers(info: ObjectInfo) -> Headers:
    return [
        ("Content-Type", info.content_type or _checks.DEFAULT_CONTENT_TYPE),
        ("ETag", _quoted(info.etag)),
        ("Last-Modified", _http_date(info.last_modified)),
        ("Accept-Ranges", "bytes"),
        # Stored content is the uploader's: never let it run as a page of this origin.
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "sandbox"),
    ]


def _text(status: int, reason: str) -> bytes:
    return f"{status} {http.HTTPStatus(status).phrase}: {reason}\n".encode()


def _text_headers(body: bytes) -> Headers:
    return [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]


def _quoted(etag: str) -> str:
    return f'"{etag}"'


def _http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _entity_tags(value: str) -> list[tuple[bool, str]] | None:
    """``(weak, opaque)`` of each tag in a list such as ``"a", W/"b"``; ``None`` if malformed."""
    tags: list[tuple[bool, str]] = []
    position = 0
    text = value.strip()
    while position < len(text):
        match = _ENTITY_TAG.match(text, position)
        if match is None:
            return None
        tags.append((bool(match.group(1)), match.group(2)))
        position = match.end()
    return tags or None


def _matches(value: str, etag: str, *, weak: bool) -> bool:
    """Whether the header ``value`` (``*`` or a list of tags) matches ``etag``."""
    if value.strip() == "*":
        return True
    tags = _entity_tags(value) or []
    return any(opaque == etag and (weak or not is_weak) for is_weak, opaque in tags)


def _date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else None


def _seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _read_preconditions(request: Request, info: ObjectInfo) -> int | None:
    """304 or 412 when a condition of a read says so (RFC 9110 §13.2.2), else ``None``."""
    if_match = request.header("if-match")
    if if_match is not None:
        if not _matches(if_match, info.etag, weak=False):
            return 412
    else:
        since = _date(request.header("if-unmodified-since"))
        if since is not None and _seconds(info.last_modified) > since:
            return 412
    if_none_match = request.header("if-none-match")
    if if_none_match is not None:
        return 304 if _matches(if_none_match, info.etag, weak=True) else None
    since = _date(request.header("if-modified-since"))
    if since is not None and _seconds(info.last_modified) <= since:
        return 304
    return None


def _range(request: Request, info: ObjectInfo) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """The byte span ``[start, end)`` a ``Range`` asks for, ``"unsatisfiable"``, or
    ``None`` to send the whole object (no range, a malformed or multiple one, or an
    ``If-Range`` that no longer holds)."""
    value = request.header("range")
    if value is None or not _if_range_holds(request.header("if-range"), info):
        return None
    match = _RANGE.fullmatch(value.replace(" ", ""))
    if match is None or not (match.group(1) or match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    size = info.size
    if not first:
        suffix = int(last)
        return (max(0, size - suffix), size) if suffix and size else "unsatisfiable"
    start = int(first)
    if last and int(last) < start:
        return None  # last before first: an invalid range, ignored (RFC 9110 §14.1.1)
    if start >= size:
        return "unsatisfiable"
    return start, min(int(last) + 1, size) if last else size


def _if_range_holds(value: str | None, info: ObjectInfo) -> bool:
    if value is None:
        return True
    if value.lstrip().startswith(('"', "W/")):
        return _matches(value, info.etag, weak=False)
    since = _date(value)
    return since is not None and _seconds(info.last_modified) == since


def _write_conditions(request: Request) -> tuple[str | None, str | None] | str:
    """``(if_match, if_none_match)`` of a ``PUT``, or why they are malformed."""
    if_match = request.header("if-match")
    if_none_match = request.header("if-none-match")
    if if_match is not None and if_none_match is not None:
        return "give If-Match or If-None-Match, not both"
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            return "If-None-Match on a PUT takes only *"
        return None, "*"
    if if_match is None:
        return None, None
    if if_match.strip() == "*":
        return "*", None
    tags = _entity_tags(if_match)
    if tags is None or len(tags) != 1:
        return "If-Match on a PUT takes one entity tag or *"
    weak, opaque = tags[0]
    if weak or not opaque:
        return "If-Match on a PUT takes a strong entity tag"
    return opaque, None


def router_for(backend: object, name: str) -> Router:
    """The router of a store whose backend stack is ``backend`` (named ``name``).

    Raises:
        ConfigError: the store has no signed URLs, or lacks ``base_url`` or
            ``signing_key``.
    """
    settings = find_signed_urls(backend)
    if settings is None:
        raise ConfigError(
            f"this {name} store has no objstore signed URLs to serve: set {name}.base_url and "
            f"{name}.signing_key in its configuration (a backend that presigns natively, "
            "such as s3, hands out URLs of the service itself)",
            backend=name,
        )
    if settings.missing is not None:
        raise ConfigError(f"cannot serve signed URLs: {settings.missing}", backend=name)
    return Router(settings)
