"""The contestants' calls: each library doing the benchmarks' jobs the way its documentation does.

One class per library, over a store the script opens (a directory, a bucket):
the scripts and ``side_worker.py`` (s3fs, aioboto3) share them. Only the
standard library is imported at the top; each library is imported on first use.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import Awaitable, Callable, Sequence
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

from _harness import CHUNK, Job, timed_batch

Buffer = Any  # bytes, or a library's own buffer type (obstore.Bytes)
Listing = tuple[int, int | None]  # objects seen, their total size (None: not asked for)


#: The settings of every botocore-based contestant: SigV4, path style, standard retries, and
#: checksums only when required (rclone refuses boto3's default trailing checksums; objstore's
#: presets for S3-compatible servers do the same).
BOTOCORE = {
    "signature_version": "s3v4",
    "s3": {"addressing_style": "path"},
    "retries": {"mode": "standard", "total_max_attempts": 5},
    "request_checksum_calculation": "when_required",
    "response_checksum_validation": "when_required",
}


class Adapter:
    """One library doing the benchmark's jobs in a store of its own (a directory, a bucket).

    Subclasses define the calls they support; ``stat`` returns the size, ``list`` touches
    every entry's key and size, ``read`` reads the object as a file to its end.
    """

    put: Callable[[str, bytes], object]
    get: Callable[[str], Buffer]
    stat: Callable[[str], int]
    delete: Callable[[str], object]
    list: Callable[[], Listing]
    presign: Callable[[str], str]
    put_file: Callable[[str, Path], object]
    get_file: Callable[[str, Path], object]
    read: Callable[[str], int]

    def job(
        self, kind: str, keys: Sequence[str] = (), data: bytes = b"", path: Path = Path()
    ) -> Job:
        """One timed run of ``kind``: of every key (put, get, stat, delete, presign), a listing,
        or of ``keys[0]`` alone: ``put_file`` from ``path``, ``get_file`` to it, ``read``."""
        if kind in LOOPS:
            return partial(LOOPS[kind], self, keys, data)
        if kind == "list":
            return self.list
        if kind == "read":
            return partial(self.read, keys[0])
        return partial(self.put_file if kind == "put_file" else self.download, keys[0], path)

    def download(self, key: str, dst: Path) -> int:
        self.get_file(key, dst)
        return dst.stat().st_size

    def digest(self, key: str) -> str:
        """SHA-256 of an object's content (checks, never timed)."""
        return hashlib.sha256(bytes(self.get(key))).hexdigest()

    def close(self) -> None:
        return None


def check_stored(adapters: dict[str, Adapter], key: str, data: bytes) -> None:
    """Fail unless every contestant's object ``key`` holds ``data`` (the warm-up checks)."""
    want = hashlib.sha256(data).hexdigest()
    for name, adapter in adapters.items():
        if adapter.digest(key) != want:
            raise AssertionError(f"{name} returned other bytes than it was given")


def put_all(adapter: Adapter, keys: Sequence[str], data: bytes) -> None:
    for key in keys:
        adapter.put(key, data)


def get_all(adapter: Adapter, keys: Sequence[str], _data: bytes) -> int:
    return sum(len(adapter.get(key)) for key in keys)


def stat_all(adapter: Adapter, keys: Sequence[str], _data: bytes) -> int:
    return sum(adapter.stat(key) for key in keys)


def delete_all(adapter: Adapter, keys: Sequence[str], _data: bytes) -> None:
    for key in keys:
        adapter.delete(key)


def presign_all(adapter: Adapter, keys: Sequence[str], _data: bytes) -> None:
    for key in keys:
        adapter.presign(key)


LOOPS = {
    "put": put_all,
    "get": get_all,
    "stat": stat_all,
    "delete": delete_all,
    "presign": presign_all,
}


class ObjstoreCalls(Adapter):
    """objstore's public ``Store`` API."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def put(self, key: str, data: bytes) -> None:
        self.store.put(key, data)

    def get(self, key: str) -> Buffer:
        return self.store.get(key)

    def stat(self, key: str) -> Any:
        return self.store.stat(key).size

    def delete(self, key: str) -> None:
        self.store.delete(key)

    def list(self) -> Listing:
        found = total = 0
        for info in self.store.list():
            found += bool(info.key)
            total += info.size
        return found, total

    def presign(self, key: str) -> Any:
        return self.store.presign(key)

    def put_file(self, key: str, src: Path) -> None:
        with open(src, "rb") as source:
            self.store.put(key, source)

    def get_file(self, key: str, dst: Path) -> None:
        with self.store.get_stream(key, chunk_size=CHUNK) as chunks, open(dst, "wb") as out:
            for chunk in chunks:
                out.write(chunk)

    def close(self) -> None:
        self.store.close()


class ObstoreCalls(Adapter):
    """obstore's functions on a store (``LocalStore``, ``S3Store``)."""

    def __init__(self, store: Any, reader: bool) -> None:
        import obstore

        self.obstore, self.store = obstore, store
        self.reader = reader  # download with open_reader (ranged reads), else one streamed GET

    def put(self, key: str, data: bytes) -> None:
        self.obstore.put(self.store, key, data)

    def get(self, key: str) -> Buffer:
        return self.obstore.get(self.store, key).bytes()  # obstore.Bytes: a zero-copy buffer

    def stat(self, key: str) -> Any:
        return self.obstore.head(self.store, key)["size"]

    def delete(self, key: str) -> None:
        self.obstore.delete(self.store, key)

    def list(self) -> Listing:
        found = total = 0
        for batch in self.obstore.list(self.store):
            for meta in batch:
                found += bool(meta["path"])
                total += meta["size"]
        return found, total

    def put_file(self, key: str, src: Path) -> None:
        # A Path: locally about twice as fast as a file object; on S3 a multipart
        # upload, 5 MiB parts, 12 at once.
        self.obstore.put(self.store, key, src)

    def get_file(self, key: str, dst: Path) -> None:
        if self.reader:  # locally ~5x faster than streaming a GetResult
            reader: Any = self.obstore.open_reader(self.store, key, buffer_size=CHUNK)
            with closing(reader) as source, open(dst, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
            return
        with open(dst, "wb") as out:  # rclone answers ranged GETs with the whole object
            for chunk in self.obstore.get(self.store, key).stream(min_chunk_size=CHUNK):
                out.write(chunk)


class OpendalCalls(Adapter):
    """opendal's ``Operator``; files streamed in CHUNK writes and reads."""

    def __init__(self, op: Any) -> None:
        self.op = op

    def put(self, key: str, data: bytes) -> None:
        self.op.write(key, data)

    def get(self, key: str) -> Buffer:
        return self.op.read(key)

    def stat(self, key: str) -> Any:
        return self.op.stat(key).content_length

    def delete(self, key: str) -> None:
        self.op.delete(key)

    def list(self) -> Listing:
        found = total = 0
        for entry in self.op.list("", recursive=True):
            if entry.metadata.is_file:  # the recursive listing also yields directories
                found += bool(entry.path)
                total += entry.metadata.content_length
        return found, total

    def put_file(self, key: str, src: Path) -> None:
        with open(src, "rb") as source, self.op.open(key, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)

    def get_file(self, key: str, dst: Path) -> None:
        with self.op.open(key, "rb") as source, open(dst, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)


class FsspecCalls(Adapter):
    """An fsspec filesystem (``LocalFileSystem``, s3fs, objstore's adapter) under ``root``."""

    def __init__(self, fs: Any, root: str) -> None:
        self.fs, self.root = fs, root

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def put(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(self._path(key), data)

    def get(self, key: str) -> Buffer:
        return self.fs.cat_file(self._path(key))

    def stat(self, key: str) -> Any:
        return self.fs.info(self._path(key))["size"]

    def delete(self, key: str) -> None:
        self.fs.rm_file(self._path(key))

    def list(self) -> Listing:
        found = total = 0
        for path, info in self.fs.find(self.root, detail=True).items():
            found += bool(path)
            total += info["size"]
        return found, total

    def put_file(self, key: str, src: Path) -> None:
        self.fs.put_file(str(src), self._path(key))

    def get_file(self, key: str, dst: Path) -> None:
        self.fs.get_file(self._path(key), str(dst))

    def read(self, key: str) -> int:
        total = 0
        with self.fs.open(self._path(key), "rb") as source:
            while chunk := source.read(CHUNK):
                total += len(chunk)
        return total


class AsyncCalls(Adapter):
    """Coroutine functions on ``loop``: a job puts or gets every key at once (asyncio.gather),
    timed with the lag probe of :func:`_harness.timed_batch`."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        put: Callable[[str, bytes], Awaitable[object]],
        get: Callable[[str], Awaitable[Buffer]],
        close: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.loop, self.aput, self.aget, self.aclose = loop, put, get, close

    def job(
        self, kind: str, keys: Sequence[str] = (), data: bytes = b"", path: Path = Path()
    ) -> Job:
        async def put_all() -> None:
            await asyncio.gather(*(self.aput(key, data) for key in keys))

        async def get_all() -> int:
            return sum(await asyncio.gather(*(self._size(key) for key in keys)))

        batch = put_all if kind == "put" else get_all
        return lambda: self.loop.run_until_complete(timed_batch(batch))

    async def _size(self, key: str) -> int:
        return len(await self.aget(key))

    def get(self, key: str) -> Buffer:
        return self.loop.run_until_complete(self.aget(key))

    def close(self) -> None:
        if self.aclose is not None:
            self.loop.run_until_complete(self.aclose())
