"""Multipart uploads and copies: part sizes, parallel parts in bounded memory, clean aborts.

An upload reads one part at a time from the payload (reading is sequential)
and hands it to a worker; at most ``max_concurrency`` parts exist at once,
read or in flight, so memory stays near ``max_concurrency * part_size``
whatever the object's size. Any failure, including the caller's data source
raising or ``KeyboardInterrupt``, cancels what has not started, waits for the
parts in flight and aborts the upload, so no part lingers.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from .._attempts import note_retry
from .._payload import Payload
from ..errors import PreconditionFailedError, UnsupportedOperationError
from ._s3_client import S3Client
from ._s3_errors import CONFLICT, error_code
from ._s3_presets import MAX_PART_SIZE, MiB

MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 << 40  # 5 TiB, the largest object S3-compatible services agree on
GROWTH_EVERY = 800  # parts per doubling of the part size, for streams of unknown length
CONFLICT_ATTEMPTS = 4

_PART_CHECKSUMS = frozenset(
    {"ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256"}
)

T = TypeVar("T")
Part = dict[str, Any]


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


@dataclass(frozen=True, slots=True)
class Upload:
    """One multipart upload in progress."""

    client: S3Client
    bucket: str
    key: str
    upload_id: str

    def data_parts(
        self, reader: PartReader, size_of: Callable[[int], int]
    ) -> Iterator[Callable[[], Part]]:
        """Tasks uploading the reader's data; each part is read only when its task is asked for."""
        number = 1
        while True:
            size = size_of(number)
            data = reader.read(size)
            if not data and number > 1:
                return
            yield self._part_task(number, data)
            if len(data) < size:
                return
            number += 1

    def copy_parts(
        self, source_key: str, etag: str, size: int, step: int
    ) -> Iterator[Callable[[], Part]]:
        """Tasks copying ``source_key`` (pinned to ``etag``) server-side in parts of ``step``."""
        source = {"Bucket": self.bucket, "Key": source_key}
        ranges = [(start, min(size, start + step) - 1) for start in range(0, size, step)]
        if size <= MAX_PART_SIZE:
            ranges = [(0, -1)]  # one part, the whole object (also right for an empty one)
        for number, (first, last) in enumerate(ranges, 1):
            yield self._copy_task(number, source, etag, first, last)

    def complete(self, parts: list[Part], conditions: Mapping[str, str]) -> dict[str, Any]:
        ordered = sorted(parts, key=lambda part: int(part["PartNumber"]))
        return retry_on_conflict(
            lambda: self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": ordered},
                **conditions,
            ),
            conflict_is_final=True,
        )

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # the original error matters more
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )

    def _part_task(self, number: int, data: bytes) -> Callable[[], Part]:
        def upload() -> Part:
            answer = self.client.upload_part(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                PartNumber=number, Body=data,
            )  # fmt: skip
            # The part's checksum, where boto3 sent one, goes into CompleteMultipartUpload.
            sums = {name: value for name, value in answer.items() if name in _PART_CHECKSUMS}
            return {"PartNumber": number, "ETag": answer["ETag"], **sums}

        return upload

    def _copy_task(
        self, number: int, source: dict[str, str], etag: str, first: int, last: int
    ) -> Callable[[], Part]:
        def copy() -> Part:
            extra = {"CopySourceRange": f"bytes={first}-{last}"} if last >= 0 else {}
            answer = self.client.upload_part_copy(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number,
                CopySource=source, CopySourceIfMatch=f'"{etag}"', **extra,
            )  # fmt: skip
            return {"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]}

        return copy


@contextlib.contextmanager
def multipart(client: S3Client, bucket: str, key: str, **create: Any) -> Iterator[Upload]:
    """Start a multipart upload; abort it if anything inside fails, for any reason."""
    answer = client.create_multipart_upload(Bucket=bucket, Key=key, **create)
    upload = Upload(client, bucket, key, answer["UploadId"])
    try:
        yield upload
    except BaseException:
        upload.abort()
        raise


def run_bounded(tasks: Iterator[Callable[[], T]], limit: int) -> list[T]:
    """Run ``tasks`` on ``limit`` threads, asking for the next task only when a slot is free."""
    results: list[T] = []
    with ThreadPoolExecutor(limit, thread_name_prefix="objstore-s3-part") as pool:
        pending: set[Future[T]] = set()
        try:
            for task in tasks:
                # each part in a copy of the caller's context: its retries are the operation's
                pending.add(pool.submit(contextvars.copy_context().run, task))
                if len(pending) >= limit:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    results.extend(future.result() for future in done)
            done, pending = wait(pending)
            results.extend(future.result() for future in done)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return results


def retry_on_conflict(call: Callable[[], T], conflict_is_final: bool = False) -> T:
    """Call ``call``, retrying S3's 409 ConditionalRequestConflict a few times.

    S3 answers 409 when another conditional write to the key raced this one;
    the advice is to retry. After the last attempt the race counts as lost
    (``PreconditionFailedError``). ``conflict_is_final`` is for
    CompleteMultipartUpload, whose upload S3 may have discarded after a 409.
    """
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return call()
        except Exception as exc:
            code, _ = error_code(exc)
            lost = code == "NoSuchUpload" and conflict_is_final and attempt > 1
            if lost or (code == CONFLICT and attempt == CONFLICT_ATTEMPTS):
                raise PreconditionFailedError(
                    "s3: a concurrent conditional write to this key won the race",
                    backend="s3",
                ) from exc
            if code != CONFLICT:
                raise
            time.sleep(0.05 * 2**attempt)
            note_retry()
    raise AssertionError("unreachable")  # pragma: no cover
