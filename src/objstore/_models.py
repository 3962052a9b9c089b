"""The values stores hand back: object descriptions, listing prefixes, capabilities."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a store knows about one object.

    Attributes:
        key: The object's key.
        size: Its length in bytes.
        etag: An opaque, non-empty version tag without quotes; it changes whenever
            the content changes and is the same in ``put``'s result, ``stat``,
            ``get``'s info and ``list``.
        last_modified: When the object was last written, timezone-aware UTC.
        content_type: The media type; ``None`` only in listings that do not carry it.
        metadata: User metadata; ``None`` only in listings that do not carry it.
    """

    key: str
    size: int
    etag: str
    last_modified: datetime
    content_type: str | None = None
    metadata: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class CommonPrefix:
    """A group of keys collapsed by a listing delimiter; ``key`` ends in the delimiter."""

    key: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend does natively.

    Attributes:
        presign: ``presign`` returns URLs (native, or through the signed-URL server).
        conditional_put: ``if_match`` / ``if_none_match`` are honoured race-free;
            without it they raise ``UnsupportedOperationError``.
        server_side_copy: ``copy`` moves no data through this process.
        batch_delete: ``delete_many`` uses one request for many keys.
        multipart: large uploads go up in parallel parts.
        nested_keys: a key and keys below it (``a`` and ``a/b``) can coexist;
            without it the second raises ``KeyConflictError``.
    """

    presign: bool = False
    conditional_put: bool = False
    server_side_copy: bool = False
    batch_delete: bool = False
    multipart: bool = False
    nested_keys: bool = True
