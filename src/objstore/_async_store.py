"""``AsyncStore``: the asyncio twin of :class:`~objstore.Store`.

Every check and every synchronous operation body is shared with ``Store``
(``StoreBase``); this module only decides where the blocking work runs:

- in a bounded thread pool owned by the store (``max_workers``), never the
  loop's default executor, so nothing blocks the event loop; or
- directly on the loop, for a backend that declares ``blocking = False``
  (the memory backend), when the data involved cannot block either.

Async uploads (async iterables, objects with an async ``read(n)``) feed the
synchronous backend through a bounded queue: a task on the loop reads ahead a
few chunks, the worker thread takes them as the backend asks. Cancelling the
awaiting task makes the worker's next read fail, so the backend abandons the
write (temp files removed, multipart uploads aborted) before the cancellation
propagates.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import inspect
import io
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

from . import _checks, _defaults
from ._models import CommonPrefix, ObjectInfo
from ._payload import (
    DEFAULT_CHUNK,
    Payload,
    ProgressCallback,
    UploadCancelled,
    as_bytes,
    make_payload,
)
from ._reader import ObjectReader, RangeCursor
from ._store import PutArgs, StoreBase
from .backend import Backend

T = TypeVar("T")

_READ_AHEAD = 4  # chunks an async upload may hold between the loop and the worker
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
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._inline = not getattr(backend, "blocking", True)

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
        if _is_async_source(data):
            return await self._put_async_source(args, data, progress)
        payload = make_payload(data, progress)
        small = isinstance(data, bytes | bytearray | memoryview) and len(data) <= _INLINE_MAX
        return await self._upload(args, payload, inline=self._inline and small)

    async def get(self, key: str, *, offset: int = 0, length: int | None = None) -> bytes:
        """See :meth:`Store.get`."""
        read = self._prepare_read(key, offset, length)
        if not self._inline:
            return await self._run(self._sync_get, *read)  # one trip to the pool
        cursor = await self._run(self._open_cursor, *read)
        return await self._run(cursor.read_all, heavy=cursor.remaining > _INLINE_MAX)

    def get_stream(
        self, key: str, *, offset: int = 0, length: int | None = None, chunk_size: int = 1 << 20
    ) -> AsyncChunkIterator:
        """See :meth:`Store.get_stream`: an async iterator of chunks (also an async
        context manager). The object is opened at the first chunk."""
        chunk_size = _checks.check_chunk_size(chunk_size)
        return AsyncChunkIterator(self, self._prepare_read(key, offset, length), chunk_size)

    async def open(
        self, key: str, *, offset: int = 0, length: int | None = None
    ) -> AsyncObjectReader:
        """See :meth:`Store.open`: an async reader (``await reader.read(n)``), with ``.info``."""
        cursor = await self._run(self._open_cursor, *self._prepare_read(key, offset, length))
        return AsyncObjectReader(self, ObjectReader(cursor))

    async def stat(self, key: str) -> ObjectInfo:
        """See :meth:`Store.stat`."""
        return await self._run(self._sync_stat, self._prepare_key(key))

    async def exists(self, key: str) -> bool:
        """See :meth:`Store.exists`."""
        return await self._run(self._sync_exists, self._prepare_key(key))

    async def delete(self, key: str) -> None:
        """See :meth:`Store.delete`."""
        await self._run(self._sync_delete, self._prepare_key(key))

    async def delete_many(self, keys: Iterable[str]) -> None:
        """See :meth:`Store.delete_many`."""
        await self._run(self._sync_delete_many, self._prepare_keys(keys))

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, start_after: str | None = None
    ) -> AsyncIterator[ObjectInfo | CommonPrefix]:
        """See :meth:`Store.list`: an async iterator, fetched in batches in the pool."""
        args = self._prepare_list(prefix, delimiter, start_after)
        if args is None:
            return _empty()
        return self._list(self._sync_list(*args))

    async def copy(
        self, src_key: str, dst_key: str, *, if_none_match: str | None = None
    ) -> ObjectInfo:
        """See :meth:`Store.copy`."""
        return await self._run(
            self._sync_copy, *self._prepare_copy(src_key, dst_key, if_none_match)
        )

    async def presign(
        self,
        key: str,
        *,
        method: str = "GET",
        expires: int | timedelta = 3600,
        content_type: str | None = None,
    ) -> str:
        """See :meth:`Store.presign`."""
        key, verb, seconds = self._prepare_presign(key, method, expires, content_type)
        return await self._run(self._sync_presign, key, verb, seconds, content_type)

    async def aclose(self) -> None:
        """Release the backend and shut the worker pool down; see :meth:`Store.close`."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._run(self._backend.close)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=False)

    async def __aenter__(self) -> AsyncStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- scheduling ----------------------------------------------------------------------

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="objstore")
        return self._pool

    async def _run(self, function: Callable[..., T], *args: Any, heavy: bool = False) -> T:
        """Run blocking work in the store's pool; inline only for a non-blocking backend
        and work that is not heavy (large copies)."""
        if self._inline and not heavy:
            result = function(*args)
            await asyncio.sleep(0)  # an inline call never suspends: give others a turn
            return result
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), functools.partial(function, *args))

    async def _upload(
        self,
        args: PutArgs,
        payload: Payload,
        inline: bool,
        stop_source: Callable[[], Awaitable[None]] | None = None,
    ) -> ObjectInfo:
        if inline:
            info = self._sync_put(args, payload)
            await asyncio.sleep(0)
            return info
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor(), self._sync_put, args, payload)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # A worker cannot be interrupted, but its next read can fail: then the
            # backend abandons the write. Stop the source first (the worker may be
            # waiting for it), then wait for the worker, so nothing is left behind.
            payload.cancel()
            if stop_source is not None:
                await stop_source()
            await asyncio.gather(future, return_exceptions=True)
            raise

    async def _put_async_source(
        self, args: PutArgs, data: Any, progress: ProgressCallback | None
    ) -> ObjectInfo:
        if self._inline:
            chunks = []
            async for chunk in _async_chunks(data):
                chunks.append(chunk)
                await asyncio.sleep(0)  # the source may never suspend by itself
            small = sum(len(chunk) for chunk in chunks) <= _INLINE_MAX
            return await self._upload(args, make_payload(iter(chunks), progress), inline=small)
        bridge = _Bridge(_async_chunks(data), asyncio.get_running_loop())
        payload = Payload(bridge.chunks(), None, progress)
        try:
            return await self._upload(args, payload, inline=False, stop_source=bridge.stop)
        finally:
            await bridge.stop()

    async def _list(
        self, items: Iterator[ObjectInfo | CommonPrefix]
    ) -> AsyncIterator[ObjectInfo | CommonPrefix]:
        try:
            while batch := await self._run(_take, items, _LIST_BATCH):
                for item in batch:
                    yield item
        finally:
            await self._run(_close_iterator, items)


class AsyncChunkIterator:
    """``AsyncStore.get_stream``'s result: ``async for chunk in ...``; ``aclose()`` it or
    use ``async with`` when you stop early. ``info`` is set once the object is open."""

    def __init__(self, store: AsyncStore, read: tuple[str, int, int | None], chunk_size: int):
        self.info: ObjectInfo | None = None
        self._store = store
        self._read = read
        self._chunk_size = chunk_size
        self._cursor: RangeCursor | None = None
        self._done = False

    def __aiter__(self) -> AsyncChunkIterator:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        if self._cursor is None:
            self._cursor = await self._store._run(self._store._open_cursor, *self._read)
            self.info = self._cursor.info
        chunk = await self._store._run(self._cursor.read, self._chunk_size)
        if not chunk:
            await self.aclose()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        self._done = True
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            await self._store._run(cursor.close)

    async def __aenter__(self) -> AsyncChunkIterator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        if self._cursor is not None:
            self._cursor.close()


class AsyncObjectReader:
    """``AsyncStore.open``'s result: an async, seekable binary reader with ``.info``.

    Each read runs in the store's pool. Positions are relative to the opened
    range, as for :class:`~objstore.ObjectReader`.
    """

    def __init__(self, store: AsyncStore, reader: ObjectReader):
        self.info: ObjectInfo = reader.info
        self._store = store
        self._reader = reader

    async def read(self, size: int = -1) -> bytes:
        return await self._store._run(self._reader.read, size)

    async def readline(self, size: int = -1) -> bytes:
        return await self._store._run(self._reader.readline, size)

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return await self._store._run(self._reader.seek, offset, whence)

    def tell(self) -> int:
        return self._reader.tell()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._reader.closed

    async def aclose(self) -> None:
        await self._store._run(self._reader.close)

    async def __aenter__(self) -> AsyncObjectReader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _End:
    """The bridge's last item: the end of the data, or why there is no more."""

    def __init__(self, error: BaseException | None = None):
        self.error = error


class _Bridge:
    """An async source read ahead on the loop, handed to a worker thread chunk by chunk.

    Memory is bounded by ``_READ_AHEAD`` chunks, whatever the object's size.
    """

    def __init__(self, source: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._queue: asyncio.Queue[bytes | _End] = asyncio.Queue(_READ_AHEAD)
        self._task = loop.create_task(self._produce(source))

    async def _produce(self, source: AsyncIterator[bytes]) -> None:
        try:
            async for chunk in source:
                await self._queue.put(chunk)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await self._queue.put(_End(exc))
            return
        await self._queue.put(_End())

    def chunks(self) -> Iterator[bytes]:
        """Runs in the worker thread: blocks on the loop's queue, never the other way."""
        while True:
            future: Future[bytes | _End] = asyncio.run_coroutine_threadsafe(
                self._queue.get(), self._loop
            )
            item = future.result()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item

    async def stop(self) -> None:
        """Stop reading ahead, and wake a worker still waiting for a chunk."""
        if not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_End(UploadCancelled("the upload was cancelled")))


def _is_async_source(data: object) -> bool:
    if hasattr(data, "__aiter__"):
        return True
    return inspect.iscoroutinefunction(getattr(data, "read", None))


async def _async_chunks(data: Any) -> AsyncIterator[bytes]:
    if hasattr(data, "__aiter__"):
        async for chunk in data:
            yield as_bytes(chunk)
        return
    while chunk := await data.read(DEFAULT_CHUNK):
        yield as_bytes(chunk)


def _take(items: Iterator[T], count: int) -> builtins.list[T]:
    return builtins.list(itertools.islice(items, count))


def _close_iterator(items: Iterator[Any]) -> None:
    close = getattr(items, "close", None)
    if close is not None:
        close()


async def _empty() -> AsyncIterator[ObjectInfo | CommonPrefix]:
    return
    yield
