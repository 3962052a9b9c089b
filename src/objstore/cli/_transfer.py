"""Moving one object: between stores (``cp``, ``sync``) and into a local file (``get``).

Nothing is ever half-written: a store's ``put`` is atomic, and a local file is
written under a temporary name in the same directory, renamed into place only
once complete, and removed on any failure (Ctrl-C included).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .._models import ObjectInfo
from .._payload import ProgressCallback
from .._reader import ObjectReader
from .._store import Store


class TransferCancelled(Exception):  # noqa: N818 - a signal, not a fault
    """Raised inside a transfer whose cancel event was set; the upload is abandoned."""


class _Source(io.RawIOBase):
    """An object being read for a ``put``, abandoned as soon as ``cancel`` is set.

    Seekable, so the store knows its size up front (S3 plans its parts).
    """

    def __init__(self, reader: ObjectReader, cancel: threading.Event | None):
        super().__init__()
        self._reader = reader
        self._cancel = cancel

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._reader.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._reader.seek(offset, whence)

    def read(self, size: int = -1) -> bytes:
        if self._cancel is not None and self._cancel.is_set():
            raise TransferCancelled("the transfer was cancelled")
        return self._reader.read(size)


def copy_object(
    src: Store,
    src_key: str,
    dst: Store,
    dst_key: str,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> tuple[ObjectInfo, ObjectInfo]:
    """Stream one object into another store with its content type and metadata.

    Returns:
        The source version that was read, and the new object.

    Raises:
        NotFoundError: the source does not exist.
        TransferCancelled: ``cancel`` was set; nothing was written.
    """
    with src.open(src_key) as reader:
        info = reader.info
        if info.content_type is None or info.metadata is None:
            info = src.stat(src_key)
        written = dst.put(
            dst_key,
            _Source(reader, cancel),
            content_type=info.content_type,
            metadata=info.metadata,
            progress=progress,
        )
    return reader.info, written


def local_name(key: str, dest: str | None) -> Path:
    """Where ``get KEY [DEST]`` writes: DEST, or the key's last segment inside DEST if it
    is a directory, or in the working directory when DEST is not given."""
    name = key.rpartition("/")[2]
    if dest is None:
        return Path(name)
    path = Path(dest)
    return path / name if path.is_dir() else path


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A file that appears at ``path`` whole when the block ends, or not at all.

    Raises:
        OSError: the directory cannot be written.
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
