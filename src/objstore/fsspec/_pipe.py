"""One ``put`` fed block by block from the writing thread, in bounded memory.

``Store.put`` reads its data from an iterable; a file object that is *written*
to pushes its data instead. :class:`PipedPut` joins the two: the put runs in a
thread of its own and pulls blocks from a small hand-off queue that the writer
fills. The writer waits while the queue is full, so at most ``depth`` blocks
are in flight besides the one the backend is storing, whatever the object's
size (on S3 the backend turns the stream into a multipart upload). Ending the
stream commits the put; abandoning it makes the data source raise, so the
backend discards everything it wrote (temp file, multipart upload).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

from .._models import ObjectInfo
from .._store import Store


class Abandoned(Exception):  # noqa: N818 - it is a signal, not a fault
    """Raised into the put's data source when the writer gives up on the upload."""


class _HandOff:
    """A bounded queue of blocks between one producer and one consumer thread."""

    def __init__(self, depth: int):
        self._depth = depth
        self._blocks: deque[bytes] = deque()
        self._cond = threading.Condition()
        self._ended = False
        self._error: BaseException | None = None
        self._consumer_gone = False

    def send(self, block: bytes) -> bool:
        """Queue ``block``, waiting for room; ``False`` if the consumer has stopped."""
        with self._cond:
            while len(self._blocks) >= self._depth and not self._consumer_gone:
                self._cond.wait()
            if self._consumer_gone:
                return False
            self._blocks.append(block)
            self._cond.notify_all()
            return True

    def end(self, error: BaseException | None = None) -> None:
        """No more blocks: the consumer sees the end of the data, or ``error`` raised."""
        with self._cond:
            self._ended = True
            self._error = error
            if error is not None:
                self._blocks.clear()
            self._cond.notify_all()

    def consumer_gone(self) -> None:
        with self._cond:
            self._consumer_gone = True
            self._blocks.clear()
            self._cond.notify_all()

    def blocks(self) -> Iterator[bytes]:
        """The consumer's side: every block sent, in order, until :meth:`end`."""
        while True:
            with self._cond:
                while not self._blocks and not self._ended:
                    self._cond.wait()
                if self._blocks:
                    block = self._blocks.popleft()
                    self._cond.notify_all()
                elif self._error is not None:
                    raise self._error
                else:
                    return
            yield block


class PipedPut:
    """A ``store.put(key, ...)`` running in its own thread, fed by :meth:`send`.

    Args:
        store: The store to write to.
        key: The object's key.
        options: Keyword arguments for ``put`` (``content_type``, ``metadata``,
            ``if_none_match``...).
        depth: How many blocks may wait in the hand-off queue.
    """

    def __init__(self, store: Store, key: str, options: Mapping[str, Any], depth: int):
        self._queue = _HandOff(depth)
        self._result: ObjectInfo | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run,
            args=(store, key, dict(options)),
            name="objstore-fsspec-upload",
            daemon=True,  # an abandoned writer must not keep the interpreter alive
        )
        self._thread.start()

    def _run(self, store: Store, key: str, options: dict[str, Any]) -> None:
        try:
            self._result = store.put(key, self._queue.blocks(), **options)
        except BaseException as exc:
            self._error = exc
        finally:
            self._queue.consumer_gone()

    def send(self, block: bytes) -> None:
        """Hand ``block`` to the put, waiting while the queue is full.

        Raises:
            ObjstoreError: the put has already failed (its own error).
        """
        if not self._queue.send(block):
            self._thread.join()
            self._raise_failure()

    def finish(self) -> ObjectInfo:
        """End the data and wait for the commit; return the new object's description.

        Raises:
            ObjstoreError: the put failed; nothing was written.
        """
        self._queue.end()
        self._thread.join()
        self._raise_failure()
        assert self._result is not None
        return self._result

    def abandon(self) -> None:
        """Give up: the put fails on purpose and leaves nothing behind."""
        self._queue.end(Abandoned("the writer abandoned the upload"))
        self._thread.join()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error
