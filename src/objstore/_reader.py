"""Reading one version of an object: range bookkeeping, resumption, file objects.

:class:`RangeCursor` sits between the store and a backend's ``ReadStream``. It
knows how many bytes the range must deliver, so a stream that ends early or
raises :class:`UnavailableError` is resumed with a ranged ``get`` pinned to the
etag the read began with; if the object changed meanwhile the backend raises
:class:`PreconditionFailedError` instead of splicing two versions. Truncated data
is never returned silently.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, Protocol

from ._attempts import note_retry
from ._models import ObjectInfo
from .backend import Backend, ReadStream
from .errors import UnavailableError

MAX_RESUMES = 3


class Span:
    """The range bookkeeping of one read: ``[start, end)`` of a version, and where we are."""

    def __init__(self, info: ObjectInfo, offset: int, length: int | None):
        self.info = info
        size = info.size
        self.start = min(offset, size)
        self.end = size if length is None else min(size, offset + length)
        self.end = max(self.end, self.start)
        self.pos = self.start

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def moved(self, pos: int) -> bool:
        """Move to absolute object offset ``pos`` (clamped to the range); tell whether
        the position changed (the open stream must then be dropped)."""
        pos = min(max(pos, self.start), self.end)
        if pos == self.pos:
            return False
        self.pos = pos
        return True


def resume_error(key: str, pos: int, size: int, backend: str) -> UnavailableError:
    return UnavailableError(
        f"reading {key!r} kept failing at byte {pos} of {size}; gave up after "
        f"{MAX_RESUMES} resumed requests",
        key=key,
        backend=backend,
    )


class Positioned(Protocol):
    """Where a cursor is: its object version, its range ``[start, end)``, its position."""

    info: ObjectInfo

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...

    @property
    def pos(self) -> int: ...


class Cursor(Positioned, Protocol):
    """What ``get_stream`` and ``open`` read from: a :class:`RangeCursor`, or one that
    reports to an observed operation (``_watched.WatchedCursor``)."""

    def read(self, n: int) -> bytes: ...

    def seek(self, pos: int) -> None: ...

    def close(self) -> None: ...


class CursorOver:
    """A cursor over another cursor: the same version, range and position; the
    subclass says how a read gets through (observed, or in the store's pool)."""

    def __init__(self, inner: Positioned):
        self.info = inner.info
        self._inner = inner

    @property
    def start(self) -> int:
        return self._inner.start

    @property
    def end(self) -> int:
        return self._inner.end

    @property
    def pos(self) -> int:
        return self._inner.pos


class RangeCursor(Span):
    """The bytes ``[start, end)`` of one object version, read front to back or by seeking."""

    def __init__(
        self,
        backend: Backend,
        key: str,
        stream: ReadStream,
        offset: int,
        length: int | None,
        fail: Callable[[Exception, str], NoReturn],
    ):
        super().__init__(stream.info, offset, length)
        self._backend = backend
        self._key = key
        self._stream: ReadStream | None = stream
        self._resumes = 0
        self._fail = fail

    def read(self, n: int) -> bytes:
        """Return up to ``n`` bytes (fewer only when the range ends); ``b""`` at the end."""
        want = min(n, self.remaining)
        if want <= 0:
            self.close()
            return b""
        try:
            return self._read(want)
        except Exception as exc:
            self.close()
            self._fail(exc, self._key)

    def _read(self, want: int) -> bytes:
        while True:
            stream = self._stream or self._reopen()
            try:
                data = stream.read(want)
            except UnavailableError as exc:
                self._drop(exc)
                continue
            if data:
                self.pos += len(data)
                return data
            self._drop(None)

    def read_all(self) -> bytes:
        """Read the rest of the range into one ``bytes``."""
        parts = []
        while self.remaining:
            parts.append(self.read(self.remaining))
        self.close()
        return parts[0] if len(parts) == 1 else b"".join(parts)  # one part: no copy

    def seek(self, pos: int) -> None:
        """Move to absolute object offset ``pos`` (clamped to the range)."""
        if self.moved(pos):
            self.close()

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def _reopen(self) -> ReadStream:
        self._stream = self._backend.get(
            self._key, offset=self.pos, length=self.remaining, if_match=self.info.etag
        )
        return self._stream

    def _drop(self, exc: UnavailableError | None) -> None:
        self.close()
        self._resumes += 1
        if self._resumes > MAX_RESUMES:
            raise resume_error(self._key, self.pos, self.info.size, self._backend.name) from exc
        note_retry()  # a resumed read is one more attempt of the operation


class ChunkIterator(Iterator[bytes]):
    """``get_stream``'s result: chunks of at most ``chunk_size``; closes when exhausted."""

    def __init__(self, cursor: Cursor, chunk_size: int):
        self.info = cursor.info
        self._cursor = cursor
        self._chunk_size = chunk_size

    def __iter__(self) -> ChunkIterator:
        return self

    def __next__(self) -> bytes:
        chunk = self._cursor.read(self._chunk_size)
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        self._cursor.close()

    def __enter__(self) -> ChunkIterator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        self._cursor.close()


class _RangeRaw(io.RawIOBase):
    def __init__(self, cursor: Cursor):
        self._cursor = cursor

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._cursor.read(len(view))
        view[: len(data)] = data
        return len(data)

    def tell(self) -> int:
        return self._cursor.pos - self._cursor.start

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.tell(), io.SEEK_END: self._size()}[whence]
        target = base + offset
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._cursor.seek(self._cursor.start + target)
        return target

    def _size(self) -> int:
        return self._cursor.end - self._cursor.start

    def close(self) -> None:
        self._cursor.close()
        super().close()


class ObjectReader(io.BufferedReader):
    """A read-only, seekable binary file object over one object (or one range of it).

    Positions are relative to the range that was opened: ``tell()`` starts at 0
    and ``seek(0, io.SEEK_END)`` is the range's length. Every read after a seek
    is pinned to the version that was opened.

    Attributes:
        info: The object's description (content type and metadata included).
    """

    def __init__(self, cursor: Cursor, buffer_size: int = 1 << 16):
        super().__init__(_RangeRaw(cursor), buffer_size)
        self.info: ObjectInfo = cursor.info
