"""Filesystem primitives for the file backend.

Everything here works relative to directory file descriptors and never follows a
symbolic link (``O_NOFOLLOW`` on every component), so no path inside the root
can lead outside it, whatever was planted there.

Internal names (temp files, the sidecar directory) start with U+0001: no
portable key contains a control character, so no key can ever collide with
them, and listings skip them like any other name that is not a valid key.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import stat
import threading
import weakref
from collections.abc import Mapping
from types import MappingProxyType

O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
O_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
O_TEMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
O_TMPFILE = getattr(os, "O_TMPFILE", 0)

INTERNAL = "\x01"
TEMP_PREFIX = INTERNAL + "objstore-tmp-"
SIDECAR_DIR = INTERNAL + "objstore-meta"
XATTR_NAME = "user.objstore"
_ATTEMPTS = 8  # retries when concurrent deletes keep pruning the directories we need

EMPTY_METADATA: Mapping[str, str] = MappingProxyType({})


def etag_of(st: os.stat_result) -> str:
    """The etag of a file: its modification time, inode number and size.

    objstore sets the modification time of every file it writes to the current
    time in nanoseconds, and every write is a new inode, so two versions never
    share an etag; computing it costs no read of the content.
    """
    return f"{st.st_mtime_ns:x}-{st.st_ino:x}-{st.st_size:x}"


def temp_name() -> str:
    return TEMP_PREFIX + os.urandom(8).hex()


# -- metadata records ---------------------------------------------------------------------
# content type and metadata as length-prefixed UTF-8 fields: compact (an ext4 xattr
# holds ~4 KiB), and any str survives, control characters included.

_RECORD_MAGIC = b"objstore1;"


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
    """Where content type and metadata live, committed atomically with the data."""

    #: whether a missing record may mean "replaced while reading" (check ``st_nlink``)
    racy_reads = False

    def write(self, fd: int, etag: str, record: bytes) -> None:
        raise NotImplementedError

    def read(self, fd: int, etag: str) -> bytes | None:
        raise NotImplementedError

    def forget(self, etag: str) -> None:
        return None

    def close(self) -> None:
        return None


class XattrStore(AttributeStore):
    """An extended attribute on the data file itself, set on the temp file before rename."""

    def write(self, fd: int, etag: str, record: bytes) -> None:
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

    The sidecar is named after the data file's etag and written before the data
    file is renamed into place, so a reader that sees new data finds its record;
    the old version's record is removed after the rename, so a reader that loses
    that race sees the old file unlinked (``st_nlink == 0``) and starts over.
    """

    racy_reads = True

    def __init__(self, root_fd: int):
        self._root_fd = root_fd
        self._fd: int | None = None
        self._lock = threading.Lock()

    def write(self, fd: int, etag: str, record: bytes) -> None:
        meta = self._dir()
        tmp = temp_name()
        out = os.open(tmp, O_TEMP, 0o666, dir_fd=meta)
        try:
            write_all(out, memoryview(record))
        finally:
            os.close(out)
        os.rename(tmp, etag, src_dir_fd=meta, dst_dir_fd=meta)

    def read(self, fd: int, etag: str) -> bytes | None:
        try:
            src = os.open(etag, O_READ, dir_fd=self._dir())
        except FileNotFoundError:
            return None
        try:
            return os.read(src, 1 << 16)
        finally:
            os.close(src)

    def forget(self, etag: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(etag, dir_fd=self._dir())

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _dir(self) -> int:
        if self._fd is None:
            with self._lock:
                if self._fd is None:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(SIDECAR_DIR, dir_fd=self._root_fd)
                    self._fd = os.open(SIDECAR_DIR, O_DIR, dir_fd=self._root_fd)
        return self._fd


# -- directories --------------------------------------------------------------------------


class DirChain:
    """Open descriptors of a key's ancestor directories, root first.

    ``fds[i]`` is the directory holding ``names[i]`` (and ``fds[-1]`` the one
    holding the object). The root descriptor belongs to the backend and is
    never closed here.
    """

    __slots__ = ("fds", "names")

    def __init__(self, root_fd: int, names: list[str]):
        self.fds = [root_fd]
        self.names = names

    @property
    def fd(self) -> int:
        return self.fds[-1]

    def close(self) -> None:
        for fd in self.fds[1:]:
            os.close(fd)
        del self.fds[1:]


class NotADirectoryOnPathError(Exception):
    """A key's ancestor exists but is a file or a symbolic link; ``name`` says which."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def open_dirs(root_fd: int, names: list[str], create: bool) -> DirChain:
    """Open the directories ``names`` below the root, creating them if asked.

    When creating, a directory that vanishes midway (a concurrent delete pruned
    it) makes the walk start over from the root.

    Raises:
        FileNotFoundError: a directory is missing and ``create`` is false.
        NotADirectoryOnPathError: a component is a file or a symbolic link.
    """
    for _ in range(_ATTEMPTS):
        chain = DirChain(root_fd, names)
        try:
            for depth, name in enumerate(names):
                chain.fds.append(_open_dir(chain.fd, name, create, "/".join(names[: depth + 1])))
        except FileNotFoundError:
            chain.close()
            if not create:
                raise
            continue
        except BaseException:
            chain.close()
            raise
        return chain
    raise FileNotFoundError(errno.ENOENT, "directories keep disappearing", "/".join(names))


def _open_dir(parent: int, name: str, create: bool, path: str) -> int:
    try:
        try:
            return os.open(name, O_DIR, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
        with contextlib.suppress(FileExistsError):  # a concurrent writer made it: fine
            os.mkdir(name, dir_fd=parent)
        return os.open(name, O_DIR, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP):
            raise NotADirectoryOnPathError(path) from exc
        raise


def prune_dirs(chain: DirChain) -> None:
    """Remove the chain's directories, deepest first, while they are empty."""
    for depth in range(len(chain.names) - 1, -1, -1):
        try:
            os.rmdir(chain.names[depth], dir_fd=chain.fds[depth])
        except OSError:
            return  # not empty (or gone): the ones above are not empty either


# -- data ---------------------------------------------------------------------------------


def write_all(fd: int, data: memoryview | bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def is_regular(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode)


def copy_fd(src: int, dst: int, size: int) -> None:
    """Copy ``size`` bytes between files in the kernel where it can (reflinks on btrfs/xfs)."""
    offset = 0
    try:
        while offset < size:
            copied = os.copy_file_range(src, dst, size - offset, offset)
            if copied == 0:
                break
            offset += copied
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    while offset < size:
        chunk = os.pread(src, min(1 << 20, size - offset), offset)
        if not chunk:
            break
        write_all(dst, chunk)
        offset += len(chunk)


# -- the commit lock ----------------------------------------------------------------------


class CommitLock:
    """Serialises the commit step of every write across threads and processes.

    A thread lock for this process, plus ``flock`` on the root directory for
    other processes. The critical section is a rename or a link (and, for
    compare-and-swap, one ``stat``): data is written before the lock is taken.
    Use it as a context manager.
    """

    def __init__(self, root_fd: int):
        self._root_fd = root_fd
        self._mutex = threading.Lock()
        self._fd = self._open()
        _LIVE_LOCKS.add(self)

    def __enter__(self) -> None:
        self._mutex.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._mutex.release()
            raise

    def __exit__(self, *exc_info: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._mutex.release()

    def _open(self) -> int:
        return os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self._root_fd)

    def _after_fork(self) -> None:
        # A forked child shares the parent's open file description, and so its
        # flock: it needs one of its own, and a thread lock no parent thread holds.
        if self._fd < 0:
            return
        os.close(self._fd)
        self._mutex = threading.Lock()
        self._fd = self._open()

    def close(self) -> None:
        _LIVE_LOCKS.discard(self)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1


_LIVE_LOCKS: weakref.WeakSet[CommitLock] = weakref.WeakSet()


def _reopen_locks_after_fork() -> None:
    for lock in list(_LIVE_LOCKS):
        lock._after_fork()


os.register_at_fork(after_in_child=_reopen_locks_after_fork)
