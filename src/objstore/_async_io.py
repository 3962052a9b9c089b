"""The moving parts of ``AsyncStore``: where blocking work runs, and async readers.

- :class:`Workers`: the store's own bounded thread pool (never the loop's default
  executor), and :meth:`Workers.upload`, a dedicated thread for an upload that waits
  on the event loop for its data (it must not hold a pool worker while it waits: the
  chunks may have to come from that very pool). Such threads are bounded too
  (:class:`Slots`): an upload beyond the bound waits on the loop, holding nothing.
- :class:`AsyncCursor`: what ``get_stream`` and ``open`` read from. Native async
  backends give an :class:`~objstore._async_reader.AsyncRangeCursor`; blocking ones
  a :class:`PooledCursor`, which runs a synchronous cursor's reads in the pool.
- :class:`AsyncChunkIterator` and :class:`AsyncObjectReader`, the results of
  ``get_stream`` and ``open``.
- :class:`Bridge`: an async source read ahead on the loop, handed to a thread chunk
  by chunk, in bounded memory.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import inspect
import io
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from ._models import ObjectInfo
from ._payload import DEFAULT_CHUNK, UploadCancelled, as_bytes
from ._reader import CursorOver, Positioned, RangeCursor

T = TypeVar("T")

READ_AHEAD = 4  # chunks an async upload may hold between the loop and its thread


#: uploads fed by async sources that may run at once, per worker of the pool
UPLOADS_PER_WORKER = 4


class Workers:
    """A bounded pool of threads for blocking work, created on first use, and a bounded
    number of threads for uploads that wait on the loop for their data.

    Work runs in a copy of the caller's context: ``run_in_executor`` alone would
    not carry context variables into the thread (``asyncio.to_thread`` does), and
    the operation's retry tally and OpenTelemetry span live there.
    """

    def __init__(self, max_workers: int):
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self.uploads = Slots(UPLOADS_PER_WORKER * max_workers)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    async def upload(self, function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Start ``function`` on a thread of its own once an upload slot is free; the slot
        is held until the thread ends, whatever happens to the awaiting task."""
        await self.uploads.acquire()
        future = in_thread(function, *args)
        future.add_done_callback(lambda _: self.uploads.release())
        return future

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        return await self.submit(function, *args)

    def submit(self, function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Start ``function`` in the pool now; the caller awaits (or shields) the future."""
        loop = asyncio.get_running_loop()
        work = functools.partial(contextvars.copy_context().run, function, *args)
        return loop.run_in_executor(self._executor(), work)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="objstore")
        return self._pool


class Slots:
    """A counting semaphore that callers on any event loop (and thread) may share.

    ``asyncio.Semaphore`` belongs to the loop that first waits on it; a store may be
    used from several loops in turn (two ``asyncio.run`` calls), so waiters here are
    futures of their own loops, woken thread-safely.
    """

    def __init__(self, limit: int):
        self._free = limit
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._lock = threading.Lock()

    async def acquire(self) -> None:
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                    raise
            if not waiter.cancelled():
                self.release()  # granted, then cancelled before the slot could be used
            raise  # (a grant still on its way finds the waiter cancelled: it passes it on)

    def release(self) -> None:
        with self._lock:
            if not self._waiters:
                self._free += 1
                return
            waiter = self._waiters.popleft()
        waiter.get_loop().call_soon_threadsafe(self._grant, waiter)

    def _grant(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done():  # cancelled meanwhile: pass the slot on
            self.release()
        else:
            waiter.set_result(None)


def in_thread(function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Run ``function`` on a thread of its own; the future resolves on the calling loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def body() -> None:
        try:
            result = function(*args)
        except BaseException as exc:  # handed to the awaiting task, never lost
            error = exc
            loop.call_soon_threadsafe(settle, lambda: future.set_exception(error))
        else:
            loop.call_soon_threadsafe(settle, lambda: future.set_result(result))

    context = contextvars.copy_context()  # the operation's tally and span, as in the pool
    threading.Thread(target=context.run, args=(body,), name="objstore-upload", daemon=True).start()
    return future


# -- cursors ----------------------------------------------------------------------------------


class AsyncCursor(Positioned, Protocol):
    """A range of one object version, read with awaits (see ``RangeCursor``)."""

    async def read(self, n: int) -> bytes: ...

    async def seek(self, pos: int) -> None: ...

    async def aclose(self) -> None: ...

    def close_now(self) -> None:
        """Release what can be released without awaiting (for ``__del__``)."""
        ...


class PooledCursor(CursorOver):
    """A synchronous :class:`RangeCursor` whose reads run in the store's pool."""

    def __init__(self, cursor: RangeCursor, run: Callable[..., Awaitable[Any]]):
        super().__init__(cursor)
        self._cursor = cursor
        self._run = run

    async def read(self, n: int) -> bytes:
        data: bytes = await self._run(self._cursor.read, n)
        return data

    async def seek(self, pos: int) -> None:
        await self._run(self._cursor.seek, pos)

    async def aclose(self) -> None:
        await self._run(self._cursor.close)

    def close_now(self) -> None:
        self._cursor.close()


class AsyncChunkIterator:
    """``AsyncStore.get_stream``'s result: ``async for chunk in ...``; ``aclose()`` it or
    use ``async with`` when you stop early.

    The object is opened at the call, as ``Store.get_stream`` does; since the call
    is not awaited, an error (``NotFoundError``) surfaces at the first step.
    ``info`` is set once the object is open.
    """

    def __init__(self, opener: Callable[[], Awaitable[AsyncCursor]], chunk_size: int):
        self.info: ObjectInfo | None = None
        self._chunk_size = chunk_size
        self._cursor: AsyncCursor | None = None
        self._done = False
        self._opener = opener
        self._opening: asyncio.Future[AsyncCursor] | None = None
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # created outside a loop: open at the first step instead
        self._open()

    def _open(self) -> asyncio.Future[AsyncCursor]:
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._opener())
            self._opening.add_done_callback(_retrieve)
        return self._opening

    def __aiter__(self) -> AsyncChunkIterator:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        if self._cursor is None:
            try:
                self._cursor = await self._open()
            except BaseException:
                self._done = True
                raise
            self.info = self._cursor.info
        chunk = await self._cursor.read(self._chunk_size)
        if not chunk:
            await self.aclose()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        """Release the file or connection; harmless when called again."""
        self._done = True
        cursor, self._cursor = self._cursor, None
        opening, self._opening = self._opening, None
        if cursor is None and opening is not None:
            if not opening.done():
                opening.cancel()
            await asyncio.gather(opening, return_exceptions=True)
            cursor = _opened(opening)
        if cursor is not None:
            await cursor.aclose()

    async def __aenter__(self) -> AsyncChunkIterator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        if self._done:
            return
        opening = self._opening
        cursor = self._cursor or (_opened(opening) if opening is not None else None)
        if cursor is not None:
            cursor.close_now()
        elif opening is not None and not opening.done():
            opening.add_done_callback(_close_when_open)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark an eager open's error as seen: it is raised at the first step, if any."""
    if not future.cancelled():
        future.exception()


def _opened(future: asyncio.Future[AsyncCursor]) -> AsyncCursor | None:
    """The cursor an open produced, or ``None`` if it failed, was cancelled or runs."""
    if not future.done() or future.cancelled() or future.exception() is not None:
        return None
    return future.result()


def _close_when_open(future: asyncio.Future[AsyncCursor]) -> None:
    cursor = _opened(future)
    if cursor is not None:
        cursor.close_now()


class AsyncObjectReader:
    """``AsyncStore.open``'s result: an async, seekable binary reader with ``.info``.

    Positions are relative to the opened range, as for :class:`~objstore.ObjectReader`.
    """

    def __init__(self, cursor: AsyncCursor):
        self.info: ObjectInfo = cursor.info
        self._cursor = cursor
        self._buffer = b""
        self._closed = False

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all that is left when negative)."""
        self._check()
        left = self._cursor.end - self._cursor.pos + len(self._buffer)
        size = left if size is None or size < 0 else min(size, left)
        parts, have = [self._buffer[:size]], min(size, len(self._buffer))
        self._buffer = self._buffer[have:]
        while have < size:
            data = await self._cursor.read(size - have)
            if not data:
                break
            parts.append(data)
            have += len(data)
        return b"".join(parts)

    async def readline(self, size: int = -1) -> bytes:
        """Read up to and including the next ``b"\\n"`` (at most ``size`` bytes)."""
        self._check()
        limit = size if size is not None and size >= 0 else None
        while b"\n" not in self._buffer and (limit is None or len(self._buffer) < limit):
            data = await self._cursor.read(DEFAULT_CHUNK // 16)
            if not data:
                break
            self._buffer += data
        end = self._buffer.find(b"\n") + 1 or len(self._buffer)
        if limit is not None:
            end = min(end, limit)
        line, self._buffer = self._buffer[:end], self._buffer[end:]
        return line

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check()
        size = self._cursor.end - self._cursor.start
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.tell(), io.SEEK_END: size}[whence]
        target = base + offset
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._buffer = b""
        await self._cursor.seek(self._cursor.start + target)
        return target

    def tell(self) -> int:
        return self._cursor.pos - self._cursor.start - len(self._buffer)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._buffer = b""
            await self._cursor.aclose()

    async def __aenter__(self) -> AsyncObjectReader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _check(self) -> None:
        if self._closed:
            raise ValueError("I/O operation on a closed reader")


# -- async sources ----------------------------------------------------------------------------


class _End:
    """The bridge's last item: the end of the data, or why there is no more."""

    def __init__(self, error: BaseException | None = None):
        self.error = error


class Bridge:
    """An async source read ahead on the loop, handed to a thread chunk by chunk.

    Memory is bounded by ``READ_AHEAD`` chunks, whatever the object's size.
    """

    def __init__(self, source: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._queue: asyncio.Queue[bytes | _End] = asyncio.Queue(READ_AHEAD)
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
        """Runs in the upload's thread: blocks on the loop's queue, never the other way."""
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
        """Stop reading ahead, and wake a thread still waiting for a chunk."""
        if not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_End(UploadCancelled("the upload was cancelled")))


def is_async_source(data: object) -> bool:
    if hasattr(data, "__aiter__"):
        return True
    return inspect.iscoroutinefunction(getattr(data, "read", None))


async def async_chunks(data: Any) -> AsyncIterator[bytes]:
    """The chunks of an async iterable, or of an object with an async ``read(n)``."""
    if hasattr(data, "__aiter__"):
        async for chunk in data:
            yield as_bytes(chunk)
        return
    while chunk := await data.read(DEFAULT_CHUNK):
        yield as_bytes(chunk)


async def pulled(
    chunks: Iterator[bytes | memoryview], run: Callable[..., Awaitable[Any]]
) -> AsyncIterator[bytes | memoryview]:
    """A synchronous source (a file, a generator) read chunk by chunk in the pool."""
    end = object()
    while (chunk := await run(next, chunks, end)) is not end:
        yield chunk


async def in_memory(chunks: Iterator[bytes | memoryview]) -> AsyncIterator[bytes | memoryview]:
    """Slices of data already in memory: nothing to wait for."""
    for chunk in chunks:
        yield chunk
