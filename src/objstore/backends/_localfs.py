"""Filesystem primitives for the file backend.

Everything here works relative to directory file descriptors and never follows a
symbolic link (``O_NOFOLLOW`` on every component), so no path inside the root
can lead outside it, whatever was planted there.

Internal names (temp files, the staging and sidecar directories) start with
U+0001: no portable key contains a control character, so no key can ever
collide with them, and listings skip them like any other name that is not a
valid key.

Debris and how it is told apart from live work: a temp file that has a name
(``\x01objstore-tmp-*``) belongs to a live writer only while that writer holds
an ``flock`` on it, or while it holds the commit lock. So whoever holds the
commit lock and can take a temp file's ``flock`` knows its writer is gone, and
removes it (:func:`is_stale`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import threading
import weakref
from collections.abc import Iterable

O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
O_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
O_TEMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
O_TMPFILE = getattr(os, "O_TMPFILE", 0)

INTERNAL = "\x01"
TEMP_PREFIX = INTERNAL + "objstore-tmp-"
STAGING_DIR = INTERNAL + "objstore-staging"
_ATTEMPTS = 8  # retries when concurrent deletes keep pruning the directories we need
#: errors that mean an entry vanished or changed kind under us (a concurrent delete or put)
VANISHED = frozenset((errno.ENOENT, errno.ENOTDIR, errno.ELOOP))


def etag_of(st: os.stat_result) -> str:
    """The etag of a file: its modification time, inode number and size.

    objstore sets the modification time of every file it writes to the current
    time in nanoseconds, and every write is a new inode, so two versions never
    share an etag; computing it costs no read of the content.
    """
    return f"{st.st_mtime_ns:x}-{st.st_ino:x}-{st.st_size:x}"


def temp_name() -> str:
    return TEMP_PREFIX + os.urandom(8).hex()


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
    it) makes the walk start over from the root, and a failure (a full disk, a
    file in the way) removes the directories it left empty. Call it under the
    commit lock when creating, as deletes prune under it.

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
            if create:
                prune_dirs(chain)
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
    """Remove the chain's open directories, deepest first, while they are empty."""
    for depth in range(min(len(chain.names), len(chain.fds)) - 1, -1, -1):
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


def current_etag(dir_fd: int, name: str) -> str | None:
    """The etag of the object ``name`` in ``dir_fd``; None if there is none."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return etag_of(st) if is_regular(st) else None


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


# -- debris -------------------------------------------------------------------------------


def lock_temp(fd: int) -> None:
    """Mark a named temp file live: its ``flock`` is held for as long as ``fd`` is open.

    Create the file and call this under the commit lock, so that no sweeper
    (which holds it too) sees the file before it is marked.
    """
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def is_stale(dir_fd: int, name: str) -> bool:
    """Whether the temp file ``name`` is debris: its writer is gone. Call under the commit lock."""
    try:
        fd = os.open(name, O_READ, dir_fd=dir_fd)
    except OSError as exc:
        return exc.errno in VANISHED  # gone already, or a link planted under our name
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def sweep(dir_fd: int) -> int:
    """Remove the directory's stale temp files (under the commit lock); return how many."""
    with os.scandir(dir_fd) as entries:
        names = [entry.name for entry in entries if entry.name.startswith(TEMP_PREFIX)]
    removed = 0
    for name in names:
        if is_stale(dir_fd, name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=dir_fd)
            removed += 1
    return removed


def remove_debris_dir(parent: int, name: str) -> bool:
    """Remove the directory ``name`` if it holds nothing but debris; under the commit lock.

    Debris is empty directories and stale temp files, at any depth: what a
    killed writer or another program can leave, which no listing shows and so
    must not stop a key from being written.

    Returns:
        False if ``name`` is not a directory (nothing was removed), True if it was removed.

    Raises:
        OSError: ``ENOTEMPTY`` if it holds anything else (an object, a foreign
            file, a live temp file); the debris found so far is gone anyway.
    """
    try:
        fd = os.open(name, O_DIR, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP):
            return False
        raise
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    remove_debris_dir(fd, entry.name)
                elif entry.name.startswith(TEMP_PREFIX) and is_stale(fd, entry.name):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.name, dir_fd=fd)
                else:
                    raise OSError(errno.ENOTEMPTY, os.strerror(errno.ENOTEMPTY))
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent)
    return True


# -- closing --------------------------------------------------------------------------------


class Lifetime:
    """Whether a store is closed, shared with the listings and streams it hands out,
    which check it at every step (an attribute read: cheaper than a call)."""

    __slots__ = ("closed",)

    def __init__(self) -> None:
        self.closed = False


def retire(fds: Iterable[int]) -> None:
    """Point each descriptor at ``/dev/null``, keeping its number taken.

    Closing a directory descriptor that a call on another thread is about to
    use would let that call act on whatever file reuses the number next, maybe
    outside the root. A retired number fails such a call (``ENOTDIR``) instead;
    :func:`close_all` frees the numbers once nothing can use them.
    """
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for fd in fds:
            os.dup2(null, fd, inheritable=False)
    finally:
        os.close(null)


def close_all(fds: Iterable[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


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
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:  # a KeyboardInterrupt here must not leave the thread lock held
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

    def release(self) -> int:
        """Stop following forks and hand over the descriptor, for the backend to retire."""
        _LIVE_LOCKS.discard(self)
        return self._fd


_LIVE_LOCKS: weakref.WeakSet[CommitLock] = weakref.WeakSet()


def _reopen_locks_after_fork() -> None:
    for lock in list(_LIVE_LOCKS):
        lock._after_fork()


os.register_at_fork(after_in_child=_reopen_locks_after_fork)
