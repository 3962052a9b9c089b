"""The in-memory backend: the reference implementation of the contract.

Thread-safe; every operation holds one lock for the few instructions it needs,
never while calling back into user code or yielding a listing page.
"""

from __future__ import annotations

import bisect
import builtins
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from .._listing import common_prefix, prefix_end
from .._models import Capabilities, CommonPrefix, ObjectInfo
from .._payload import Payload
from ..backend import BackendBase, WriteMode, check_write
from ..errors import NotFoundError, PreconditionFailedError

_PAGE = 1000


@dataclass(frozen=True, slots=True)
class _Entry:
    data: bytes
    info: ObjectInfo


class _BytesStream:
    def __init__(self, data: bytes, start: int, end: int, info: ObjectInfo):
        self.info = info
        self._view = memoryview(data)[start:end]

    def read(self, n: int) -> bytes:
        piece, self._view = self._view[:n], self._view[n:]
        return bytes(piece)

    def close(self) -> None:
        self._view = memoryview(b"")


class MemoryBackend(BackendBase):
    """Objects in a dict, keys in a sorted list; etags are a per-store token and a version.

    Its calls never block (beyond a short lock), so ``AsyncStore`` runs them on the
    event loop directly (``blocking = False``) instead of in its worker pool.
    """

    name = "memory"
    blocking = False
    capabilities = Capabilities(conditional_put=True, server_side_copy=True, batch_delete=True)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._keys: list[str] = []
        self._version = 0
        self._token = os.urandom(4).hex()  # etags of two stores never collide

    def __repr__(self) -> str:
        return f"MemoryBackend(objects={len(self._entries)})"

    def put(
        self,
        key: str,
        payload: Payload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        data = b"".join(payload.chunks())
        payload.seal()
        with self._lock:
            self._check_mode(key, mode)
            return self._store(key, data, content_type, metadata)

    def get(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> _BytesStream:
        entry = self._entry(key)
        if if_match is not None and entry.info.etag != if_match:
            raise PreconditionFailedError(f"{key!r} changed", key=key, backend=self.name)
        end = len(entry.data) if length is None else offset + length
        return _BytesStream(entry.data, offset, end, entry.info)

    def stat(self, key: str) -> ObjectInfo:
        return self._entry(key).info

    def delete(self, key: str) -> None:
        with self._lock:
            self._remove(key)

    def delete_many(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._remove(key)

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        with self._lock:
            source = self._entries.get(src_key)
            if source is None:
                raise NotFoundError(f"no object {src_key!r}", key=src_key, backend=self.name)
            self._check_mode(dst_key, mode)
            info = source.info
            return self._store(dst_key, source.data, info.content_type or "", info.metadata or {})

    def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> Iterator[ObjectInfo | CommonPrefix]:
        end = prefix_end(prefix)
        if start_after is not None and start_after >= prefix:
            bound, inclusive = start_after, False
        else:
            bound, inclusive = prefix, True
        while page := self._page(bound, inclusive, end):
            group: str | None = None
            for info in page:
                if group is not None and info.key.startswith(group):
                    continue
                group = common_prefix(info.key, prefix, delimiter)
                yield info if group is None else CommonPrefix(group)
            last = page[-1].key
            if group is not None and last.startswith(group):
                # The group may go on for many pages: jump past all of it.
                skip = prefix_end(group)
                if skip is None:
                    return
                bound, inclusive = skip, True
            else:
                bound, inclusive = last, False

    def _page(self, after: str, inclusive: bool, end: str | None) -> builtins.list[ObjectInfo]:
        with self._lock:
            keys = self._keys
            start = (bisect.bisect_left if inclusive else bisect.bisect_right)(keys, after)
            stop = len(keys) if end is None else bisect.bisect_left(keys, end, start)
            stop = min(stop, start + _PAGE)
            return [self._entries[k].info for k in keys[start:stop]]

    def _entry(self, key: str) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            raise NotFoundError(f"no object {key!r}", key=key, backend=self.name)
        return entry

    def _check_mode(self, key: str, mode: WriteMode) -> None:
        current = self._entries.get(key)
        check_write(key, mode, None if current is None else current.info.etag, self.name)

    def _store(
        self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str]
    ) -> ObjectInfo:
        # Every write is a new version, so a compare-and-swap can tell two writes of
        # equal content apart; no hashing, so big puts stay cheap on an event loop.
        self._version += 1
        info = ObjectInfo(
            key=key,
            size=len(data),
            etag=f"{self._token}-{self._version:x}",
            last_modified=datetime.now(UTC),
            content_type=content_type,
            metadata=MappingProxyType(dict(metadata)),
        )
        if key not in self._entries:
            bisect.insort(self._keys, key)
        self._entries[key] = _Entry(data, info)
        return info

    def _remove(self, key: str) -> None:
        if self._entries.pop(key, None) is not None:
            del self._keys[bisect.bisect_left(self._keys, key)]
