"""Turning S3's answers into objstore values, and objstore's write modes into S3 headers."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from heapq import merge
from types import MappingProxyType

from ..._keys import show_key
from ..._models import CommonPrefix, ObjectInfo
from ...backend import Create, Update, WriteMode
from ...errors import KeyConflictError, NotFoundError, ObjstoreError, PreconditionFailedError
from ._metadata import decode_metadata
from ._ops import Headers, Page, conditions

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
META = "x-amz-meta-"


def mode_headers(mode: WriteMode) -> dict[str, str]:
    """The PutObject / CompleteMultipartUpload headers that carry ``mode``'s condition."""
    if isinstance(mode, Create):
        return conditions(if_none_match="*")
    if isinstance(mode, Update):
        return conditions(if_match=mode.etag)
    return {}


def missing_class(mode: WriteMode) -> type[ObjstoreError]:
    """The error for "no such key" during a write in ``mode``."""
    # S3 answers If-Match on a missing key with 404 NoSuchKey: for a put, that is
    # a condition that did not hold.
    return PreconditionFailedError if isinstance(mode, Update) else NotFoundError


def raw_metadata(headers: Headers) -> dict[str, str]:
    """The ``x-amz-meta-*`` headers of an answer, names without the prefix."""
    return {name[len(META) :]: value for name, value in headers.items() if name.startswith(META)}


def head_info(
    key: str, headers: Headers, size: int, drop: frozenset[str] = frozenset()
) -> ObjectInfo:
    """The description of an object from a HEAD or GET answer's headers."""
    return ObjectInfo(
        key=key,
        size=size,
        etag=strip_etag(headers.get("etag", "")),
        last_modified=http_time(headers.get("last-modified")) or server_time(headers),
        content_type=headers.get("content-type") or "application/octet-stream",
        metadata=MappingProxyType(decode_metadata(raw_metadata(headers), drop)),
    )


def written_info(
    key: str, size: int, etag: str, headers: Headers, content_type: str, metadata: Mapping[str, str]
) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=size,
        etag=strip_etag(etag),
        last_modified=server_time(headers),
        content_type=content_type,
        metadata=MappingProxyType(dict(metadata)),
    )


def page_items(page: Page) -> Iterator[ObjectInfo | CommonPrefix]:
    objects = [
        ObjectInfo(
            key=key, size=size, etag=strip_etag(etag), last_modified=modified or datetime.now(UTC)
        )
        for key, size, etag, modified in page.objects
    ]
    prefixes = [CommonPrefix(prefix) for prefix in page.prefixes]
    # Each list is sorted; S3 returns them apart, the contract wants them merged.
    return merge(sorted(objects, key=item_key), sorted(prefixes, key=item_key), key=item_key)


def item_key(item: ObjectInfo | CommonPrefix) -> str:
    return item.key


def strip_etag(raw: str) -> str:
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw


_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
)}  # fmt: skip


def http_time(value: str | None) -> datetime | None:
    """An HTTP date in UTC; the usual form (``Sat, 28 Nov 2026 10:24:35 GMT``) is read
    by position, anything else by the email package."""
    if not value:
        return None
    with contextlib.suppress(TypeError, ValueError, IndexError, KeyError):
        if len(value) == 29 and value.endswith(" GMT"):
            return datetime(
                int(value[12:16]), _MONTHS[value[8:11]], int(value[5:7]),
                int(value[17:19]), int(value[20:22]), int(value[23:25]), tzinfo=UTC,
            )  # fmt: skip
        return parsedate_to_datetime(value).astimezone(UTC)
    return None


def server_time(headers: Headers) -> datetime:
    """The server's clock at the answer (its ``Date`` header), for writes S3 does not date."""
    return http_time(headers.get("date")) or datetime.now(UTC)


def body_span(content_range: str | None, content_length: int) -> tuple[int, int | None]:
    """Where the body starts in the object, and the object's size if the answer tells it.

    With a ``Content-Range`` the body is that range; without one (HTTP 200, a
    server that ignored ``Range``) it is the whole object from byte 0.
    """
    match = _CONTENT_RANGE.fullmatch(content_range.strip()) if content_range else None
    if match is None:
        return 0, content_length
    total = match.group(3)
    return int(match.group(1)), None if total == "*" else int(total)


def range_header(offset: int, length: int | None) -> str | None:
    """The ``Range`` to request, or ``None`` for the whole object (which never fails on ``b""``)."""
    if length is None:
        return None if offset == 0 else f"bytes={offset}-"
    return f"bytes={offset}-{offset + length - 1}"


def changed(key: str, etag: str) -> PreconditionFailedError:
    return PreconditionFailedError(
        f"{show_key(key)} changed: it no longer has etag {etag!r}", key=key, backend="s3"
    )


def conflict(key: str, why: str) -> KeyConflictError:
    return KeyConflictError(
        f"cannot store {show_key(key)}: {why}, and this server cannot hold a key beside keys "
        "below it (a and a/b)",
        key=key,
        backend="s3",
    )
