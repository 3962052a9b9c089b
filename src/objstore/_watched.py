"""Streams that report to an :class:`~objstore._operation.Operation`: the observed
``get_stream``, ``open`` and ``list``, for both twins.

A stream's operation starts at the call and finishes at the first of: an error,
the end of the data (``get_stream`` and ``list``), ``close``/``aclose``, or the
garbage collection of the stream; so its event counts the bytes (or items)
actually moved, however far the caller read. The wrappers exist only while
something observes the store: an unobserved store hands out the plain streams.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

from ._async_io import AsyncCursor
from ._operation import Operation, Watch
from ._reader import Cursor, CursorOver

T = TypeVar("T")


class WatchedCursor(CursorOver):
    """A :class:`~objstore._reader.Cursor` whose reads count toward ``op``; closing it
    (the iterator or reader over it is closed) finishes ``op``."""

    def __init__(self, cursor: Cursor, op: Operation):
        super().__init__(cursor)
        self._cursor = cursor
        self._op = op

    def read(self, n: int) -> bytes:
        with self._op as op:
            return op.moved(self._cursor.read(n))

    def seek(self, pos: int) -> None:
        self._cursor.seek(pos)

    def close(self) -> None:
        self._cursor.close()
        self._op.finish()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit, logging may be gone
            self._op.finish()


class WatchedAsyncCursor(CursorOver):
    """The asyncio twin of :class:`WatchedCursor` (an ``AsyncCursor``)."""

    def __init__(self, cursor: AsyncCursor, op: Operation):
        super().__init__(cursor)
        self._cursor = cursor
        self._op = op

    async def read(self, n: int) -> bytes:
        with self._op as op:
            return op.moved(await self._cursor.read(n))

    async def seek(self, pos: int) -> None:
        await self._cursor.seek(pos)

    async def aclose(self) -> None:
        try:
            await self._cursor.aclose()
        finally:
            self._op.finish()

    def close_now(self) -> None:
        self._cursor.close_now()
        self._op.finish()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit, logging may be gone
            self._op.finish()


def watched_items(watch: Watch, prefix: str, items: Iterator[T]) -> Iterator[T]:
    """Yield what ``items`` yields as one ``list`` operation of ``watch``.

    The operation starts at the first step, as the listing itself does.
    """
    op = Operation(watch, "list", prefix, stream=True)
    count = op.detail["items"] = 0
    try:
        while True:
            with op:
                try:
                    item = next(items)
                except StopIteration:
                    break
            count += 1
            op.detail["items"] = count
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
        op.finish()


async def awatched_items(watch: Watch, prefix: str, items: AsyncIterator[T]) -> AsyncIterator[T]:
    """The asyncio twin of :func:`watched_items`."""
    op = Operation(watch, "list", prefix, stream=True)
    count = op.detail["items"] = 0
    try:
        while True:
            with op:
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    break
            count += 1
            op.detail["items"] = count
            yield item
    finally:
        close = getattr(items, "aclose", None)
        if close is not None:
            await close()
        op.finish()
