"""Turning S3's answers into objstore values, and objstore's write modes into S3 arguments."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from heapq import merge
from types import MappingProxyType
from typing import Any

from .._models import CommonPrefix, ObjectInfo
from ..backend import Create, Update, WriteMode
from ..errors import KeyConflictError, NotFoundError, ObjstoreError, PreconditionFailedError
from ._s3_errors import error_code
from ._s3_metadata import decode_metadata


class SourceChangedError(Exception):
    """The copy source changed between reading its description and copying it."""


def conditions(mode: WriteMode) -> dict[str, str]:
    """The PutObject / CompleteMultipartUpload arguments that carry ``mode``'s condition."""
    if isinstance(mode, Create):
        return {"IfNoneMatch": "*"}
    if isinstance(mode, Update):
        return {"IfMatch": f'"{mode.etag}"'}
    return {}


def missing_class(mode: WriteMode) -> type[ObjstoreError]:
    """The error for "no such key" during a write in ``mode``."""
    # S3 answers If-Match on a missing key with 404 NoSuchKey: for a put, that is
    # a condition that did not hold.
    return PreconditionFailedError if isinstance(mode, Update) else NotFoundError


@contextlib.contextmanager
def source_pinned() -> Iterator[None]:
    """Turn a 412 on ``CopySourceIfMatch`` into a retry of the whole copy."""
    try:
        yield
    except Exception as exc:
        if error_code(exc)[1] == 412:
            raise SourceChangedError from exc
        raise


def written_info(
    key: str, size: int, answer: Mapping[str, Any], content_type: str, metadata: Mapping[str, str]
) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=size,
        etag=strip_etag(answer["ETag"]),
        last_modified=server_time(answer),
        content_type=content_type,
        metadata=MappingProxyType(dict(metadata)),
    )


def described_info(
    key: str, answer: Mapping[str, Any], size: int, drop: frozenset[str] = frozenset()
) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=size,
        etag=strip_etag(answer.get("ETag", "")),
        last_modified=utc(answer.get("LastModified")) or server_time(answer),
        content_type=answer.get("ContentType") or "application/octet-stream",
        metadata=MappingProxyType(decode_metadata(answer.get("Metadata", {}), drop)),
    )


def page_items(page: Mapping[str, Any]) -> Iterator[ObjectInfo | CommonPrefix]:
    objects = [
        ObjectInfo(
            key=item["Key"],
            size=int(item.get("Size", 0)),
            etag=strip_etag(item.get("ETag", "")),
            last_modified=utc(item.get("LastModified")) or datetime.now(UTC),
        )
        for item in page.get("Contents", [])
    ]
    prefixes = [CommonPrefix(item["Prefix"]) for item in page.get("CommonPrefixes", [])]
    # Each list is sorted; S3 returns them apart, the contract wants them merged.
    return merge(sorted(objects, key=item_key), sorted(prefixes, key=item_key), key=item_key)


def item_key(item: ObjectInfo | CommonPrefix) -> str:
    return item.key


def strip_etag(raw: str) -> str:
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw


def utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def server_time(answer: Mapping[str, Any]) -> datetime:
    """The server's clock at the answer (its ``Date`` header), for writes S3 does not date."""
    date = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    with contextlib.suppress(TypeError, ValueError):
        if date:
            return parsedate_to_datetime(date).astimezone(UTC)
    return datetime.now(UTC)


def changed(key: str, etag: str) -> PreconditionFailedError:
    return PreconditionFailedError(
        f"{key!r} changed: it no longer has etag {etag!r}", key=key, backend="s3"
    )


def conflict(key: str, why: str) -> KeyConflictError:
    return KeyConflictError(
        f"cannot store {key!r}: {why}, and this server cannot hold a key beside keys below "
        "it (a and a/b)",
        key=key,
        backend="s3",
    )
