"""``AsyncStore``: the asyncio twin of :class:`~objstore.Store`.

Every check is shared with ``Store`` (``StoreBase``); this module decides where
the I/O runs, by what the backend declares:

- **native** (``native_async``, the memory backend and S3's native transport): the
  backend's ``a*`` methods are awaited on the event loop; no thread at all, except
  to read a caller's synchronous file or generator chunk by chunk.
- **blocking** (the file backend, S3's boto3 transport, most plugins): the shared
  synchronous routines (``_sync_*``) run in a bounded pool owned by the store
  (``max_workers``), never the loop's default executor. An upload fed by an async
  source runs on a thread of its own instead, because it waits on the loop for its
  chunks and those may have to come from the pool (streaming one object of the
  store into another): holding a pool worker while waiting could deadlock.
- **inline** (``blocking = False`` without ``native_async``): the synchronous
  routines run on the loop directly, yielding once after each call.

Work that does no I/O (``presign``) never waits for a worker. A cancelled upload
commits nothing unless the cancellation came after its commit (SPEC §5): the
payload's commit gate (``Payload.seal``) refuses, and the task waits for the
worker to abandon the write before ``CancelledError`` propagates.
"""

from __future__ import annotations

import asyncio
import builtins
import itertools
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any, TypeVar, cast

from . import _checks, _defaults
from ._async_io import (
    AsyncChunkIterator,
    AsyncCursor,
    AsyncObjectReader,
    Bridge,
    PooledCursor,
    Workers,
    async_chunks,
    in_memory,
    is_async_source,
    pulled,
)
from ._async_reader import AsyncRangeCursor
from ._defaults import PRESIGN_EXPIRES
from ._models import CommonPrefix, ObjectInfo
from ._operation import Operation
from ._payload import AsyncPayload, Payload, ProgressCallback, make_payload
from ._store import PutArgs, StoreBase
from ._watched import WatchedAsyncCursor, awatched_items
from .backend import AsyncBackend, AsyncReadStream, Backend, WriteMode
from .errors import NotFoundError

T = TypeVar("T")

_LIST_BATCH = 1000
_INLINE_MAX = 1 << 20  # bigger copies go to the pool even for a non-blocking backend


class AsyncStore(StoreBase):
    """An asyncio object store over one backend; see :class:`~objstore.Store`.

    Args:
        backend: The backend (or layered backend) to use.
        max_workers: Size of the store's own worker pool for blocking work.
    """

    def __init__(self, backend: Backend, *, max_workers: int = _defaults.MAX_WORKERS):
        super().__init__(backend)
        self._workers = Workers(max_workers)
        native = bool(getattr(backend, "native_async", False))
        self._native = cast(AsyncBackend, backend) if native else None
        self._inline = not native and not getattr(backend, "blocking", True)

    async def put(
        self,
        key: str,
        data: bytes | bytearray | memoryview | Any,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectInfo:
        """See :meth:`Store.put`; ``data`` may also be an async iterable of chunks or an
        object with an async ``read(n)`` (an ASGI framework's upload)."""
        args = self._prepare_put(key, content_type, metadata, if_match, if_none_match)
        op = self._watch.start("put", args[0])
        if op is None:
            return await self._put(args, data, progress)
        with op:
            return await self._put(args, data, op.track(progress))

    async def get(self, key: str, *, offset: int = 0, length: int | None = None) -> bytes:
        """See :meth:`Store.get`."""
        read = self._prepare_read(key, offset, length)
        op = self._watch.start("get", read[0])
        if op is None:
            return await self._get(*read)
        with op:
            return op.moved(await self._get(*read))

    def get_stream(
        self, key: str, *, offset: int = 0, length: int | None = None, chunk_size: int = 1 << 20
    ) -> AsyncChunkIterator:
        """See :meth:`Store.get_stream`: an async iterator of chunks (also an async
        context manager). The object is opened at the call, as ``Store.get_stream``
        does; an error such as ``NotFoundError`` surfaces at the first step."""
        chunk_size = _checks.check_chunk_size(chunk_size)
        read = self._prepare_read(key, offset, length)
        op = self._watch.start("get_stream", read[0], stream=True)
        if op is None:
            return AsyncChunkIterator(lambda: self._cursor(*read), chunk_size)
        return AsyncChunkIterator(lambda: self._watched_cursor(op, *read), chunk_size)

    async def open(
        self, key: str, *, offset: int = 0, length: int | None = None
    ) -> AsyncObjectReader:
        """See :meth:`Store.open`: an async reader (``await reader.read(n)``), with ``.info``."""
        read = self._prepare_read(key, offset, length)
        op = self._watch.start("open", read[0], stream=True)
        if op is None:
            return AsyncObjectReader(await self._cursor(*read))
        return AsyncObjectReader(await self._watched_cursor(op, *read))

    async def stat(self, key: str) -> ObjectInfo:
        """See :meth:`Store.stat`."""
        key = self._prepare_key(key)
        op = self._watch.start("stat", key)
        if op is None:
            return await self._stat(key)
        with op:
            return await self._stat(key)

    async def exists(self, key: str) -> bool:
        """See :meth:`Store.exists`."""
        key = self._prepare_key(key)
        op = self._watch.start("exists", key)
        if op is None:
            return await self._exists(key)
        with op:
            return await self._exists(key)

    async def delete(self, key: str) -> None:
        """See :meth:`Store.delete`."""
        key = self._prepare_key(key)
        op = self._watch.start("delete", key)
        if op is None:
            return await self._delete(key)
        with op:
            return await self._delete(key)

    async def delete_many(self, keys: Iterable[str]) -> None:
        """See :meth:`Store.delete_many`."""
        checked = self._prepare_keys(keys)
        op = self._watch.start("delete_many", None)
        if op is None:
            return await self._delete_many(checked)
        with op:
            op.detail["keys"] = len(checked)
            return await self._delete_many(checked)

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, start_after: str | None = None
    ) -> AsyncIterator[ObjectInfo | CommonPrefix]:
        """See :meth:`Store.list`: an async iterator (fetched in batches in the pool when
        the backend blocks)."""
        prefix, args = self._prepare_list(prefix, delimiter, start_after)
        if args is None:
            items = _empty()
        elif self._native is not None:
            items = self._a_list(*args)
        else:
            items = self._pool_list(self._sync_list(*args))
        return awatched_items(self._watch, prefix, items) if self._watch.observed() else items

    async def copy(
        self, src_key: str, dst_key: str, *, if_none_match: str | None = None
    ) -> ObjectInfo:
        """See :meth:`Store.copy`."""
        args = self._prepare_copy(src_key, dst_key, if_none_match)
        op = self._watch.start("copy", args[1])
        if op is None:
            return await self._copy(*args)
        with op:
            op.detail["source_key"] = args[0]
            info = await self._copy(*args)
            op.bytes = info.size
            return info

    async def presign(
        self,
        key: str,
        *,
        method: str = "GET",
        expires: int | timedelta = PRESIGN_EXPIRES,
        content_type: str | None = None,
    ) -> str:
        """See :meth:`Store.presign`. It does no I/O, so it never waits for a worker."""
        key, verb, seconds = self._prepare_presign(key, method, expires, content_type)
        op = self._watch.start("presign", key)
        if op is None:
            return self._sync_presign(key, verb, seconds, content_type)
        with op:
            return self._sync_presign(key, verb, seconds, content_type)

    async def aclose(self) -> None:
        """Release the backend and shut the worker pool down; see :meth:`Store.close`."""
        if self._closed:
            return
        self._closed = True
        self._watch.close()
        try:
            if self._native is not None:
                await self._native.aclose()
            else:
                await self._run(self._backend.close)
        finally:
            self._workers.shutdown()

    async def __aenter__(self) -> AsyncStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- where each operation runs: on the loop, in the pool, or inline ------------------

    async def _put(self, args: PutArgs, data: Any, progress: ProgressCallback | None) -> ObjectInfo:
        if self._native is not None:
            return await self._a_put(args, self._async_payload(data, progress))
        if is_async_source(data):
            return await self._put_async_source(args, data, progress)
        payload = make_payload(data, progress)
        small = isinstance(data, bytes | bytearray | memoryview) and len(data) <= _INLINE_MAX
        return await self._upload(args, payload, inline=self._inline and small)

    async def _get(self, key: str, offset: int, length: int | None) -> bytes:
        if self._native is not None:
            return await (await self._a_open_cursor(key, offset, length)).read_all()
        if not self._inline:
            return await self._run(self._sync_get, key, offset, length)  # one trip to the pool
        cursor = await self._run(self._open_cursor, key, offset, length)
        return await self._run(cursor.read_all, heavy=cursor.remaining > _INLINE_MAX)

    async def _watched_cursor(
        self, op: Operation, key: str, offset: int, length: int | None
    ) -> AsyncCursor:
        with op:
            cursor = await self._cursor(key, offset, length)
        return WatchedAsyncCursor(cursor, op)

    async def _stat(self, key: str) -> ObjectInfo:
        if self._native is not None:
            return await self._a_stat(key)
        return await self._run(self._sync_stat, key)

    async def _exists(self, key: str) -> bool:
        if self._native is None:
            return await self._run(self._sync_exists, key)
        try:
            await self._a_stat(key)
        except NotFoundError:
            return False
        return True

    async def _delete(self, key: str) -> None:
        if self._native is None:
            return await self._run(self._sync_delete, key)
        try:
            await self._native.adelete(key)
        except Exception as exc:
            self._fail(exc, key)

    async def _delete_many(self, checked: builtins.list[str]) -> None:
        if self._native is None:
            return await self._run(self._sync_delete_many, checked)
        try:
            if self._backend.capabilities.batch_delete:
                if checked:
                    await self._native.adelete_many(checked)
                return
            for key in checked:
                await self._native.adelete(key)
        except Exception as exc:
            self._fail(exc, None)

    async def _copy(self, src_key: str, dst_key: str, mode: WriteMode) -> ObjectInfo:
        if self._native is not None:
            return await self._a_copy(src_key, dst_key, mode)
        return await self._run(self._sync_copy, src_key, dst_key, mode)

    # -- native async I/O: the twins of StoreBase's _sync_* routines ---------------------

    def _async_payload(self, data: object, progress: ProgressCallback | None) -> AsyncPayload:
        if is_async_source(data):
            return AsyncPayload(async_chunks(data), None, progress)
        source = make_payload(data)  # checks the type; knows the size
        if isinstance(data, bytes | bytearray | memoryview):
            return AsyncPayload(in_memory(source.chunks()), source.size, progress)
        return AsyncPayload(pulled(source.chunks(), self._workers.run), source.size, progress)

    async def _a_put(self, args: PutArgs, payload: AsyncPayload) -> ObjectInfo:
        assert self._native is not None
        key, content_type, metadata, mode = args
        try:
            return await self._native.aput(
                key, payload, content_type=content_type, metadata=metadata, mode=mode
            )
        except Exception as exc:
            self._fail(exc, key, payload)

    async def _a_stat(self, key: str) -> ObjectInfo:
        assert self._native is not None
        try:
            return await self._native.astat(key)
        except Exception as exc:
            self._fail(exc, key)

    async def _a_open_cursor(self, key: str, offset: int, length: int | None) -> AsyncRangeCursor:
        native = self._native
        assert native is not None

        def reopen(pos: int, remaining: int, etag: str) -> Any:
            return native.aget(key, offset=pos, length=remaining, if_match=etag)

        try:
            stream: AsyncReadStream = await native.aget(key, offset=offset, length=length)
        except Exception as exc:
            self._fail(exc, key)
        return AsyncRangeCursor(key, stream, offset, length, reopen, self._fail, self._name)

    async def _a_list(
        self, prefix: str, delimiter: str | None, start_after: str | None
    ) -> AsyncIterator[ObjectInfo | CommonPrefix]:
        assert self._native is not None
        items = self._native.alist(prefix, delimiter=delimiter, start_after=start_after)
        try:
            async for item in items:
                self._check_open()
                yield item
        except Exception as exc:
            self._fail(exc, None)
        finally:
            close = getattr(items, "aclose", None)
            if close is not None:
                await close()

    async def _a_copy(self, src_key: str, dst_key: str, mode: WriteMode) -> ObjectInfo:
        assert self._native is not None
        if self._backend.capabilities.server_side_copy:
            try:
                return await self._native.acopy(src_key, dst_key, mode=mode)
            except Exception as exc:
                self._fail(exc, src_key)
        cursor = await self._a_open_cursor(src_key, 0, None)
        source = cursor.info
        payload = AsyncPayload(_cursor_chunks(cursor), source.size)
        try:
            content_type = source.content_type or _checks.guess_content_type(dst_key)
            return await self._a_put(
                (dst_key, content_type, dict(source.metadata or {}), mode), payload
            )
        finally:
            await cursor.aclose()

    # -- blocking backends: scheduling ---------------------------------------------------

    async def _cursor(self, key: str, offset: int, length: int | None) -> AsyncCursor:
        if self._native is not None:
            return await self._a_open_cursor(key, offset, length)
        return PooledCursor(await self._run(self._open_cursor, key, offset, length), self._run)

    async def _run(self, function: Callable[..., T], *args: Any, heavy: bool = False) -> T:
        """Run blocking work in the store's pool; inline only for a non-blocking backend
        and work that is not heavy (large copies)."""
        if self._inline and not heavy:
            result = function(*args)
            await asyncio.sleep(0)  # an inline call never suspends: give others a turn
            return result
        return await self._workers.run(function, *args)

    async def _upload(
        self, args: PutArgs, payload: Payload, inline: bool, bridge: Bridge | None = None
    ) -> ObjectInfo:
        if inline:
            info = self._sync_put(args, payload)
            await asyncio.sleep(0)
            return info
        if bridge is None:
            future = self._workers.submit(self._sync_put, args, payload)
        else:
            future = await self._workers.upload(self._sync_put, args, payload)  # see above
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # A thread cannot be interrupted, but its next read, or the commit gate,
            # refuses: the backend then abandons the write. Stop the source first (the
            # thread may be waiting for it), then wait for the thread.
            payload.cancel()
            if bridge is not None:
                await bridge.stop()
            await asyncio.gather(future, return_exceptions=True)
            raise

    async def _put_async_source(
        self, args: PutArgs, data: Any, progress: ProgressCallback | None
    ) -> ObjectInfo:
        if self._inline:
            chunks = []
            async for chunk in async_chunks(data):
                chunks.append(chunk)
                await asyncio.sleep(0)  # the source may never suspend by itself
            small = sum(len(chunk) for chunk in chunks) <= _INLINE_MAX
            return await self._upload(args, make_payload(iter(chunks), progress), inline=small)
        bridge = Bridge(async_chunks(data), asyncio.get_running_loop())
        payload = Payload(bridge.chunks(), None, progress)
        try:
            return await self._upload(args, payload, inline=False, bridge=bridge)
        finally:
            await bridge.stop()

    async def _pool_list(
        self, items: Iterator[ObjectInfo | CommonPrefix]
    ) -> AsyncIterator[ObjectInfo | CommonPrefix]:
        try:
            while batch := await self._run(_take, items, _LIST_BATCH):
                for item in batch:
                    yield item
        finally:
            await self._run(_close_iterator, items)


async def _cursor_chunks(cursor: AsyncRangeCursor, size: int = 1 << 20) -> AsyncIterator[bytes]:
    while chunk := await cursor.read(size):
        yield chunk


def _take(items: Iterator[T], count: int) -> builtins.list[T]:
    return builtins.list(itertools.islice(items, count))


def _close_iterator(items: Iterator[Any]) -> None:
    close = getattr(items, "close", None)
    if close is not None:
        close()


async def _empty() -> AsyncIterator[ObjectInfo | CommonPrefix]:
    return
    yield
