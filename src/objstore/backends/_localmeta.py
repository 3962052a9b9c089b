"""Where the file backend keeps content types and metadata: records and their stores.

A record is the content type and the user metadata of one version, as
length-prefixed UTF-8 fields: compact (an ext4 xattr holds ~4 KiB), and any
``str`` survives, control characters included. It lives either in an extended
attribute of the data file itself (:class:`XattrStore`) or, on filesystems
without user xattrs, in a small file per version (:class:`SidecarStore`).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType

from ._localfs import INTERNAL, O_DIR, O_READ, write_all

logger = logging.getLogger("objstore")

SIDECAR_DIR = INTERNAL + "objstore-meta"
JOURNAL = INTERNAL + "journal"  # inside SIDECAR_DIR; records are named by etag, never like this
XATTR_NAME = "user.objstore"

EMPTY_METADATA: Mapping[str, str] = MappingProxyType({})

_RECORD_MAGIC = b"objstore1;"
_O_JOURNAL = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
_O_RECORD = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC


def encode_record(content_type: str, metadata: Mapping[str, str]) -> bytes:
    if not metadata:
        return _content_type_record(content_type)
    fields = [content_type, *(item for pair in sorted(metadata.items()) for item in pair)]
    return _encode_fields(fields)


@functools.lru_cache(maxsize=256)
def _content_type_record(content_type: str) -> bytes:
    return _encode_fields([content_type])  # most objects carry no metadata: reuse the bytes


def _encode_fields(fields: list[str]) -> bytes:
    out = [_RECORD_MAGIC]
    for field in fields:
        raw = field.encode("utf-8")
        out.append(b"%d:" % len(raw))
        out.append(raw)
    return b"".join(out)


def decode_record(record: bytes) -> tuple[str, Mapping[str, str]] | None:
    """Parse a record; ``None`` if it is not one (a foreign or damaged attribute)."""
    if not record.startswith(_RECORD_MAGIC):
        return None
    fields: list[str] = []
    pos = len(_RECORD_MAGIC)
    try:
        while pos < len(record):
            colon = record.index(b":", pos)
            end = colon + 1 + int(record[pos:colon])
            fields.append(record[colon + 1 : end].decode("utf-8"))
            pos = end
    except (ValueError, UnicodeDecodeError):
        return None
    if len(fields) % 2 != 1 or pos != len(record):
        return None
    pairs = fields[1:]
    metadata = dict(zip(pairs[::2], pairs[1::2], strict=True))
    return fields[0], MappingProxyType(metadata) if metadata else EMPTY_METADATA


class AttributeStore:
    """Where records live, committed atomically with the data.

    A write calls :meth:`stamp` on the finished temp file, then, under the
    commit lock, :meth:`begin` right before the data file gets its name, and
    :meth:`finish` (or :meth:`abort` if naming failed) right after. A delete
    calls ``begin(key, old, None, None)`` and ``finish(old)`` around its unlink.
    """

    #: whether a missing record may mean "replaced while reading" (check ``st_nlink``)
    racy_reads = False

    def stamp(self, fd: int, record: bytes) -> None:
        """Attach ``record`` to the temp file, before the commit (outside the lock)."""

    def begin(self, key: str, old: str | None, new: str | None, record: bytes | None) -> None:
        """Under the commit lock: ``key``'s version ``old`` is about to become ``new``."""

    def finish(self, old: str | None) -> None:
        """Under the commit lock, after the commit; MUST NOT raise (the commit happened)."""

    def abort(self, new: str | None) -> None:
        """Under the commit lock, when the commit failed after :meth:`begin`."""

    def read(self, fd: int, etag: str) -> bytes | None:
        raise NotImplementedError

    def recover(self, lock: contextlib.AbstractContextManager[None]) -> None:
        """At open: finish what a writer killed midway left (taking ``lock`` if needed)."""

    def descriptors(self) -> list[int]:
        """The descriptors this store holds open (the backend retires them at close)."""
        return []


class XattrStore(AttributeStore):
    """An extended attribute on the data file itself, set on the temp file before rename.

    The record travels with the inode, so a commit is the data file's rename
    alone and a killed writer cannot leave a record behind.
    """

    def stamp(self, fd: int, record: bytes) -> None:
        os.setxattr(fd, XATTR_NAME, record)

    def read(self, fd: int, etag: str) -> bytes | None:
        try:
            return os.getxattr(fd, XATTR_NAME)
        except OSError as exc:
            if exc.errno in (errno.ENODATA, errno.ENOTSUP):
                return None
            raise


class SidecarStore(AttributeStore):
    """Fallback for filesystems without user xattrs: one small file per version.

    The record of version ``E`` is the file ``root/\\x01objstore-meta/E``. It is
    written under the commit lock before the data file is renamed into place,
    so a reader that sees new data finds its record; the old version's record
    is removed after the rename, so a reader that loses that race sees the old
    file unlinked (``st_nlink == 0``) and starts over.

    Commits are serialised across processes by the commit lock, so one journal
    serves them all: before touching records, a commit writes the key and both
    etags to ``\\x01journal`` in the sidecar directory, and empties it after. A
    journal found non-empty (by the next commit, or a store opening) means a
    writer was killed midway; of the two records it names, whichever is not the
    key's current version is removed. So a killed writer leaves no record behind.

    Args:
        root_fd: The store's root directory.
        current: Returns the etag of the object now stored under a key (``None``
            when there is none); called under the commit lock while recovering.
        fsync: Flush each record before the data file that needs it is renamed.
    """

    racy_reads = True

    def __init__(self, root_fd: int, current: Callable[[str], str | None], fsync: bool = False):
        self._root_fd = root_fd
        self._current = current
        self._fsync = fsync
        self._fd = -1
        self._journal = -1
        self._lock = threading.RLock()
        self._pending = False  # a commit of this process is between begin and finish

    def begin(self, key: str, old: str | None, new: str | None, record: bytes | None) -> None:
        if old is None and new is None:
            return  # no record to write or remove (a delete of a missing key)
        meta, journal = self._open()
        if os.pread(journal, 1, 0):
            self._replay(meta, journal)
        os.pwrite(journal, "\0".join((key, old or "", new or "")).encode("utf-8"), 0)
        self._pending = True
        if new is None or record is None:
            return
        try:
            out = os.open(new, _O_RECORD, 0o666, dir_fd=meta)
            try:
                write_all(out, record)
                if self._fsync:
                    os.fsync(out)
            finally:
                os.close(out)
        except BaseException:
            self.abort(new)
            raise

    def finish(self, old: str | None) -> None:
        if not self._pending:
            return
        self._pending = False
        try:
            if old is not None:
                self._forget(self._fd, old)
            os.ftruncate(self._journal, 0)
        except OSError as exc:  # the journal stays: the next commit finishes this one
            logger.debug("objstore: sidecar journal left for the next commit: %s", exc.strerror)

    def abort(self, new: str | None) -> None:
        self.finish(new)

    def read(self, fd: int, etag: str) -> bytes | None:
        try:
            src = os.open(etag, O_READ, dir_fd=self._dir(create=False))
        except FileNotFoundError:
            return None  # no record (or no sidecar directory at all): a foreign file
        try:
            return os.read(src, 1 << 16)
        finally:
            os.close(src)

    def recover(self, lock: contextlib.AbstractContextManager[None]) -> None:
        try:
            meta = os.open(SIDECAR_DIR, O_DIR, dir_fd=self._root_fd)
        except OSError:
            return  # no sidecar directory yet (or not ours to read): nothing to finish
        try:
            journal = os.open(JOURNAL, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=meta)
        except OSError:
            os.close(meta)
            return
        try:
            if os.pread(journal, 1, 0):
                with lock:
                    self._replay(meta, journal)
        finally:
            os.close(journal)
            os.close(meta)

    def descriptors(self) -> list[int]:
        return [fd for fd in (self._fd, self._journal) if fd >= 0]

    def _replay(self, meta: int, journal: int) -> None:
        """Finish the commit a killed writer left in the journal (under the commit lock)."""
        raw = os.pread(journal, 4096, 0)
        if not raw:
            return  # the commit we waited for finished it
        try:
            key, old, new = raw.decode("utf-8").split("\0")
            current = self._current(key)
        except (UnicodeDecodeError, ValueError, OSError) as exc:
            # Which version is current cannot be told: keep both records (a leak
            # of a few bytes) rather than risk removing a live one.
            logger.warning("objstore: sidecar journal not replayed: %s", exc)
        else:
            for etag in (old, new):
                if etag and etag != current:
                    self._forget(meta, etag)
        os.ftruncate(journal, 0)

    @staticmethod
    def _forget(meta: int, etag: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(etag, dir_fd=meta)

    def _open(self) -> tuple[int, int]:
        """The sidecar directory and the journal, created on first use (under the lock)."""
        if self._journal < 0:
            with self._lock:
                if self._journal < 0:
                    meta = self._dir(create=True)
                    self._journal = os.open(JOURNAL, _O_JOURNAL, 0o666, dir_fd=meta)
        return self._fd, self._journal

    def _dir(self, create: bool) -> int:
        if self._fd < 0:
            with self._lock:
                if self._fd < 0:
                    if create:
                        with contextlib.suppress(FileExistsError):
                            os.mkdir(SIDECAR_DIR, dir_fd=self._root_fd)
                    self._fd = os.open(SIDECAR_DIR, O_DIR, dir_fd=self._root_fd)
        return self._fd
