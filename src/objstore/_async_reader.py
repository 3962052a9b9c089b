"""The asyncio side of reading: a resumable range cursor over an ``AsyncReadStream``.

:class:`AsyncRangeCursor` is the twin of :class:`~objstore._reader.RangeCursor` for
backends with native async I/O: the same range bookkeeping (shared in
:class:`~objstore._reader.Span`), the same resumption pinned to the etag the read
began with, awaited instead of blocking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import NoReturn

from ._attempts import note_retry
from ._reader import MAX_RESUMES, Span, resume_error
from .backend import AsyncReadStream
from .errors import UnavailableError

_CLOSING: set[asyncio.Task[None]] = set()

#: Opens the rest of a range: ``(offset, length, if_match) -> stream``.
AsyncOpener = Callable[[int, int, str], Awaitable[AsyncReadStream]]


class AsyncRangeCursor(Span):
    """The bytes ``[start, end)`` of one object version, read front to back or by seeking."""

    def __init__(
        self,
        key: str,
        stream: AsyncReadStream,
        offset: int,
        length: int | None,
        reopen: AsyncOpener,
        fail: Callable[[Exception, str], NoReturn],
        backend: str,
    ):
        super().__init__(stream.info, offset, length)
        self._key = key
        self._stream: AsyncReadStream | None = stream
        self._reopen = reopen
        self._fail = fail
        self._backend = backend
        self._resumes = 0

    async def read(self, n: int) -> bytes:
        """Return up to ``n`` bytes (fewer only when the range ends); ``b""`` at the end."""
        want = min(n, self.remaining)
        if want <= 0:
            await self.aclose()
            return b""
        try:
            return await self._read(want)
        except Exception as exc:
            await self.aclose()
            self._fail(exc, self._key)

    async def _read(self, want: int) -> bytes:
        while True:
            stream = self._stream
            if stream is None:
                stream = self._stream = await self._reopen(self.pos, self.remaining, self.info.etag)
            try:
                data = await stream.read(want)
            except UnavailableError as exc:
                await self._drop(exc)
                continue
            if data:
                self.pos += len(data)
                return data
            await self._drop(None)

    async def read_all(self) -> bytes:
        """Read the rest of the range into one ``bytes``."""
        parts = []
        while self.remaining:
            parts.append(await self.read(self.remaining))
        await self.aclose()
        return parts[0] if len(parts) == 1 else b"".join(parts)  # one part: no copy

    async def seek(self, pos: int) -> None:
        """Move to absolute object offset ``pos`` (clamped to the range)."""
        if self.moved(pos):
            await self.aclose()

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()

    def close_now(self) -> None:
        """Schedule the stream's release when it cannot be awaited (garbage collection)."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop to close it on: the connection goes with the stream object
        task = loop.create_task(stream.aclose())
        _CLOSING.add(task)  # a task nobody references may be collected before it runs
        task.add_done_callback(_CLOSING.discard)

    async def _drop(self, exc: UnavailableError | None) -> None:
        await self.aclose()
        self._resumes += 1
        if self._resumes > MAX_RESUMES:
            raise resume_error(self._key, self.pos, self.info.size, self._backend) from exc
        note_retry()  # a resumed read is one more attempt of the operation
