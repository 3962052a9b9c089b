"""Where the native transport sends a request, and how it signs it.

:class:`Endpoint` turns an :class:`~._ops.Request` into the URL path, query
and headers of a signed HTTP request (path-style or virtual-hosted), for the
sync and the async client alike. It also reads error answers into
:class:`~._errors.S3AnswerError`, the one place that parses S3's XML errors.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from . import _xml
from ._errors import NotS3Error, S3AnswerError, WireError, scrub
from ._ops import Body, Request
from ._presets import S3Options
from ._signing import EMPTY_SHA256 as EMPTY
from ._signing import UNSIGNED_PAYLOAD, Keys, Signer, encode_path, encode_query

_DNS_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A signed request: what an HTTP client sends."""

    method: str
    scheme: str
    host: str  # the Host header (with a non-default port)
    target: str  # the encoded path and query
    headers: dict[str, str]
    body: Body


class Endpoint:
    """The service's address for one bucket, the region, and the signer; thread-safe."""

    def __init__(self, options: S3Options, region: str, keys: Callable[[], Keys]):
        self.bucket = options.bucket
        self._keys = keys
        self._custom = options.endpoint_url is not None
        parts = urlsplit(options.endpoint_url or "https://s3.amazonaws.com")
        self.scheme = parts.scheme or "https"
        self.hostname = parts.hostname or ""
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self._base = parts.path.rstrip("/")
        self._virtual = _virtual(options.addressing_style, self.bucket, self._custom, self.hostname)
        self._lock = threading.Lock()
        self.region = region
        self._signer = Signer(region)
        self._host = self._host_for(region)

    @property
    def host(self) -> str:
        """The Host header of every request."""
        return self._host

    def _host_for(self, region: str) -> str:
        name = self.hostname if self._custom else f"s3.{region}.amazonaws.com"
        if self._virtual:
            name = f"{self.bucket}.{name}"
        default = 443 if self.scheme == "https" else 80
        return name if self.port == default else f"{name}:{self.port}"

    def display(self) -> str:
        """The endpoint for messages (never with credentials)."""
        return f"{self.scheme}://{self.host}"

    def move_to(self, region: str) -> None:
        """Sign for ``region`` from now on (the service said the bucket lives there)."""
        with self._lock:
            self.region = region
            self._signer = Signer(region)
            self._host = self._host_for(region)

    def path(self, key: str | None) -> str:
        bucket = "" if self._virtual else f"/{self.bucket}"
        if key is None:
            return encode_path(f"{self._base}{bucket}") or "/"
        return encode_path(f"{self._base}{bucket}/{key}")

    def prepare(self, request: Request) -> Prepared:
        """Sign ``request`` now, with the current credentials."""
        path = self.path(request.key)
        headers = {"host": self.host, **request.headers}
        # Bodies are not hashed into the signature, over TLS or not (docs/decisions.md):
        # a SHA-256 pass over every byte would cost more than the request, and on the
        # event loop for asyncio; TLS and the CRC32 checksums carry integrity instead.
        digest = UNSIGNED_PAYLOAD if request.body or request.method in ("PUT", "POST") else EMPTY

        self._signer.sign_headers(
            self._keys(), request.method, path, request.query, headers, digest, datetime.now(UTC)
        )
        target = f"{path}?{encode_query(request.query)}" if request.query else path
        return Prepared(request.method, self.scheme, self.host, target, headers, request.body)

    def presign(self, key: str, method: str, expires: int, headers: Mapping[str, str]) -> str:
        """A presigned URL for ``method`` on ``key``; the client must send ``headers``."""
        path = self.path(key)
        signed = {"host": self.host, **{k.lower(): v for k, v in headers.items()}}
        query = self._signer.presign(
            self._keys(), method, path, [], signed, expires, datetime.now(UTC)
        )
        return f"{self.scheme}://{self.host}{path}?{query}"


def failure(
    status: int, headers: Mapping[str, str], body: bytes, secrets: tuple[str, ...]
) -> WireError:
    """The error an answer with an error status stands for."""
    region = headers.get("x-amz-bucket-region")
    if not body:
        return S3AnswerError("", status, region=region)
    fields = _xml.error_fields(body)
    if fields is not None:
        code, message = fields
        return S3AnswerError(code, status, scrub(message, secrets), region=region)
    if status >= 500 or status == 429:
        return S3AnswerError("", status, region=region)  # a proxy's or balancer's own page
    kind = headers.get("content-type", "no content type").split(";")[0]
    return NotS3Error(f"HTTP {status} with a {kind} body, not an S3 error")


def _virtual(style: str, bucket: str, custom: bool, host: str) -> bool:
    if style != "auto":
        return style == "virtual"
    if custom:
        return False  # S3-compatible services are path-style unless told otherwise
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _DNS_BUCKET.fullmatch(bucket) is not None
    return False
