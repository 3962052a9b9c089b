"""How the file backend writes: temp files, the staging directory and the commit.

A put writes its data to a temp file, stamps it (modification time, record),
and commits under the commit lock: ``link`` gives a new key its name at once,
and an existing key is replaced by a ``rename`` from the staging directory
``root/\\x01objstore-staging``. Where the filesystem has ``O_TMPFILE``, the
temp file is anonymous and gets a name in the staging directory only inside
the critical section; elsewhere it is created there, named, and holds an
``flock`` while its writer lives. Either way a named temp file that whoever
holds the commit lock can ``flock`` is debris of a killed writer: a store
opening sweeps the staging directory, and a put that finds a directory of
debris in its way removes it.

Errors are raw ``OSError`` (the backend translates them) except the two the
write path decides itself: :class:`KeyConflictError` and
:class:`PreconditionFailedError`.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from contextlib import suppress

from ..backend import Create, Update, WriteMode, check_write
from ..errors import KeyConflictError, PreconditionFailedError
from ._localfs import (
    O_DIR,
    O_TEMP,
    O_TMPFILE,
    STAGING_DIR,
    CommitLock,
    DirChain,
    NotADirectoryOnPathError,
    current_etag,
    etag_of,
    lock_temp,
    open_dirs,
    prune_dirs,
    remove_debris_dir,
    sweep,
    temp_name,
)
from ._localmeta import AttributeStore, XattrStore

_O_ANONYMOUS = O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC


class TempFile:
    """The data of a write in progress: its descriptor and, if it has one, its name.

    ``name`` is set while the file has a name that is not yet the key's, in the
    directory ``dir_fd`` (the staging directory, or the key's own when that is
    another filesystem).
    """

    __slots__ = ("dir_fd", "fd", "name")

    def __init__(self, fd: int, dir_fd: int, name: str | None):
        self.fd = fd
        self.dir_fd = dir_fd
        self.name = name

    def discard(self) -> None:
        name, self.name = self.name, None
        if name is not None:
            with suppress(OSError):
                os.unlink(name, dir_fd=self.dir_fd)


class Writer:
    """The write path of one store: temp files, the commit, the staging directory.

    Args:
        root_fd: The store's root directory.
        lock: The store's commit lock.
        backend: The backend's name, for errors.
        fsync: Flush data and directory entries before a commit returns.
    """

    def __init__(self, root_fd: int, lock: CommitLock, backend: str, fsync: bool):
        self.root_fd = root_fd
        self.lock = lock
        self.attrs: AttributeStore = XattrStore()
        self.anonymous = False
        self.staging_fd = -1
        self._backend = backend
        self._fsync = fsync
        self._root_dev = os.fstat(root_fd).st_dev

    # -- opening -------------------------------------------------------------------------

    def probe(self) -> bool:
        """Find out whether anonymous temp files work here (sets :attr:`anonymous`),
        and return whether user xattrs do. Neither probe names anything in the root."""
        fd = self._anonymous_probe()
        self.anonymous = fd >= 0
        if not self.anonymous:
            try:
                fd = self._named_probe()
            except OSError:
                # A read-only root: reads work, writes will say why they cannot.
                return hasattr(os, "getxattr")
        try:
            os.setxattr(fd, "user.objstore-probe", b"1")
            return True
        except (OSError, AttributeError):
            return False
        finally:
            os.close(fd)

    def _anonymous_probe(self) -> int:
        """An ``O_TMPFILE`` in the root if it can be linked (through ``/proc``), else -1."""
        if not O_TMPFILE:
            return -1
        try:
            fd = os.open(".", _O_ANONYMOUS, 0o600, dir_fd=self.root_fd)
        except OSError:
            return -1
        if os.path.exists(f"/proc/self/fd/{fd}"):
            return fd
        os.close(fd)
        return -1

    def _named_probe(self) -> int:
        name = temp_name()
        staging = self.staging()
        fd = os.open(name, O_TEMP, 0o600, dir_fd=staging)
        with suppress(OSError):
            os.unlink(name, dir_fd=staging)
        return fd

    def sweep_staging(self) -> int:
        """Remove the stale temp files of the staging directory; return how many."""
        if self.staging_fd < 0:
            try:
                self.staging_fd = os.open(STAGING_DIR, O_DIR, dir_fd=self.root_fd)
            except FileNotFoundError:
                return 0
        with os.scandir(self.staging_fd) as entries:
            if next(entries, None) is None:
                return 0
        with self.lock:
            return sweep(self.staging_fd)

    def staging(self) -> int:
        """The staging directory, made on first use; called under the commit lock."""
        if self.staging_fd < 0:
            with suppress(FileExistsError):
                os.mkdir(STAGING_DIR, dir_fd=self.root_fd)
            self.staging_fd = os.open(STAGING_DIR, O_DIR, dir_fd=self.root_fd)
        return self.staging_fd

    # -- before the commit ---------------------------------------------------------------

    def open_temp(self, key: str, dirs: list[str]) -> tuple[DirChain, TempFile]:
        """Open the key's directories (creating them) and a temp file for its data.

        Deletes prune emptied directories under the commit lock, so resolving
        and creating under it too means no delete can remove a directory in
        between; a named temp file is created and marked live under it, so no
        sweeper can take it for debris. An anonymous temp file in the root
        needs neither.
        """
        if not dirs and self.anonymous:
            chain = DirChain(self.root_fd, [])
            return chain, self._new_temp(chain)
        with self.lock:
            chain = self.make_dirs(key, dirs)
            try:
                return chain, self._new_temp(chain)
            except BaseException:
                prune_dirs(chain)
                chain.close()
                raise

    def _new_temp(self, chain: DirChain) -> TempFile:
        if self.anonymous:
            return TempFile(os.open(".", _O_ANONYMOUS, 0o666, dir_fd=chain.fd), chain.fd, None)
        where, name = self._temp_dir(chain), temp_name()
        temp = TempFile(os.open(name, O_TEMP, 0o666, dir_fd=where), where, name)
        try:
            lock_temp(temp.fd)
        except BaseException:
            os.close(temp.fd)
            temp.discard()
            raise
        return temp

    def _temp_dir(self, chain: DirChain) -> int:
        """Where a named temp file goes: the staging directory, unless the key's
        directory is another filesystem (a mount inside the root), which a rename
        from the staging directory could not reach. A named temp file keeps its
        directory non-empty, so no delete prunes that directory under it."""
        if chain.names and os.fstat(chain.fd).st_dev != self._root_dev:
            return chain.fd
        return self.staging()

    def make_dirs(self, key: str, dirs: list[str]) -> DirChain:
        """Open (creating) the key's directories; under the commit lock."""
        try:
            return open_dirs(self.root_fd, dirs, create=True)
        except NotADirectoryOnPathError as exc:
            raise KeyConflictError(
                f"cannot store {key!r}: {exc.name!r} is an object (or a symbolic link) in "
                "the file store, and a path cannot be both a file and a directory",
                key=key,
                backend=self._backend,
            ) from None

    def stamp(self, fd: int, record: bytes) -> tuple[str, os.stat_result]:
        """Stamp the temp file with a unique mtime and its record; return its etag."""
        now = time.time_ns()
        os.utime(fd, ns=(now, now))
        st = os.fstat(fd)
        self.attrs.stamp(fd, record)
        if self._fsync:
            os.fsync(fd)
        return etag_of(st), st

    # -- the commit ----------------------------------------------------------------------

    def commit(
        self,
        key: str,
        chain: DirChain,
        temp: TempFile,
        mode: WriteMode,
        version: tuple[str, bytes],
        seal: Callable[[], None] | None,
    ) -> None:
        """Give the stamped temp file the key's name, as ``mode`` allows.

        ``version`` is the new etag and record; ``seal`` is called right before.
        """
        etag, record = version
        name = key.rpartition("/")[2]
        with self.lock:
            if chain.names and os.fstat(chain.fd).st_nlink == 0:
                # A delete emptied and removed the directory while we wrote.
                chain.close()
                chain.fds[1:] = self.make_dirs(key, chain.names).fds[1:]
            old, looked = None, self.attrs.racy_reads or isinstance(mode, Update)
            if looked:
                old = current_etag(chain.fd, name)
                check_write(key, mode, old, self._backend)
            if seal is not None:
                seal()
            self.attrs.begin(key, old, etag, record)
            try:
                if isinstance(mode, Create):
                    self._link_new(key, chain.fd, name, temp)
                else:
                    self._replace(key, chain.fd, name, temp, absent=looked and old is None)
            except BaseException:
                self.attrs.abort(etag)
                raise
            self.attrs.finish(old)
        if self._fsync:
            os.fsync(chain.fd)

    def _link_new(self, key: str, dir_fd: int, name: str, temp: TempFile) -> None:
        try:
            _link(temp, dir_fd, name)
        except FileExistsError:
            if not self._clear_dir(dir_fd, name, key):
                raise PreconditionFailedError(
                    f"{key!r} already exists", key=key, backend=self._backend
                ) from None
            _link(temp, dir_fd, name)
        temp.discard()  # a named temp file's data now has the key's name too

    def _replace(self, key: str, dir_fd: int, name: str, temp: TempFile, absent: bool) -> None:
        """Put the temp file in place of ``name``, which is ``absent`` if known to be.

        A failed ``link`` costs as much as the ``link`` and ``rename`` of a
        replace, so a key not known to be absent goes straight to the rename.
        """
        source = temp.name
        if source is None and absent:
            try:
                _link(temp, dir_fd, name)  # a new key: its name at once, no temp name
                return
            except FileExistsError:
                pass  # a directory of that name (the commit saw no object)
        if source is None:
            source = self._name_temp(temp, dir_fd)
        try:
            try:
                os.rename(source, name, src_dir_fd=temp.dir_fd, dst_dir_fd=dir_fd)
            except IsADirectoryError:
                if not self._clear_dir(dir_fd, name, key):
                    raise
                os.rename(source, name, src_dir_fd=temp.dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            temp.discard()
            raise
        temp.name = None

    def _name_temp(self, temp: TempFile, dir_fd: int) -> str:
        """Give an anonymous temp file a name to rename from, in the staging directory
        (the key's own when that is another filesystem)."""
        name = temp_name()
        source = f"/proc/self/fd/{temp.fd}"
        try:
            staging = self.staging()
            os.link(source, name, dst_dir_fd=staging, follow_symlinks=True)
            temp.dir_fd = staging
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            os.link(source, name, dst_dir_fd=dir_fd, follow_symlinks=True)
            temp.dir_fd = dir_fd
        temp.name = name
        return name

    def _clear_dir(self, dir_fd: int, name: str, key: str) -> bool:
        """Remove a directory of debris in the way of ``name``; anything else is a conflict."""
        try:
            return remove_debris_dir(dir_fd, name)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise KeyConflictError(
                    f"cannot store {key!r}: the file store holds keys (or files that are not "
                    f"objects) below '{key}/', and a path cannot be both a file and a directory",
                    key=key,
                    backend=self._backend,
                ) from exc
            raise

    def discard(self, chain: DirChain, temp: TempFile) -> None:
        """Undo a write that did not commit: its temp file, and the directories it made."""
        temp.discard()
        if chain.names:
            with self.lock:
                prune_dirs(chain)


def _link(temp: TempFile, dir_fd: int, name: str) -> None:
    if temp.name is None:
        os.link(f"/proc/self/fd/{temp.fd}", name, dst_dir_fd=dir_fd, follow_symlinks=True)
    else:
        os.link(temp.name, name, src_dir_fd=temp.dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
