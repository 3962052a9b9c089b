"""One reader over everything ``put`` accepts: bytes, binary file objects, chunk iterables.

A backend receives a :class:`Payload` and reads it with :meth:`Payload.read` (exact
sizes, convenient for parts) or :meth:`Payload.chunks` (whatever comes, cheapest);
either way the caller's ``progress`` callback sees the bytes go. A native async
backend receives an :class:`AsyncPayload`, the same with awaitable reads.
Memory stays bounded by what the backend asks for, whatever the object's size.

Right before it commits, a backend calls :meth:`Payload.seal`: a payload whose
upload was cancelled meanwhile refuses, so a cancelled ``put`` commits nothing
unless the cancellation came after the commit.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, Protocol

ProgressCallback = Callable[[int, "int | None"], object]

DEFAULT_CHUNK = 1 << 20
BUFFER_SLICE = 8 << 20  # in-memory data is handed out in slices, so progress moves


class UploadCancelled(Exception):  # noqa: N818 - it is a signal, not a fault
    """Raised by a cancelled :class:`Payload`'s reads, so the backend abandons the write."""


class SupportsRead(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class _Counted:
    """What both payloads keep: the size, the caller's failure, what was handed out.

    Attributes:
        size: The exact number of bytes when known in advance (bytes, seekable
            files), else ``None``.
        failure: The exception the caller's data source raised, if any; the
            store re-raises it unchanged after the backend has cleaned up.
    """

    def __init__(self, size: int | None, progress: ProgressCallback | None):
        self.size = size
        self.failure: BaseException | None = None
        self._progress = progress
        self._pending = memoryview(b"")
        self._done = 0

    @property
    def bytes_read(self) -> int:
        """How many bytes have been handed out so far."""
        return self._done

    def _count(self, piece: memoryview | bytes) -> memoryview | bytes:
        self._done += len(piece)
        if self._progress is not None and len(piece):
            self._progress(self._done, self.size)
        return piece

    def _take(self, chunk: bytes | memoryview, want: int) -> bytes:
        """The first ``want`` bytes of ``chunk``; the rest is kept for the next read."""
        view = memoryview(chunk)
        self._pending = view[want:]
        return bytes(view[:want])

    def _pending_part(self, n: int) -> bytes:
        """Up to ``n`` bytes of what the last read left over."""
        part, self._pending = bytes(self._pending[:n]), self._pending[n:]
        return part

    def _joined(self, parts: list[bytes]) -> bytes:
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self._count(data)
        return data


class Payload(_Counted):
    """The data of one ``put``, read once, front to back (see ``_Counted`` for the
    attributes ``size`` and ``failure``)."""

    def __init__(
        self,
        chunks: Iterator[bytes | memoryview],
        size: int | None,
        progress: ProgressCallback | None = None,
    ):
        super().__init__(size, progress)
        self._chunks = chunks
        self._cancelled = False

    def cancel(self) -> None:
        """Make the next read raise :class:`UploadCancelled` (thread-safe).

        An ``AsyncStore`` calls this when the task awaiting a ``put`` is
        cancelled, so the backend fails the write and cleans up.
        """
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancelled

    def seal(self) -> None:
        """Called by the backend right before it commits: refuse if the upload was cancelled.

        Raises:
            UploadCancelled: the upload was cancelled; the backend abandons the write.
        """
        if self._cancelled:
            self.failure = UploadCancelled("the upload was cancelled")
            raise self.failure

    def chunks(self) -> Iterator[bytes | memoryview]:
        """Yield the remaining data in the pieces it comes in (never empty pieces)."""
        if self._pending:
            pending, self._pending = self._pending, memoryview(b"")
            yield self._count(pending)
        while True:
            chunk = self._next()
            if chunk is None:
                return
            yield self._count(chunk)

    def read(self, n: int) -> bytes:
        """Return exactly ``n`` bytes, fewer only at the end, ``b""`` once exhausted."""
        parts = [self._pending_part(n)]
        have = len(parts[0])
        while have < n and (chunk := self._next()) is not None:
            parts.append(self._take(chunk, n - have))
            have += len(parts[-1])
        return self._joined(parts)

    def _next(self) -> bytes | memoryview | None:
        self.seal()
        try:
            for chunk in self._chunks:
                if len(chunk):
                    return chunk
            return None
        except BaseException as exc:
            self.failure = exc
            raise


class AsyncPayload(_Counted):
    """The data of one ``put`` for a native async backend; see :class:`Payload`.

    Reads are awaited; cancelling the awaiting task is how an upload is cancelled,
    so :meth:`seal` has nothing to refuse and exists for symmetry.
    """

    def __init__(
        self,
        chunks: AsyncIterator[bytes | memoryview],
        size: int | None,
        progress: ProgressCallback | None = None,
    ):
        super().__init__(size, progress)
        self._chunks = chunks

    def seal(self) -> None:
        """See :meth:`Payload.seal`."""

    async def chunks(self) -> AsyncIterator[bytes | memoryview]:
        """See :meth:`Payload.chunks`."""
        if self._pending:
            pending, self._pending = self._pending, memoryview(b"")
            yield self._count(pending)
        while (chunk := await self._next()) is not None:
            yield self._count(chunk)

    async def read(self, n: int) -> bytes:
        """See :meth:`Payload.read`."""
        parts = [self._pending_part(n)]
        have = len(parts[0])
        while have < n and (chunk := await self._next()) is not None:
            parts.append(self._take(chunk, n - have))
            have += len(parts[-1])
        return self._joined(parts)

    async def _next(self) -> bytes | memoryview | None:
        try:
            async for chunk in self._chunks:
                if len(chunk):
                    return chunk
            return None
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.failure = exc
            raise


def make_payload(data: object, progress: ProgressCallback | None = None) -> Payload:
    """Wrap what the caller gave ``put``; raise ``TypeError`` before any I/O if unusable."""
    if progress is not None and not callable(progress):
        raise TypeError("progress must be a callable taking (bytes_done, total_or_None)")
    if isinstance(data, bytes | bytearray | memoryview):
        view = _flat_view(data)
        return Payload(_slices(view), len(view), progress)
    if isinstance(data, str):
        raise TypeError("put() takes bytes, not str: encode the text first, e.g. text.encode()")
    if isinstance(data, io.TextIOBase):
        raise TypeError("put() needs a binary file object; open the file in 'rb' mode")
    if callable(getattr(data, "read", None)):
        reader: SupportsRead = data  # type: ignore[assignment]
        return Payload(_file_chunks(reader), _remaining_size(data), progress)
    if isinstance(data, Iterable) and not isinstance(data, dict):
        return Payload(_checked_chunks(data), None, progress)
    raise TypeError(
        "put() data must be bytes-like, a binary file object (with read(n)) or an "
        f"iterable of bytes chunks, not {type(data).__name__}"
    )


def _flat_view(data: bytes | bytearray | memoryview) -> memoryview:
    view = memoryview(data)
    if view.format == "B" and view.ndim == 1 and view.c_contiguous:
        return view
    if view.c_contiguous:
        return view.cast("B")
    return memoryview(view.tobytes())


def _slices(view: memoryview) -> Iterator[memoryview]:
    for start in range(0, len(view), BUFFER_SLICE):
        yield view[start : start + BUFFER_SLICE]


def _remaining_size(source: Any) -> int | None:
    try:
        if not source.seekable():
            return None
        here = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(here)
    except (AttributeError, OSError, ValueError):
        return None
    return max(0, int(end) - int(here))


def _file_chunks(source: SupportsRead) -> Iterator[bytes]:
    while True:
        chunk = source.read(DEFAULT_CHUNK)
        if chunk is None:
            raise TypeError("put() cannot read from a non-blocking stream that has no data ready")
        if not chunk:
            return
        yield as_bytes(chunk)


def _checked_chunks(data: Iterable[Any]) -> Iterator[bytes]:
    for chunk in data:
        yield as_bytes(chunk)


def as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, bytearray | memoryview):
        # Copy: producers commonly refill one buffer for every chunk they yield.
        return bytes(chunk)
    raise TypeError(f"put() data chunks must be bytes-like, not {type(chunk).__name__}")
