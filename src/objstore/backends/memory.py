"""The in-memory backend: the reference implementation of the contract.

Thread-safe; every operation holds one lock for the few instructions it needs,
never while calling back into user code or yielding a listing page. It is also
the reference of the native asyncio face (``AsyncBackend``): ``AsyncStore`` awaits
its ``a*`` methods on the event loop, which never block.
"""

from __future__ import annotations

import asyncio
import bisect
import builtins
import os
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from .._listing import common_prefix, prefix_end
from .._models import Capabilities, CommonPrefix, ObjectInfo
from .._payload import AsyncPayload, Payload
from ..backend import BackendBase, WriteMode, check_write
from ..errors import NotFoundError, PreconditionFailedError

_PAGE = 1000


@dataclass(frozen=True, slots=True)
class _Entry:
    data: bytes | bytearray  # a bytearray only when this backend built it: never mutated
    info: ObjectInfo


class _BytesStream:
    def __init__(self, data: bytes | bytearray, start: int, end: int, info: ObjectInfo):
        self.info = info
        self._view = memoryview(data)[start:end]

    def read(self, n: int) -> bytes:
        piece, self._view = self._view[:n], self._view[n:]
        return bytes(piece)

    def close(self) -> None:
        self._view = memoryview(b"")


class _AsyncBytesStream:
    def __init__(self, stream: _BytesStream):
        self.info = stream.info
        self._stream = stream

    async def read(self, n: int) -> bytes:
        await asyncio.sleep(0)  # nothing here ever suspends: give other tasks a turn
        return self._stream.read(n)

    async def aclose(self) -> None:
        self._stream.close()


class MemoryBackend(BackendBase):
    """Objects in a dict, keys in a sorted list; etags are a per-store token and a version.

    Its calls never block (beyond a short lock), so ``AsyncStore`` runs them on the
    event loop directly (``blocking = False``) instead of in its worker pool.
    """

    name = "memory"
    reports_retries = False  # nothing to retry: the store need not tally attempts
    blocking = False
    native_async = True
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

    # -- the async face: the same calls, which never block ----------------------------------

    async def aput(
        self,
        key: str,
        payload: AsyncPayload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        data = bytearray()  # owned here and never handed out: stored as it is, no final copy
        async for chunk in payload.chunks():
            data += chunk
            await asyncio.sleep(0)
        payload.seal()
        with self._lock:
            self._check_mode(key, mode)
            return self._store(key, data, content_type, metadata)

    async def aget(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> _AsyncBytesStream:
        return _AsyncBytesStream(self.get(key, offset=offset, length=length, if_match=if_match))

    async def astat(self, key: str) -> ObjectInfo:
        await asyncio.sleep(0)
        return self.stat(key)

    async def adelete(self, key: str) -> None:
        await asyncio.sleep(0)
        self.delete(key)

    async def alist(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> AsyncIterator[ObjectInfo | CommonPrefix]:
        for count, item in enumerate(
            self.list(prefix, delimiter=delimiter, start_after=start_after), 1
        ):
            yield item
            if count % _PAGE == 0:
                await asyncio.sleep(0)  # a long listing lets the loop breathe between pages

    async def acopy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        return self.copy(src_key, dst_key, mode=mode)

    async def adelete_many(self, keys: Sequence[str]) -> None:
        self.delete_many(keys)

    async def aclose(self) -> None:
        self.close()

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
        self, key: str, data: bytes | bytearray, content_type: str, metadata: Mapping[str, str]
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
