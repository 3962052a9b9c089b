"""The file backend: object ``k`` is the plain file ``root/k``.

How it keeps the contract (docs/file-backend.md has the long version):

- Atomic put: data goes to an anonymous ``O_TMPFILE`` in the target directory
  (a hidden, randomly named temp file in the staging directory where the
  filesystem has none), content type and metadata are set on it as an extended
  attribute, and under the commit lock it is given its name: ``link`` for a new
  key, a rename from the staging directory over an old one. Readers see the old
  file or the new one.
- Crash safety: a named temp file exists only inside the commit lock's critical
  section or while its writer holds its ``flock``, so a store opening (and any
  put finding a directory in its way) can tell a killed writer's debris from
  live work and removes it.
- Etags come from ``stat`` (mtime in ns, inode, size): no read of the content.
- Commits (rename, link, unlink) run under :class:`CommitLock`, so
  compare-and-swap is race-free across threads and processes; create-if-absent
  uses ``link``, which fails atomically when the name exists.
- Every path is resolved component by component with ``O_NOFOLLOW``: nothing
  outside the root is ever read, written or deleted, symlinks or not.
- Listing walks directories lazily in key order (:mod:`._localwalk`).
- Native errors are translated in one place (:meth:`FileBackend._error`), at
  every boundary, iteration included: no ``OSError`` leaves the backend.
"""

from __future__ import annotations

import errno
import logging
import os
import stat as statmod
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from types import MappingProxyType
from typing import Literal, NoReturn, TypeVar

from .._checks import guess_content_type
from .._keys import key_problem
from .._listing import collapse
from .._models import Capabilities, CommonPrefix, ObjectInfo
from .._payload import Payload
from ..backend import BackendBase, WriteMode
from ..errors import (
    ConfigError,
    InsufficientStorageError,
    KeyConflictError,
    NotFoundError,
    ObjstoreError,
    PermissionDeniedError,
    PreconditionFailedError,
    StoreClosedError,
    UnavailableError,
)
from ._localfs import (
    _ATTEMPTS,
    O_DIR,
    O_READ,
    VANISHED,
    CommitLock,
    Lifetime,
    NotADirectoryOnPathError,
    close_all,
    copy_fd,
    current_etag,
    etag_of,
    is_regular,
    open_dirs,
    prune_dirs,
    retire,
    write_all,
)
from ._localmeta import (
    EMPTY_METADATA,
    AttributeStore,
    SidecarStore,
    XattrStore,
    decode_record,
    encode_record,
)
from ._localwalk import Walker, mtime
from ._localwrite import Writer

logger = logging.getLogger("objstore")

MetadataStorage = Literal["auto", "xattr", "sidecar"]
_T = TypeVar("_T")

_CACHE_LIMIT = 8192
_DENIED = frozenset((errno.EACCES, errno.EPERM, errno.EROFS))
# EFBIG (the filesystem's largest file, or the process's RLIMIT_FSIZE) is a limit
# of the volume, not an outage: no retry helps, so it is "full" too (docs/decisions.md).
_FULL = frozenset((errno.ENOSPC, errno.EDQUOT, errno.EFBIG))


class _FileStream:
    def __init__(self, owner: FileBackend, fd: int, start: int, end: int, info: ObjectInfo):
        self.info = info
        self._owner = owner
        self._fd = fd
        self._pos = start
        self._end = end

    def read(self, n: int) -> bytes:
        if self._owner.life.closed:
            self.close()
            raise StoreClosedError(
                "this file store is closed", key=self.info.key, backend=self._owner.name
            )
        n = min(n, self._end - self._pos)
        if n <= 0:
            return b""
        try:
            data = os.pread(self._fd, n, self._pos)
        except OSError as exc:
            raise self._owner._error(exc, self.info.key) from exc
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

    Raises:
        ConfigError: ``root`` cannot be made or opened as a directory, or
            ``metadata_storage`` is not a choice this filesystem allows.
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
        self.life = Lifetime()
        self._cache: dict[tuple[str, int, int, int], ObjectInfo] = {}
        try:
            self._lock = CommitLock(self._root_fd)
            self._writer = Writer(self._root_fd, self._lock, self.name, fsync)
            xattrs = self._writer.probe()
            self._attrs = self._writer.attrs = self._attribute_store(
                metadata_storage, xattrs, fsync
            )
        except BaseException as exc:
            lock, writer = getattr(self, "_lock", None), getattr(self, "_writer", None)
            close_all(
                [self._root_fd, lock.release() if lock else -1, writer.staging_fd if writer else -1]
            )
            if isinstance(exc, OSError):
                raise ConfigError(
                    f"cannot open the file store at {os.fspath(root)!r}: {exc.strerror}",
                    backend=self.name,
                ) from exc
            raise
        self._recover()

    def __repr__(self) -> str:
        return f"FileBackend(root={self.root!r})"

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self.life.closed

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
        return self._write(
            key, mode, content_type, metadata, lambda fd: _fill(fd, payload), payload.seal
        )

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        try:
            fd, info = self._open_object(src_key)
        except OSError as exc:
            self._raise(exc, src_key)
        try:
            return self._write(
                dst_key,
                mode,
                info.content_type or guess_content_type(dst_key),
                info.metadata or EMPTY_METADATA,
                lambda out: copy_fd(fd, out, info.size),
                None,
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
        seal: Callable[[], None] | None,
    ) -> ObjectInfo:
        record = encode_record(content_type, metadata)
        writer = self._writer
        try:
            chain, temp = writer.open_temp(key, key.split("/")[:-1])
        except OSError as exc:
            self._raise(exc, key)
        try:
            fill(temp.fd)
            etag, st = writer.stamp(temp.fd, record)
            writer.commit(key, chain, temp, mode, (etag, record), seal)
        except BaseException as exc:
            writer.discard(chain, temp)
            if isinstance(exc, OSError):
                self._raise(exc, key)
            raise
        finally:
            os.close(temp.fd)
            chain.close()
        frozen = MappingProxyType(dict(metadata)) if metadata else EMPTY_METADATA
        info = ObjectInfo(key, st.st_size, etag, mtime(st), content_type, frozen)
        self._remember(info, st)
        return info

    # -- read ----------------------------------------------------------------------------

    def get(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> _FileStream:
        try:
            fd, info = self._open_object(key)
        except OSError as exc:
            self._raise(exc, key)
        if if_match is not None and info.etag != if_match:
            os.close(fd)
            raise PreconditionFailedError(f"{key!r} changed", key=key, backend=self.name)
        end = info.size if length is None else min(info.size, offset + length)
        return _FileStream(self, fd, offset, end, info)

    def stat(self, key: str) -> ObjectInfo:
        try:
            st = self._at(
                key, lambda name, dir_fd: os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            )
            if not is_regular(st):
                raise self._missing(key)
            cached = self._cache.get((key, st.st_mtime_ns, st.st_ino, st.st_size))
            if cached is not None:
                return cached
            fd, info = self._open_object(key)
        except OSError as exc:
            self._raise(exc, key)
        os.close(fd)
        return info

    def _at(self, key: str, call: Callable[[str, int], _T]) -> _T:
        """Run ``call(name, dir_fd)`` on the key's file without following any link.

        A key in the root needs no directory walk; others open their directories
        one component at a time with ``O_NOFOLLOW`` (a file or a link on the
        path fails with ``ENOTDIR`` or ``ELOOP``: not found).
        """
        dirs, _, name = key.rpartition("/")
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
        info = ObjectInfo(key, st.st_size, etag, mtime(st), record[0], record[1])
        self._remember(info, st)
        return info

    def _version_of(self, key: str) -> str | None:
        """The etag now stored under ``key``, or None; raises OSError when it cannot tell."""
        if key_problem(key) is not None:
            raise OSError(errno.EINVAL, "not a key")
        try:
            st = self._at(key, lambda n, d: os.stat(n, dir_fd=d, follow_symlinks=False))
        except OSError as exc:
            if exc.errno in VANISHED:
                return None
            raise
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
            self._check_open()  # a closed store's descriptors lead nowhere: say so
            return
        except OSError as exc:
            self._raise(exc, key)
        try:
            with self._lock:
                if self._unlink(key, chain.fd, name):
                    prune_dirs(chain)
        except OSError as exc:
            self._raise(exc, key)
        finally:
            chain.close()

    def _unlink(self, key: str, dir_fd: int, name: str) -> bool:
        """Unlink the object's file and forget its record; under the commit lock."""
        attrs = self._attrs
        if not attrs.racy_reads:
            return _unlink_object(dir_fd, name)  # the record goes with the file
        old = current_etag(dir_fd, name)
        attrs.begin(key, old, None, None)
        try:
            removed = _unlink_object(dir_fd, name)
        except BaseException:
            attrs.abort(None)
            raise
        attrs.finish(old)
        return removed

    # -- list ----------------------------------------------------------------------------

    def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> Iterator[ObjectInfo | CommonPrefix]:
        self._check_open()
        base, _, partial = prefix.rpartition("/")
        top = base + "/" if base else ""
        try:
            fd = self._open_listing(base)
        except OSError as exc:
            raise self._list_error(exc, top) from exc
        if fd is None:
            self._check_open()
            return
        walker = Walker(
            start_after, delimiter == "/", self.life, self._check_open, self._list_error
        )
        entries = walker.walk(fd, top, partial)
        if delimiter == "/":
            yield from entries
        else:
            yield from collapse(entries, prefix, delimiter)  # type: ignore[arg-type]

    def _open_listing(self, base: str) -> int | None:
        """A descriptor of the directory of ``base``'s keys, of the walk's own; None if none."""
        try:
            if not base:
                return os.open(".", O_DIR, dir_fd=self._root_fd)
            chain = open_dirs(self._root_fd, base.split("/"), create=False)
        except (FileNotFoundError, NotADirectoryOnPathError):
            return None
        fd = chain.fds.pop()
        chain.close()
        return fd

    # -- plumbing ------------------------------------------------------------------------

    def close(self) -> None:
        """Release the store's descriptors; streams and listings then raise StoreClosedError."""
        if self.life.closed:
            return
        self.life.closed = True
        self._cache.clear()
        fds = [self._root_fd, self._lock.release(), *self._attrs.descriptors()]
        if self._writer.staging_fd >= 0:
            fds.append(self._writer.staging_fd)
        try:
            retire(fds)
        except OSError:  # no /dev/null to point them at: close them now
            close_all(fds)
            return
        weakref.finalize(self, close_all, fds)

    def _check_open(self) -> None:
        if self.life.closed:
            raise StoreClosedError("this file store is closed", backend=self.name)

    def _missing(self, key: str) -> NotFoundError:
        return NotFoundError(f"no object {key!r}", key=key, backend=self.name)

    def _raise(self, exc: OSError, key: str) -> NoReturn:
        """Re-raise ``exc`` in the error tree (errors of the tree pass as they are)."""
        if isinstance(exc, ObjstoreError):
            raise exc
        raise self._error(exc, key) from exc

    def _error(self, exc: OSError, key: str) -> ObjstoreError:
        """Translate an OSError: the one place the file backend maps native errors.

        Messages name the key, never a filesystem path.
        """
        code = exc.errno
        reason = exc.strerror or type(exc).__name__
        if self.life.closed:
            return StoreClosedError("this file store is closed", key=key, backend=self.name)
        if code in VANISHED:
            return self._missing(key)
        if code in _DENIED:
            return PermissionDeniedError(
                f"the file store may not access {key!r}: {reason}", key=key, backend=self.name
            )
        if code in _FULL:
            return InsufficientStorageError(
                f"no room to store {key!r}: {reason}", key=key, backend=self.name
            )
        if code == errno.EISDIR:
            return KeyConflictError(
                f"cannot store {key!r}: the file store holds keys below '{key}/'",
                key=key,
                backend=self.name,
            )
        return UnavailableError(
            f"file store error on {key!r}: {reason}", key=key, backend=self.name
        )

    def _list_error(self, exc: OSError, prefix: str) -> ObjstoreError:
        """Translate an error met while listing the keys under ``prefix``."""
        if exc.errno in (errno.EACCES, errno.EPERM) and not self.life.closed:
            where = f"the keys under {prefix!r}" if prefix else "the store's root"
            return PermissionDeniedError(
                f"the file store may not read {where}: {exc.strerror}",
                key=prefix,
                backend=self.name,
            )
        return self._error(exc, prefix)

    # -- opening -------------------------------------------------------------------------

    def _attribute_store(
        self, choice: MetadataStorage, xattrs: bool, fsync: bool
    ) -> AttributeStore:
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
            return SidecarStore(self._root_fd, self._version_of, fsync)
        return XattrStore()

    def _recover(self) -> None:
        """Remove what writers killed midway left behind, without disturbing live ones:
        stale temp files in the staging directory, and sidecar records of commits
        that never finished. A store that may not write is left as it is."""
        try:
            removed = self._writer.sweep_staging()
            self._attrs.recover(self._lock)
        except OSError as exc:
            logger.debug("objstore: the file store was not swept: %s", exc.strerror)
            return
        if removed:
            logger.info("objstore: removed %d temp files left by killed writers", removed)


def _unlink_object(dir_fd: int, name: str) -> bool:
    """Unlink the object's file; False if there was none (a directory is not an object)."""
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    except (IsADirectoryError, PermissionError):
        if _is_dir(dir_fd, name):
            return False  # a directory holds other keys; it is not an object
        raise
    return True


def _is_dir(dir_fd: int, name: str) -> bool:
    try:
        return statmod.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _fill(fd: int, payload: Payload) -> None:
    for chunk in payload.chunks():
        write_all(fd, chunk)
