"""Multipart uploads: part sizes, parallel parts in bounded memory, clean aborts.

An upload reads one part at a time from the payload (reading is sequential)
and hands it to a worker thread (sync) or a task (async); at most
``max_concurrency`` parts exist at once, read or in flight, so memory stays
near ``max_concurrency * part_size`` whatever the object's size. Any failure,
including the caller's data source raising, ``KeyboardInterrupt`` or a
cancelled task, stops what has not started, waits for the parts in flight, and
the backend aborts the upload, so no part lingers; if the abort fails too, a
WARNING on logger ``objstore`` and the error name the upload that lingers.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from ..._payload import AsyncPayload, Payload
from ...errors import ObjstoreError, UnsupportedOperationError
from ._errors import WireError
from ._ops import Pieces, UploadPart
from ._presets import MAX_PART_SIZE, MiB

MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 << 40  # 5 TiB, the largest object S3-compatible services agree on
GROWTH_EVERY = 800  # parts per doubling of the part size, for streams of unknown length

logger = logging.getLogger("objstore")
Part = dict[str, str]
MakePart = Callable[..., UploadPart]  # (number, data[, crc])


def part_size(number: int, configured: int, total: int | None = None, uniform: bool = False) -> int:
    """The size of part ``number`` (1-based) of an upload.

    For a known ``total``, one size for all parts, large enough that 10,000
    parts hold the object. For a stream of unknown length, the size doubles
    every ``GROWTH_EVERY`` parts (up to 5 GiB), so 10,000 parts reach 5 TiB
    from any configured size of at least 5 MiB; services that need ``uniform``
    parts keep the configured size throughout.
    """
    if number > MAX_PARTS:
        raise UnsupportedOperationError(
            f"an upload cannot have more than {MAX_PARTS} parts: S3 objects are at most 5 TiB"
            + (" (raise part_size: this service needs equal parts)" if uniform else ""),
            backend="s3",
        )
    if total is not None:
        needed = -(-total // MAX_PARTS)
        return max(configured, -(-needed // MiB) * MiB)
    if uniform:
        return configured
    return min(MAX_PART_SIZE, configured << ((number - 1) // GROWTH_EVERY))


class PartReader:
    """Reads parts from what was already read (``head``) and then from the payload.

    Parts are assembled from the payload's own chunks with one ``join``: reading
    through ``Payload.read`` would copy every chunk once more before joining.
    """

    def __init__(self, head: bytes, payload: Payload):
        self._rest = memoryview(head)  # the unused end of the current chunk
        self._chunks = payload.chunks()

    def read(self, n: int) -> bytes:
        """Return exactly ``n`` bytes, fewer only at the end, ``b""`` once exhausted."""
        pieces: list[memoryview] = []
        have = 0
        while have < n:
            if not len(self._rest):
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._rest = memoryview(chunk)  # payload chunks are flat bytes
            piece, self._rest = self._rest[: n - have], self._rest[n - have :]
            pieces.append(piece)
            have += len(piece)
        return b"".join(pieces)


class AsyncPartReader:
    """The asyncio twin of :class:`PartReader`: parts stay in the pieces they came in
    (:class:`~._ops.Pieces`), and :attr:`crc` is computed piece by piece, so no step of
    the event loop joins or hashes a whole part."""

    def __init__(self, payload: AsyncPayload):
        self._pending: deque[memoryview] = deque()
        self._chunks = payload.chunks()
        self.crc = 0  # the CRC32 of what the last read returned

    def unread(self, pieces: Pieces) -> None:
        """Put ``pieces`` back in front of what is left."""
        self._pending.extendleft(reversed(pieces.views))

    async def read(self, n: int) -> Pieces:
        """Exactly ``n`` bytes, fewer only at the end, nothing once exhausted."""
        views: list[memoryview] = []
        have, crc = 0, 0
        while have < n:
            if not self._pending:
                chunk = await anext(self._chunks, None)
                if chunk is None:
                    break
                self._pending.append(memoryview(chunk))
                await asyncio.sleep(0)  # a source that never suspends must not hold the loop
            view = self._pending.popleft()
            piece = view[: n - have]
            if len(view) > len(piece):
                self._pending.appendleft(view[len(piece) :])
            crc = zlib.crc32(piece, crc)
            views.append(piece)
            have += len(piece)
        self.crc = crc
        return Pieces(views)


def upload_parts(
    call: Callable[[UploadPart], Part],
    make: MakePart,
    reader: PartReader,
    size_of: Callable[[int], int],
    limit: int,
) -> list[Part]:
    """Upload the reader's data in parts on ``limit`` threads, reading a part only when a
    slot is free."""
    results: list[Part] = []
    with ThreadPoolExecutor(limit, thread_name_prefix="objstore-s3-part") as pool:
        pending: set[Future[Part]] = set()
        try:
            number = 1
            while True:
                size = size_of(number)
                data = reader.read(size)
                if not data and number > 1:
                    break
                # each part in a copy of the caller's context: its retries are the operation's
                pending.add(pool.submit(contextvars.copy_context().run, call, make(number, data)))
                if len(pending) >= limit:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    results.extend(future.result() for future in done)
                if len(data) < size:
                    break
                number += 1
            done, pending = wait(pending)
            results.extend(future.result() for future in done)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return results


async def aupload_parts(
    call: Callable[[UploadPart], Awaitable[Part]],
    make: MakePart,
    reader: AsyncPartReader,
    size_of: Callable[[int], int],
    limit: int,
) -> list[Part]:
    """The asyncio twin of :func:`upload_parts`: tasks on the loop instead of threads."""
    results: list[Part] = []
    pending: set[asyncio.Task[Part]] = set()
    try:
        number = 1
        while True:
            size = size_of(number)
            data = await reader.read(size)
            if not data and number > 1:
                break
            pending.add(asyncio.ensure_future(call(make(number, data, reader.crc))))
            if len(pending) >= limit:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                results.extend(task.result() for task in done)
            if len(data) < size:
                break
            number += 1
        if pending:
            done, pending = await asyncio.wait(pending)
            results.extend(task.result() for task in done)
    except BaseException:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        raise
    return results


def report_lingering(exc: BaseException, key: str, upload_id: str, abort: BaseException) -> None:
    """Say, in a WARNING and in ``exc``, that an upload could not be aborted and lingers."""
    why = (
        f"{type(abort).__name__}: {abort}" if isinstance(abort, WireError) else type(abort).__name__
    )
    note = (
        f"; the multipart upload {upload_id!r} of {key!r} could not be aborted ({why}) and "
        "lingers: abort it (AbortMultipartUpload) or let a lifecycle rule expire it"
    )
    logger.warning("s3: %s", note[2:])
    if isinstance(exc, ObjstoreError):
        exc.message += note
    elif isinstance(exc, WireError):
        exc.lingering = note  # type: ignore[attr-defined]  # the error mapper appends it
    else:
        exc.add_note(note[2:])
