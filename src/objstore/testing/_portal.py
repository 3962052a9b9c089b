"""Drive an ``AsyncStore`` from synchronous code, so the sync kit can check it too.

:class:`Portal` runs an event loop on its own thread; :class:`BlockingStore`
offers the ``Store`` API and runs every call as a coroutine on that loop. The
only adaptation: ``get_stream`` fetches its first chunk at the call, as the
synchronous contract raises ``NotFoundError`` there.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

from .._async_io import AsyncObjectReader
from .._async_store import AsyncStore
from .._models import Capabilities, ObjectInfo

T = TypeVar("T")


class Portal:
    """An event loop running on a daemon thread; ``run`` waits for a coroutine's result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, daemon=True, name="objstore-portal"
        )
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class BlockingStore:
    """The synchronous ``Store`` API over an ``AsyncStore``."""

    def __init__(self, store: AsyncStore, portal: Portal):
        self._store = store
        self._portal = portal

    @property
    def capabilities(self) -> Capabilities:
        return self._store.capabilities

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)
        return lambda *args, **kwargs: self._portal.run(method(*args, **kwargs))

    def get_stream(self, key: str, **kwargs: Any) -> _BlockingChunks:
        return _BlockingChunks(self._store.get_stream(key, **kwargs), self._portal)

    def list(self, prefix: str = "", **kwargs: Any) -> Iterator[Any]:
        return _iterate(self._store.list(prefix, **kwargs), self._portal)

    def open(self, key: str, **kwargs: Any) -> _BlockingReader:
        return _BlockingReader(self._portal.run(self._store.open(key, **kwargs)), self._portal)

    def close(self) -> None:
        self._portal.run(self._store.aclose())

    def __enter__(self) -> BlockingStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _iterate(items: AsyncIterator[T], portal: Portal) -> Iterator[T]:
    async def step() -> T:
        return await items.__anext__()

    while True:
        try:
            yield portal.run(step())
        except StopAsyncIteration:
            return


class _BlockingChunks(Iterator[bytes]):
    def __init__(self, chunks: Any, portal: Portal):
        self._chunks = chunks
        self._portal = portal
        self._first: bytes | None = self._next()  # opens the object now, as Store does

    def _next(self) -> bytes | None:
        try:
            chunk: bytes = self._portal.run(self._chunks.__anext__())
        except StopAsyncIteration:
            return None
        return chunk

    def __next__(self) -> bytes:
        chunk: bytes | None
        if self._first is not None:
            chunk, self._first = self._first, None
        else:
            chunk = self._next()
        if chunk is None:
            raise StopIteration
        return chunk

    @property
    def info(self) -> ObjectInfo | None:
        info: ObjectInfo | None = self._chunks.info
        return info

    def close(self) -> None:
        self._portal.run(self._chunks.aclose())


class _BlockingReader(io.RawIOBase):
    def __init__(self, reader: AsyncObjectReader, portal: Portal):
        self._reader = reader
        self._portal = portal
        self.info = reader.info

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._portal.run(self._reader.read(size))

    def readline(self, size: int | None = -1) -> bytes:
        return self._portal.run(self._reader.readline(-1 if size is None else size))

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(memoryview(buffer)))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._portal.run(self._reader.seek(offset, whence))

    def tell(self) -> int:
        return self._reader.tell()

    def close(self) -> None:
        if not self.closed:
            self._portal.run(self._reader.aclose())
        super().close()
