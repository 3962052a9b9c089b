"""The file backend: object ``k`` is the plain file ``root/k``.

How it keeps the contract (docs/file-backend.md has the long version):

- Atomic put: data goes to an anonymous ``O_TMPFILE`` in the target directory
  (a hidden, randomly named temp file where the filesystem has none), content
  type and metadata are set on it as an extended attribute, and it is renamed
  into place. Readers see the old file or the new one; a killed writer leaves
  at most a complete hidden file, never a visible or partial one.
- Etags come from ``stat`` (mtime in ns, inode, size): no read of the content.
- Commits (rename, link, unlink) run under :class:`CommitLock`, so
  compare-and-swap is race-free across threads and processes; create-if-absent
  uses ``link``, which fails atomically when the name exists.
- Every path is resolved component by component with ``O_NOFOLLOW``: nothing
  outside the root is ever read, written or deleted, symlinks or not.
- Listing walks directories lazily in key order, one sorted directory at a time.
"""

from __future__ import annotations

import builtins
import errno
import logging
import os
import stat as statmod
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Literal, TypeVar

from .._checks import guess_content_type
from .._keys import key_problem
from .._listing import collapse
from .._models import Capabilities, CommonPrefix, ObjectInfo
from .._payload import Payload
from ..backend import BackendBase, Create, Overwrite, WriteMode, check_write
from ..errors import (
    ConfigError,
    KeyConflictError,
    NotFoundError,
    ObjstoreError,
    PermissionDeniedError,
    PreconditionFailedError,
    UnavailableError,
)
from ._localfs import (
    _ATTEMPTS,
    EMPTY_METADATA,
    O_DIR,
    O_READ,
    O_TEMP,
    O_TMPFILE,
    AttributeStore,
    CommitLock,
    DirChain,
    NotADirectoryOnPathError,
    SidecarStore,
    XattrStore,
    copy_fd,
    decode_record,
    encode_record,
    etag_of,
    is_regular,
    open_dirs,
    prune_dirs,
    temp_name,
    write_all,
)

logger = logging.getLogger("objstore")

MetadataStorage = Literal["auto", "xattr", "sidecar"]
_T = TypeVar("_T")

_CACHE_LIMIT = 8192


class _FileStream:
    def __init__(self, fd: int, start: int, end: int, info: ObjectInfo):
        self.info = info
        self._fd = fd
        self._pos = start
        self._end = end

    def read(self, n: int) -> bytes:
        n = min(n, self._end - self._pos)
        if n <= 0:
            return b""
        data = os.pread(self._fd, n, self._pos)
        self._pos += len(data)
        return data

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


class FileBackend(BackendBase):
    """Objects as plain files under ``root``.

    Args:
        root: The directory holding the objects; created if missing.
        metadata_storage: ``"xattr"`` (extended attributes), ``"sidecar"`` (small
            files in a hidden directory, for filesystems without user xattrs), or
            ``"auto"``: xattrs where the filesystem has them.
        fsync: Flush data and directory entries to disk before ``put`` returns
            (durable across power loss; slower).
    """

    name = "file"
    reports_retries = False  # nothing to retry: the store need not tally attempts
    capabilities = Capabilities(conditional_put=True, server_side_copy=True, nested_keys=False)

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        metadata_storage: MetadataStorage = "auto",
        fsync: bool = False,
    ):
        if os.name != "posix":
            raise ConfigError("the file backend needs a POSIX system", backend=self.name)
        try:
            os.makedirs(root, exist_ok=True)
            self.root = os.path.realpath(root)
            self._root_fd = os.open(self.root, O_DIR & ~os.O_NOFOLLOW)
        except OSError as exc:
            raise ConfigError(
                f"cannot use {os.fspath(root)!r} as the file store's root: {exc.strerror}",
                backend=self.name,
            ) from exc
        self._fsync = fsync
        self._lock = CommitLock(self._root_fd)
        self._cache: dict[tuple[str, int, int, int], ObjectInfo] = {}
        self._anonymous_temp, xattrs = self._probe()
        self._attrs = self._attribute_store(metadata_storage, xattrs)

    def __repr__(self) -> str:
        return f"FileBackend(root={self.root!r})"

    # -- put -----------------------------------------------------------------------------

    def put(
        self,
        key: str,
        payload: Payload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        return self._write(key, mode, content_type, metadata, lambda fd: _fill(fd, payload))

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        fd, info = self._open_object(src_key)
        try:
            return self._write(
                dst_key,
                mode,
                info.content_type or guess_content_type(dst_key),
                info.metadata or EMPTY_METADATA,
                lambda out: copy_fd(fd, out, info.size),
            )
        finally:
            os.close(fd)

    def _write(
        self,
        key: str,
        mode: WriteMode,
        content_type: str,
        metadata: Mapping[str, str],
        fill: Callable[[int], None],
    ) -> ObjectInfo:
        record = encode_record(content_type, metadata)
        *dirs, name = key.split("/")
        chain, fd, temp = self._open_temp(key, dirs)
        try:
            fill(fd)
            etag, st = self._seal(fd, record)
            self._commit(key, chain, name, fd, temp, mode)
            temp = None
        except BaseException as exc:
            self._discard(chain, temp, fd, created_dirs=bool(dirs))
            if isinstance(exc, OSError):
                raise self._error(exc, key) from exc
            raise
        finally:
            if fd >= 0:
                os.close(fd)
            chain.close()
        frozen = MappingProxyType(dict(metadata)) if metadata else EMPTY_METADATA
        info = ObjectInfo(key, st.st_size, etag, _mtime(st), content_type, frozen)
        self._remember(info, st)
        return info

    def _open_temp(self, key: str, dirs: builtins.list[str]) -> tuple[DirChain, int, str | None]:
        """Open the key's directories (creating them) and a temp file in the last one.

        Deletes prune emptied directories under the commit lock, so resolving
        and creating under it too means no delete can remove a directory in
        between. The root is never removed: keys directly in it need no lock.
        """
        if not dirs:
            chain = DirChain(self._root_fd, [])
            return chain, *self._new_temp(key, chain)
        with self._lock:
            chain = self._dirs(key, dirs, create=True)
            return chain, *self._new_temp(key, chain)

    def _new_temp(self, key: str, chain: DirChain) -> tuple[int, str | None]:
        try:
            return self._temp_file(chain.fd)
        except OSError as exc:
            chain.close()
            raise self._error(exc, key) from exc

    def _temp_file(self, dir_fd: int) -> tuple[int, str | None]:
        if self._anonymous_temp:
            return os.open(".", O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o666, dir_fd=dir_fd), None
        name = temp_name()
        return os.open(name, O_TEMP, 0o666, dir_fd=dir_fd), name

    def _seal(self, fd: int, record: bytes) -> tuple[str, os.stat_result]:
        """Stamp the temp file with a unique mtime and its record; return its etag."""
        now = time.time_ns()
        os.utime(fd, ns=(now, now))
        st = os.fstat(fd)
        etag = etag_of(st)
        self._attrs.write(fd, etag, record)
        if self._fsync:
            os.fsync(fd)
        return etag, st

    def _commit(
        self, key: str, chain: DirChain, name: str, fd: int, temp: str | None, mode: WriteMode
    ) -> None:
        with self._lock:
            if len(chain.fds) > 1 and os.fstat(chain.fd).st_nlink == 0:
                # A delete emptied and removed the directory while we wrote.
                chain.close()
                chain.fds[1:] = open_dirs(chain.fds[0], chain.names, create=True).fds[1:]
            if isinstance(mode, Create):
                self._link_new(key, chain.fd, name, fd, temp)
            else:
                if not isinstance(mode, Overwrite):
                    check_write(key, mode, self._current_etag(chain.fd, name), self.name)
                self._replace(key, chain.fd, name, fd, temp)
        if self._fsync:
            os.fsync(chain.fd)

    def _link_new(self, key: str, dir_fd: int, name: str, fd: int, temp: str | None) -> None:
        try:
            self._link(dir_fd, name, fd, temp)
        except FileExistsError:
            if self._clear_empty_dir(dir_fd, name, key):
                self._link(dir_fd, name, fd, temp)
                return
            raise PreconditionFailedError(
                f"{key!r} already exists", key=key, backend=self.name
            ) from None
        if temp is not None:
            os.unlink(temp, dir_fd=dir_fd)

    def _link(self, dir_fd: int, name: str, fd: int, temp: str | None) -> None:
        if temp is None:
            os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dir_fd, follow_symlinks=True)
        else:
            os.link(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)

    def _replace(self, key: str, dir_fd: int, name: str, fd: int, temp: str | None) -> None:
        old = self._current_etag(dir_fd, name) if self._attrs.racy_reads else None
        if temp is None:
            temp = temp_name()
            self._link(dir_fd, temp, fd, None)
        try:
            try:
                os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except IsADirectoryError:
                if not self._clear_empty_dir(dir_fd, name, key):
                    raise
                os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with suppress(OSError):
                os.unlink(temp, dir_fd=dir_fd)
            raise
        if old is not None:
            self._attrs.forget(old)

    def _clear_empty_dir(self, dir_fd: int, name: str, key: str) -> bool:
        """Remove an empty directory in the way of ``name``; a non-empty one is a conflict."""
        try:
            if not statmod.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                return False
            os.rmdir(name, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise KeyConflictError(
                    f"cannot store {key!r}: the file store already holds keys below "
                    f"'{key}/', and a path cannot be both a file and a directory",
                    key=key,
                    backend=self.name,
                ) from exc
            raise
        return True

    def _discard(self, chain: DirChain, temp: str | None, fd: int, created_dirs: bool) -> None:
        if temp is not None:
            with suppress(OSError):
                os.unlink(temp, dir_fd=chain.fd)
        if created_dirs:
            with self._lock:
                prune_dirs(chain)

    # -- read ----------------------------------------------------------------------------

    def get(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> _FileStream:
        fd, info = self._open_object(key)
        if if_match is not None and info.etag != if_match:
            os.close(fd)
            raise PreconditionFailedError(f"{key!r} changed", key=key, backend=self.name)
        end = info.size if length is None else min(info.size, offset + length)
        return _FileStream(fd, offset, end, info)

    def stat(self, key: str) -> ObjectInfo:
        st = self._at(key, lambda name, dir_fd: os.stat(name, dir_fd=dir_fd, follow_symlinks=False))
        if not is_regular(st):
            raise self._missing(key)
        cached = self._cache.get((key, st.st_mtime_ns, st.st_ino, st.st_size))
        if cached is not None:
            return cached
        fd, info = self._open_object(key)
        os.close(fd)
        return info

    def _at(self, key: str, call: Callable[[str, int], _T]) -> _T:
        """Run ``call(name, dir_fd)`` on the key's file without following any link.

        A key in the root needs no directory walk; others open their directories
        one component at a time with ``O_NOFOLLOW``.
        """
        dirs, _, name = key.rpartition("/")
        try:
            if not dirs:
                return call(key, self._root_fd)
            dir_fd = self._root_fd
            try:
                for part in dirs.split("/"):
                    parent, dir_fd = dir_fd, os.open(part, O_DIR, dir_fd=dir_fd)
                    if parent != self._root_fd:
                        os.close(parent)
                return call(name, dir_fd)
            finally:
                if dir_fd != self._root_fd:
                    os.close(dir_fd)
        except OSError as exc:
            raise self._error(exc, key) from exc  # a file or link on the path: not found

    def _open_object(self, key: str) -> tuple[int, ObjectInfo]:
        """Open the object's file and describe that very file (fd and info agree)."""
        for _ in range(_ATTEMPTS):
            fd = self._at(key, lambda name, dir_fd: os.open(name, O_READ, dir_fd=dir_fd))
            try:
                info = self._describe(fd, key)
            except BaseException:
                os.close(fd)
                raise
            if info is not None:
                return fd, info
            os.close(fd)  # replaced between open and reading its record: open the new one
        raise UnavailableError(
            f"{key!r} keeps changing under the reader", key=key, backend=self.name
        )

    def _describe(self, fd: int, key: str) -> ObjectInfo | None:
        st = os.fstat(fd)
        if not is_regular(st):
            raise self._missing(key)
        cached = self._cache.get((key, st.st_mtime_ns, st.st_ino, st.st_size))
        if cached is not None:
            return cached
        etag = etag_of(st)
        raw = self._attrs.read(fd, etag)
        if raw is None and self._attrs.racy_reads and os.fstat(fd).st_nlink == 0:
            return None
        record = decode_record(raw) if raw is not None else None
        if record is None:
            record = (guess_content_type(key), EMPTY_METADATA)
        info = ObjectInfo(key, st.st_size, etag, _mtime(st), record[0], record[1])
        self._remember(info, st)
        return info

    def _current_etag(self, dir_fd: int, name: str) -> str | None:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        return etag_of(st) if is_regular(st) else None

    def _remember(self, info: ObjectInfo, st: os.stat_result) -> None:
        """Cache a description under the file's identity (the etag's parts, unformatted)."""
        if len(self._cache) >= _CACHE_LIMIT:
            with suppress(KeyError, StopIteration, RuntimeError):  # another thread evicted first
                del self._cache[next(iter(self._cache))]
        self._cache[(info.key, st.st_mtime_ns, st.st_ino, st.st_size)] = info

    # -- delete --------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        *dirs, name = key.split("/")
        try:
            chain = open_dirs(self._root_fd, dirs, create=False)
        except (FileNotFoundError, NotADirectoryOnPathError):
            return
        except OSError as exc:
            raise self._error(exc, key) from exc
        try:
            with self._lock:
                old = self._current_etag(chain.fd, name) if self._attrs.racy_reads else None
                try:
                    os.unlink(name, dir_fd=chain.fd)
                except FileNotFoundError:
                    return
                except (IsADirectoryError, PermissionError) as exc:
                    if _is_dir(chain.fd, name):
                        return  # a directory holds other keys; it is not an object
                    raise self._error(exc, key) from exc
                if old is not None:
                    self._attrs.forget(old)
                prune_dirs(chain)
        except OSError as exc:
            raise self._error(exc, key) from exc
        finally:
            chain.close()

    # -- list ----------------------------------------------------------------------------

    def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> Iterator[ObjectInfo | CommonPrefix]:
        base, _, partial = prefix.rpartition("/")
        try:
            chain = open_dirs(self._root_fd, base.split("/") if base else [], create=False)
        except (FileNotFoundError, NotADirectoryOnPathError):
            return
        top = base + "/" if base else ""
        try:
            fd = os.open(".", O_DIR, dir_fd=chain.fd)
        finally:
            chain.close()
        walker = _Walker(start_after, by_directory=delimiter == "/")
        try:
            entries = walker.walk(fd, top, partial)
            if delimiter == "/":
                yield from entries
            else:
                yield from collapse(entries, prefix, delimiter)  # type: ignore[arg-type]
        except OSError as exc:
            raise self._error(exc, None) from exc

    # -- plumbing ------------------------------------------------------------------------

    def close(self) -> None:
        self._lock.close()
        self._attrs.close()
        os.close(self._root_fd)
        self._cache.clear()

    def _dirs(self, key: str, dirs: builtins.list[str], create: bool) -> DirChain:
        try:
            return open_dirs(self._root_fd, dirs, create)
        except NotADirectoryOnPathError as exc:
            if not create:
                raise self._missing(key) from None
            raise KeyConflictError(
                f"cannot store {key!r}: {exc.name!r} is an object (or a symbolic link) in "
                "the file store, and a path cannot be both a file and a directory",
                key=key,
                backend=self.name,
            ) from None
        except OSError as exc:
            raise self._error(exc, key) from exc

    def _missing(self, key: str) -> NotFoundError:
        return NotFoundError(f"no object {key!r}", key=key, backend=self.name)

    def _error(self, exc: OSError, key: str | None) -> ObjstoreError:
        """Translate an OSError: the one place the file backend maps native errors."""
        if isinstance(exc, ObjstoreError):
            return exc
        code = exc.errno
        if code in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return self._missing(key) if key else NotFoundError("not found", backend=self.name)
        if code in (errno.EACCES, errno.EPERM, errno.EROFS):
            return PermissionDeniedError(
                f"file store refused access to {key!r}: {exc.strerror}", key=key, backend=self.name
            )
        if code == errno.EISDIR and key:
            return KeyConflictError(
                f"cannot store {key!r}: the file store holds keys below '{key}/'",
                key=key,
                backend=self.name,
            )
        return UnavailableError(
            f"file store error on {key!r}: {exc.strerror or exc}", key=key, backend=self.name
        )

    def _probe(self) -> tuple[bool, bool]:
        """Find out whether this filesystem has anonymous temp files and user xattrs."""
        anonymous = False
        fd = -1
        if O_TMPFILE:
            try:
                fd = os.open(
                    ".", O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600, dir_fd=self._root_fd
                )
                probe = temp_name()
                os.link(f"/proc/self/fd/{fd}", probe, dst_dir_fd=self._root_fd)
                os.unlink(probe, dir_fd=self._root_fd)
                anonymous = True
            except OSError:
                pass
        if fd < 0:
            name = temp_name()
            try:
                fd = os.open(name, O_TEMP, 0o600, dir_fd=self._root_fd)
            except OSError:
                # A read-only root: reads work, writes will say why they cannot.
                return False, hasattr(os, "getxattr")
            os.unlink(name, dir_fd=self._root_fd)
        try:
            os.setxattr(fd, "user.objstore-probe", b"1")
            xattrs = True
        except (OSError, AttributeError):
            xattrs = False
        finally:
            os.close(fd)
        return anonymous, xattrs

    def _attribute_store(self, choice: MetadataStorage, xattrs: bool) -> AttributeStore:
        if choice not in ("auto", "xattr", "sidecar"):
            raise ConfigError(
                f"metadata_storage must be 'auto', 'xattr' or 'sidecar', not {choice!r}",
                backend=self.name,
            )
        if choice == "xattr" and not xattrs:
            raise ConfigError(
                f"the filesystem at {self.root!r} has no user extended attributes; use "
                "metadata_storage='sidecar' or 'auto'",
                backend=self.name,
            )
        if choice == "sidecar" or not xattrs:
            if choice == "auto":
                logger.info(
                    "objstore: %s has no user xattrs; keeping metadata in sidecar files", self.root
                )
            return SidecarStore(self._root_fd)
        return XattrStore()


class _Walker:
    """Yields a directory tree's objects in key order, one sorted directory at a time."""

    def __init__(self, start_after: str | None, by_directory: bool):
        self._after = start_after
        self._by_directory = by_directory

    def walk(self, fd: int, top: str, partial: str) -> Iterator[ObjectInfo | CommonPrefix]:
        """Walk the open directory ``fd`` (key prefix ``top``), closing it when done."""
        try:
            for sort_name, entry in self._entries(fd, partial):
                key = top + sort_name
                if sort_name[-1] != "/":
                    if self._after is None or key > self._after:
                        st = entry.stat(follow_symlinks=False)
                        yield ObjectInfo(key, st.st_size, etag_of(st), _mtime(st))
                    continue
                after = self._after
                if after is not None and not after.startswith(key) and after > key:
                    continue  # everything below sorts before start_after
                try:
                    sub = os.open(entry.name, O_DIR, dir_fd=fd)
                except OSError:
                    continue  # removed meanwhile, or replaced by a file or link
                if self._by_directory:
                    yield from self._collapsed(sub, key)
                else:
                    yield from self.walk(sub, key, "")
        finally:
            os.close(fd)

    def _collapsed(self, fd: int, key: str) -> Iterator[CommonPrefix]:
        # Only a directory that holds at least one object is a common prefix.
        for _ in self.walk(fd, key, ""):
            yield CommonPrefix(key)
            return

    @staticmethod
    def _entries(fd: int, partial: str) -> builtins.list[tuple[str, os.DirEntry[str]]]:
        """The directory's valid entries, sorted as their keys sort (directories as ``name/``)."""
        out = []
        with os.scandir(fd) as it:
            for entry in it:
                name = entry.name
                if partial and not name.startswith(partial):
                    continue
                if not (name.isascii() and name.isprintable()) and not _valid_name(name):
                    continue
                if entry.is_file(follow_symlinks=False):
                    out.append((name, entry))
                elif entry.is_dir(follow_symlinks=False):
                    out.append((name + "/", entry))
        out.sort(key=lambda pair: pair[0])
        return out


def _valid_name(name: str) -> bool:
    return "/" not in name and key_problem(name) is None


def _is_dir(dir_fd: int, name: str) -> bool:
    try:
        return statmod.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC)


def _fill(fd: int, payload: Payload) -> None:
    for chunk in payload.chunks():
        write_all(fd, chunk)
    payload.seal()
