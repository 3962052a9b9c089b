"""Parallel ranged reads of big objects, delivered in order in bounded memory.

A read of a whole object (or of a range of at least ``PARALLEL_READ_THRESHOLD``)
starts with a GetObject of its first ``part_size`` bytes; the answer tells the
object's size and etag. When more is left, :class:`ParallelStream` (threads)
or :class:`AsyncParallelStream` (tasks) fetch the rest in ``part_size`` ranges,
``max_concurrency`` at a time, each pinned by ``If-Match`` to that etag, and
hand the bytes out in order: at most ``max_concurrency`` ranges are held or in
flight. A range that fails makes the stream raise ``UnavailableError`` (the
store resumes from where the reader is, pinned to the etag); a changed object
raises ``PreconditionFailedError``.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..._models import ObjectInfo
from ...errors import UnavailableError
from ._errors import WireError

Fetch = Callable[[int, int], list[bytes]]  # the bytes [start, end) of the pinned version
AsyncFetch = Callable[[int, int], Awaitable[list[bytes]]]
PIECE = 1 << 20  # ranges are read and held in pieces: nothing joins a whole range


def ranges(start: int, end: int, step: int) -> deque[tuple[int, int]]:
    return deque((at, min(end, at + step)) for at in range(start, end, step))


class ParallelStream:
    """``first`` (an open stream up to ``start``), then ``[start, end)`` fetched in parallel."""

    def __init__(self, first: Any, fetch: Fetch, start: int, end: int, step: int, limit: int):
        self.info: ObjectInfo = first.info
        self._first: Any = first
        self._fetch = fetch
        self._todo = ranges(start, end, step)
        self._limit = limit
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: deque[Future[list[bytes]]] = deque()
        self._buffer: deque[memoryview] = deque()

    def read(self, n: int) -> bytes:
        if self._first is not None:
            self._fill()  # the ranges start while the first part is read
            data: bytes = self._first.read(n)
            if data:
                return data
            self._first.close()
            self._first = None
        if not self._buffer:
            if not self._inflight:
                return b""
            self._buffer.extend(map(memoryview, self._result(self._inflight.popleft())))
            self._fill()
        return take(self._buffer, n)

    def _fill(self) -> None:
        while self._todo and len(self._inflight) < self._limit:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._limit, thread_name_prefix="objstore-s3-get")
            start, end = self._todo.popleft()
            # in a copy of the reader's context: the operation's retry tally and span
            work = contextvars.copy_context().run
            self._inflight.append(self._pool.submit(work, self._fetch, start, end))

    def _result(self, future: Future[list[bytes]]) -> list[bytes]:
        try:
            return future.result()
        except (WireError, UnavailableError) as exc:
            self.close()
            raise dropped(self.info) from exc
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._first is not None:
            self._first.close()
            self._first = None
        self._todo.clear()
        for future in self._inflight:
            future.cancel()
        self._inflight.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class AsyncParallelStream:
    """The asyncio twin of :class:`ParallelStream`: tasks on the loop instead of threads."""

    def __init__(self, first: Any, fetch: AsyncFetch, start: int, end: int, step: int, limit: int):
        self.info: ObjectInfo = first.info
        self._first: Any = first
        self._fetch = fetch
        self._todo = ranges(start, end, step)
        self._limit = limit
        self._inflight: deque[asyncio.Task[list[bytes]]] = deque()
        self._buffer: deque[memoryview] = deque()

    async def read(self, n: int) -> bytes:
        if self._first is not None:
            self._fill()
            data: bytes = await self._first.read(n)
            if data:
                return data
            await self._first.aclose()
            self._first = None
        if not self._buffer:
            if not self._inflight:
                return b""
            self._buffer.extend(map(memoryview, await self._result(self._inflight.popleft())))
            self._fill()
        return take(self._buffer, n)

    def _fill(self) -> None:
        while self._todo and len(self._inflight) < self._limit:
            start, end = self._todo.popleft()
            self._inflight.append(asyncio.ensure_future(self._fetch(start, end)))

    async def _result(self, task: asyncio.Task[list[bytes]]) -> list[bytes]:
        try:
            return await task
        except (WireError, UnavailableError) as exc:
            await self.aclose()
            raise dropped(self.info) from exc
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._first is not None:
            await self._first.aclose()
            self._first = None
        self._todo.clear()
        tasks, self._inflight = list(self._inflight), deque()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def take(buffer: deque[memoryview], n: int) -> bytes:
    """Up to ``n`` bytes from the front of ``buffer``, at most one piece's worth."""
    view = buffer.popleft()
    if len(view) > n:
        buffer.appendleft(view[n:])
        view = view[:n]
    return bytes(view)


def dropped(info: ObjectInfo) -> UnavailableError:
    return UnavailableError(
        f"s3: a range of {info.key!r} could not be read", key=info.key, backend="s3"
    )
