"""The S3 operations the backend uses, as values: what to send, and how to read the answer.

Each operation is a small frozen dataclass. ``request()`` gives the HTTP
request the native transport signs and sends, ``answer()`` reads the HTTP
answer into a typed result; the boto3 transport (:mod:`._boto3`) makes the same
call through boto3 and builds the same result. The backend's logic yields
these values and never knows which transport runs them.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote, unquote_plus

from . import _xml
from ._errors import NotS3Error, S3AnswerError

T = TypeVar("T")
Headers = Mapping[str, str]  # an answer's headers, names in lowercase


class Pieces:
    """A request body kept in the pieces it was read in: asyncio uploads never join a part
    on the event loop, and send it in slices (``bytes`` elsewhere)."""

    def __init__(self, views: list[memoryview]):
        self.views = views
        self.size = sum(len(view) for view in views)

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def tobytes(self) -> bytes:
        return b"".join(self.views)


Body = bytes | Pieces


@dataclass(slots=True)
class Request:
    """One HTTP request to the bucket, before signing.

    Attributes:
        key: The object's key, or ``None`` for the bucket itself.
        query: Decoded query parameters, in order.
        headers: Lowercase names.
    """

    method: str
    key: str | None
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: Body = b""


@dataclass(slots=True)
class Reply:
    """One HTTP answer: status, headers (lowercase names), and the body when read whole
    (``stream`` instead: the transport's own stream of a GetObject body)."""

    status: int
    headers: Headers
    body: bytes = b""
    stream: Any = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of ListObjectsV2: ``(key, size, etag, last_modified)`` and common prefixes."""

    objects: list[tuple[str, int, str, datetime | None]]
    prefixes: list[str]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class Copied:
    etag: str
    last_modified: datetime | None
    headers: Headers


class Op(Generic[T]):
    """An S3 operation returning ``T``."""

    name = "S3"
    streamed = False  # the answer's body is handed over unread (GetObject)

    def request(self) -> Request:
        raise NotImplementedError

    def answer(self, reply: Reply) -> T:
        raise NotImplementedError


def conditions(if_match: str | None = None, if_none_match: str | None = None) -> dict[str, str]:
    out = {}
    if if_match is not None:
        out["if-match"] = f'"{if_match}"'
    if if_none_match is not None:
        out["if-none-match"] = if_none_match
    return out


def crc32(data: Body, known: int | None = None) -> str:
    """``x-amz-checksum-crc32``: the base64 of the big-endian CRC32 (``known``: already
    computed, as async uploads do while reading, so the event loop never hashes a part)."""
    value = known
    if value is None:
        views = data.views if isinstance(data, Pieces) else [data]
        value = 0
        for view in views:
            value = zlib.crc32(view, value)
    return base64.b64encode(value.to_bytes(4, "big")).decode("ascii")


def metadata_headers(metadata: Mapping[str, str]) -> dict[str, str]:
    return {f"x-amz-meta-{name}": value for name, value in metadata.items()}


# -- objects ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeadObject(Op[Headers]):
    key: str
    if_match: str | None = None
    name = "HeadObject"

    def request(self) -> Request:
        return Request("HEAD", self.key, headers=conditions(self.if_match))

    def answer(self, reply: Reply) -> Headers:
        return reply.headers


@dataclass(frozen=True, slots=True)
class GetObject(Op[Reply]):
    """The answer's ``body`` stays unread: the transport hands over its own stream."""

    key: str
    range: str | None = None
    if_match: str | None = None
    name = "GetObject"
    streamed = True

    def request(self) -> Request:
        headers = conditions(self.if_match)
        if self.range is not None:
            headers["range"] = self.range
        return Request("GET", self.key, headers=headers)

    def answer(self, reply: Reply) -> Reply:
        return reply


@dataclass(frozen=True, slots=True)
class PutObject(Op[Headers]):
    key: str
    body: Body
    headers: Mapping[str, str]  # content type, metadata and conditions
    checksum: bool = False
    crc: int | None = None  # the body's CRC32 if already known
    name = "PutObject"

    def request(self) -> Request:
        headers = dict(self.headers)
        if self.checksum:
            headers["x-amz-checksum-crc32"] = crc32(self.body, self.crc)
        return Request("PUT", self.key, headers=headers, body=self.body)

    def answer(self, reply: Reply) -> Headers:
        return reply.headers


@dataclass(frozen=True, slots=True)
class DeleteObject(Op[None]):
    key: str
    name = "DeleteObject"

    def request(self) -> Request:
        return Request("DELETE", self.key)

    def answer(self, reply: Reply) -> None:
        return None


@dataclass(frozen=True, slots=True)
class DeleteObjects(Op[list[tuple[str, str]]]):
    """Answers the ``(key, code)`` of each key it could not delete."""

    keys: Sequence[str]
    name = "DeleteObjects"

    def request(self) -> Request:
        body = _xml.delete_request(self.keys)
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        headers = {"content-md5": md5, "content-type": "application/xml"}
        return Request("POST", None, [("delete", "")], headers, body)

    def answer(self, reply: Reply) -> list[tuple[str, str]]:
        root = _root(reply, self.name)
        return [
            (_xml.text(error, "Key"), _xml.text(error, "Code"))
            for error in _xml.children(root, "Error")
        ]


@dataclass(frozen=True, slots=True)
class ListObjectsV2(Op[Page]):
    prefix: str
    delimiter: str | None = None
    start_after: str | None = None
    token: str | None = None
    max_keys: int | None = None
    name = "ListObjectsV2"

    def request(self) -> Request:
        query = [("list-type", "2"), ("prefix", self.prefix), ("encoding-type", "url")]
        for name, value in (
            ("delimiter", self.delimiter),
            ("start-after", self.start_after),
            ("continuation-token", self.token),
            ("max-keys", None if self.max_keys is None else str(self.max_keys)),
        ):
            if value is not None:
                query.append((name, value))
        return Request("GET", None, query)

    def answer(self, reply: Reply) -> Page:
        root = _root(reply, self.name)
        encoded = _xml.text(root, "EncodingType") == "url"
        decode = unquote_plus if encoded else str
        objects = []
        for item in _xml.children(root, "Contents"):
            fields = _xml.fields(item)
            objects.append(
                (
                    decode(fields.get("Key", "")),
                    int(fields.get("Size") or 0),
                    fields.get("ETag", ""),
                    iso_time(fields.get("LastModified", "")),
                )
            )
        prefixes = [
            decode(_xml.text(item, "Prefix")) for item in _xml.children(root, "CommonPrefixes")
        ]
        truncated = _xml.text(root, "IsTruncated").lower() == "true"
        token = _xml.text(root, "NextContinuationToken") or None
        return Page(objects, prefixes, token if truncated else None)


@dataclass(frozen=True, slots=True)
class CopyObject(Op[Copied]):
    """A server-side copy pinned to the source's etag; ``headers`` replace the
    metadata (``REPLACE``) when given, else it is copied."""

    key: str
    source: str
    source_etag: str
    bucket: str
    headers: Mapping[str, str] | None = None
    name = "CopyObject"

    def request(self) -> Request:
        headers = copy_source(self.bucket, self.source, self.source_etag)
        if self.headers is None:
            headers["x-amz-metadata-directive"] = "COPY"
        else:
            headers["x-amz-metadata-directive"] = "REPLACE"
            headers.update(self.headers)
        return Request("PUT", self.key, headers=headers)

    def answer(self, reply: Reply) -> Copied:
        root = _root(reply, self.name)
        etag = _xml.text(root, "ETag")
        return Copied(etag, iso_time(_xml.text(root, "LastModified")), reply.headers)


def copy_source(bucket: str, key: str, etag: str) -> dict[str, str]:
    return {
        "x-amz-copy-source": quote(f"{bucket}/{key}", safe="/~"),
        "x-amz-copy-source-if-match": f'"{etag}"',
    }


# -- multipart uploads --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateMultipartUpload(Op[str]):
    """Answers the upload id."""

    key: str
    headers: Mapping[str, str]  # content type, metadata, kept headers
    checksum: bool = False
    name = "CreateMultipartUpload"

    def request(self) -> Request:
        headers = dict(self.headers)
        if self.checksum:
            headers["x-amz-checksum-algorithm"] = "CRC32"
        return Request("POST", self.key, [("uploads", "")], headers)

    def answer(self, reply: Reply) -> str:
        upload_id = _xml.text(_root(reply, self.name), "UploadId")
        if not upload_id:
            raise NotS3Error(f"{self.name} answered no UploadId")
        return upload_id


@dataclass(frozen=True, slots=True)
class UploadPart(Op[dict[str, str]]):
    """Answers the part's entry for CompleteMultipartUpload."""

    key: str
    upload_id: str
    number: int
    body: Body
    checksum: bool = False
    crc: int | None = None  # the body's CRC32 if already known
    name = "UploadPart"

    def request(self) -> Request:
        query = [("partNumber", str(self.number)), ("uploadId", self.upload_id)]
        headers = {"x-amz-checksum-crc32": crc32(self.body, self.crc)} if self.checksum else {}
        return Request("PUT", self.key, query, headers, self.body)

    def answer(self, reply: Reply) -> dict[str, str]:
        part = {"PartNumber": str(self.number), "ETag": reply.headers.get("etag", "")}
        if self.checksum and "x-amz-checksum-crc32" in reply.headers:
            part["ChecksumCRC32"] = reply.headers["x-amz-checksum-crc32"]
        return part


@dataclass(frozen=True, slots=True)
class UploadPartCopy(Op[dict[str, str]]):
    key: str
    upload_id: str
    number: int
    bucket: str
    source: str
    source_etag: str
    first: int = 0
    last: int = -1  # -1: the whole source
    name = "UploadPartCopy"

    def request(self) -> Request:
        query = [("partNumber", str(self.number)), ("uploadId", self.upload_id)]
        headers = copy_source(self.bucket, self.source, self.source_etag)
        if self.last >= 0:
            headers["x-amz-copy-source-range"] = f"bytes={self.first}-{self.last}"
        return Request("PUT", self.key, query, headers)

    def answer(self, reply: Reply) -> dict[str, str]:
        etag = _xml.text(_root(reply, self.name), "ETag")
        return {"PartNumber": str(self.number), "ETag": etag}


@dataclass(frozen=True, slots=True)
class CompleteMultipartUpload(Op[Copied]):
    key: str
    upload_id: str
    parts: Sequence[dict[str, str]]
    headers: Mapping[str, str] = field(default_factory=dict)  # conditions
    name = "CompleteMultipartUpload"

    def request(self) -> Request:
        body = _xml.complete_request(self.parts)
        return Request("POST", self.key, [("uploadId", self.upload_id)], dict(self.headers), body)

    def answer(self, reply: Reply) -> Copied:
        root = _root(reply, self.name)
        return Copied(_xml.text(root, "ETag"), None, reply.headers)


@dataclass(frozen=True, slots=True)
class AbortMultipartUpload(Op[None]):
    key: str
    upload_id: str
    name = "AbortMultipartUpload"

    def request(self) -> Request:
        return Request("DELETE", self.key, [("uploadId", self.upload_id)])

    def answer(self, reply: Reply) -> None:
        return None


@dataclass(frozen=True, slots=True)
class HeadBucket(Op[None]):
    name = "HeadBucket"

    def request(self) -> Request:
        return Request("HEAD", None)

    def answer(self, reply: Reply) -> None:
        return None


# -- reading answers ----------------------------------------------------------------------------


def _root(reply: Reply, operation: str) -> Any:
    """The XML root of a successful answer; S3 may answer 200 with an ``<Error>`` body."""
    try:
        root = _xml.parse(reply.body)
    except _xml.NotXmlError as exc:
        raise NotS3Error(f"{operation} answered HTTP {reply.status} with {exc}") from None
    if _xml.local(root.tag) == "Error":
        # CopyObject and CompleteMultipartUpload fail this way after a 200: retried
        code, message = _xml.text(root, "Code"), _xml.text(root, "Message")
        raise S3AnswerError(code or "InternalError", 500, message)
    return root


def iso_time(text: str) -> datetime | None:
    """An ISO 8601 time of an XML answer (``2024-01-01T00:00:00.000Z``) in UTC."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
