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
_PIECE = 1 << 20


class _Pieces:
    """Gathers a payload into immutable pieces of ``_PIECE`` bytes.

    An object is never one buffer grown to its full size: growing one reallocates and
    copies it whole, and faults in fresh pages, tens of milliseconds for 64 MiB on an
    event loop. Here no step copies more than the chunk at hand.
    """

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._pending = bytearray()

    def add(self, chunk: bytes | memoryview) -> None:
        view = memoryview(chunk)
        while view:
            if not self._pending and len(view) >= _PIECE:
                self._pieces.append(bytes(view[:_PIECE]))
                view = view[_PIECE:]
                continue
            room = _PIECE - len(self._pending)
            self._pending += view[:room]
            view = view[room:]
            if len(self._pending) == _PIECE:
                self._pieces.append(bytes(self._pending))
                self._pending = bytearray()

    def done(self) -> tuple[bytes, ...]:
        if self._pending:
            self._pieces.append(bytes(self._pending))
        return tuple(self._pieces)


@dataclass(frozen=True, slots=True)
class _Entry:
    pieces: tuple[bytes, ...]  # every piece _PIECE bytes long but the last
    info: ObjectInfo


class _BytesStream:
    def __init__(self, pieces: tuple[bytes, ...], start: int, end: int, info: ObjectInfo):
        self.info = info
        self._pieces = pieces
        self._at = start
        self._end = min(end, info.size)

    def read(self, n: int) -> bytes:
        parts = []
        while n > 0 and self._at < self._end:
            piece, lo = self._pieces[self._at // _PIECE], self._at % _PIECE
            part = piece[lo : lo + min(n, self._end - self._at)]  # the piece itself if whole
            parts.append(part)
            self._at += len(part)
            n -= len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        self._at = self._end


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
        pieces = _Pieces()
        for chunk in payload.chunks():
            pieces.add(chunk)
        payload.seal()
        with self._lock:
            self._check_mode(key, mode)
            return self._store(key, pieces.done(), content_type, metadata)

    def get(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> _BytesStream:
        entry = self._entry(key)
        if if_match is not None and entry.info.etag != if_match:
            raise PreconditionFailedError(f"{key!r} changed", key=key, backend=self.name)
        end = entry.info.size if length is None else offset + length
        return _BytesStream(entry.pieces, offset, end, entry.info)

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
            return self._store(dst_key, source.pieces, info.content_type or "", info.metadata or {})

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
        pieces = _Pieces()
        async for chunk in payload.chunks():
            pieces.add(chunk)
            await asyncio.sleep(0)
        payload.seal()
        with self._lock:
            self._check_mode(key, mode)
            return self._store(key, pieces.done(), content_type, metadata)

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
        self, key: str, pieces: tuple[bytes, ...], content_type: str, metadata: Mapping[str, str]
    ) -> ObjectInfo:
        # Every write is a new version, so a compare-and-swap can tell two writes of
        # equal content apart; no hashing, so big puts stay cheap on an event loop.
        self._version += 1
        info = ObjectInfo(
            key=key,
            size=sum(map(len, pieces)),
            etag=f"{self._token}-{self._version:x}",
            last_modified=datetime.now(UTC),
            content_type=content_type,
            metadata=MappingProxyType(dict(metadata)),
        )
        if key not in self._entries:
            bisect.insort(self._keys, key)
        self._entries[key] = _Entry(pieces, info)
        return info

    def _remove(self, key: str) -> None:
        if self._entries.pop(key, None) is not None:
            del self._keys[bisect.bisect_left(self._keys, key)]
