"""``get_file``'s engine: one object into a local file, whole or not at all.

The object goes into a temporary file beside the destination, renamed over it
once every byte has arrived, so a failed download never leaves a partial file
nor destroys the file it would have replaced. On a store whose backend uploads
in parallel parts (``capabilities.multipart``: a network store such as S3), a
large object also comes down in parallel ranged gets, as boto3's transfer
manager does; each range is checked against the version of the first, so a
file is never stitched from two versions. Memory holds one chunk per worker.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .._defaults import FSSPEC_DOWNLOAD_PART, FSSPEC_DOWNLOAD_WORKERS, MiB
from .._models import ObjectInfo
from .._store import Store
from ..errors import PreconditionFailedError

CHUNK = 1 * MiB


def download(store: Store, key: str, path: str, callback: Any) -> None:
    """Download ``key`` to the local file ``path`` (replaced only when complete).

    Raises:
        NotFoundError: no object has this key.
        PreconditionFailedError: the object changed while it was downloaded.
    """
    first = store.get_stream(key, length=FSSPEC_DOWNLOAD_PART, chunk_size=CHUNK)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=directory, prefix=".objstore-download-")
    try:
        with os.fdopen(handle, "wb") as out, contextlib.closing(first):
            info = first.info
            callback.set_size(info.size)
            callback.relative_update(_write_at(out.fileno(), first, 0))
            _fetch_rest(store, info, out.fileno(), callback)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def copy_chunks(chunks: Iterable[bytes], out: Any, callback: Any) -> None:
    """Write every chunk to the file object ``out``, reporting progress."""
    for chunk in chunks:
        out.write(chunk)
        callback.relative_update(len(chunk))


def _fetch_rest(store: Store, info: ObjectInfo, fd: int, callback: Any) -> None:
    offsets = range(FSSPEC_DOWNLOAD_PART, info.size, FSSPEC_DOWNLOAD_PART)
    if not offsets:
        return
    if len(offsets) == 1 or not store.capabilities.multipart or not hasattr(os, "pwrite"):
        callback.relative_update(_fetch(store, info, fd, offsets[0], None))
        return
    with ThreadPoolExecutor(FSSPEC_DOWNLOAD_WORKERS, "objstore-fsspec-download") as pool:
        parts = [
            pool.submit(_fetch, store, info, fd, offset, FSSPEC_DOWNLOAD_PART) for offset in offsets
        ]
        _collect(parts, pool, callback)


def _collect(parts: list[Future[int]], pool: ThreadPoolExecutor, callback: Any) -> None:
    """Report each part as it completes, in order; on a failure, cancel the rest."""
    try:
        for part in parts:
            callback.relative_update(part.result())
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise


def _fetch(store: Store, info: ObjectInfo, fd: int, offset: int, length: int | None) -> int:
    stream = store.get_stream(info.key, offset=offset, length=length, chunk_size=CHUNK)
    with contextlib.closing(stream):
        if stream.info.etag != info.etag:
            raise PreconditionFailedError(
                f"{info.key!r} changed while it was downloaded", key=info.key
            )
        return _write_at(fd, stream, offset)


def _write_at(fd: int, chunks: Iterable[bytes], offset: int) -> int:
    """Write ``chunks`` at ``offset`` of the file ``fd`` (positioned writes, so parts
    may arrive in any order); return how many bytes."""
    pos = offset
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            written = (
                os.pwrite(fd, view, pos) if hasattr(os, "pwrite") else _seek_write(fd, view, pos)
            )
            view, pos = view[written:], pos + written
    return pos - offset


def _seek_write(fd: int, data: memoryview, pos: int) -> int:
    os.lseek(fd, pos, os.SEEK_SET)
    return os.write(fd, data)
