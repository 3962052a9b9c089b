"""``ObjstoreFileSystem``: any objstore ``Store`` as an fsspec filesystem (protocol ``objstore``).

Paths are keys: ``objstore://data/x.parquet`` and ``data/x.parquet`` name the
key ``data/x.parquet`` (a leading ``objstore://`` and leading or trailing ``/``
are stripped). Directories are implied by ``/`` in keys, as on S3: a
directory exists while some key lies below it, so ``mkdir``, ``makedirs`` and
``rmdir`` are harmless no-ops. Listings are not cached: every ``ls``, ``info``
or ``find`` asks the store, so a filesystem never answers from a stale listing.

Every call is one or two store operations: ``info`` is a ``stat`` (then, for a
directory, the first item of a listing), ``ls`` a delimited listing, ``find``
one recursive listing, ``cat_file`` a (ranged) ``get``, ``cp_file`` a
server-side ``copy``, ``rm`` one ``delete_many``, ``sign`` a ``presign``.
"""

from __future__ import annotations

import builtins
import contextlib
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar

from fsspec.callbacks import DEFAULT_CALLBACK
from fsspec.spec import AbstractFileSystem
from fsspec.utils import isfilelike

from .._defaults import FSSPEC_BLOCK_SIZE, MiB
from .._models import CommonPrefix, ObjectInfo
from .._open import from_env
from .._open import open as open_store
from .._store import Store
from ..errors import (
    ConfigError,
    InvalidKeyError,
    NotFoundError,
    PreconditionFailedError,
    UnsupportedOperationError,
)
from ._download import copy_chunks, download
from ._file import ObjstoreFile, TextWriter

Entry = dict[str, Any]
COPY_CHUNK = 1 * MiB
#: fsspec's own options, which every filesystem accepts (they configure its caches).
FSSPEC_OPTIONS = frozenset({"use_listings_cache", "listings_expiry_time", "max_paths"})


class _SkipCacheForStores(type(AbstractFileSystem)):  # type: ignore[misc]
    """fsspec reuses instances by a token made from ``str()`` of the arguments, and two
    stores can print alike: a filesystem over a given ``store`` is never reused."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("store") is not None:
            kwargs["skip_instance_cache"] = True
        return super().__call__(*args, **kwargs)


class ObjstoreFileSystem(AbstractFileSystem, metaclass=_SkipCacheForStores):  # type: ignore[misc]
    """An fsspec filesystem over one objstore ``Store``.

    ``fsspec.filesystem("objstore", target="s3://bucket/prefix?...")``, or in a URL
    chain: ``pandas.read_parquet("objstore://data/x.parquet",
    storage_options={"target": url})``.

    Args:
        target: A store URL or configuration mapping, as for :func:`objstore.open`.
        store: An open :class:`objstore.Store` to use instead (the caller keeps
            ownership; such a filesystem cannot be pickled).
        default_block_size: The block size of files opened without ``block_size``:
            the unit of ranged reads (with fsspec's read caches) and of streamed writes.
        default_cache_type: fsspec's read cache for files opened without ``cache_type``.
        **options: ``use_listings_cache``, ``listings_expiry_time`` and ``max_paths``,
            accepted as by every fsspec filesystem; this one caches no listing.

    With neither ``target`` nor ``store``, the store comes from the environment
    (:func:`objstore.from_env`).

    Raises:
        ConfigError: both ``target`` and ``store`` are given, or the target is invalid.
        TypeError: an unknown option.
    """

    protocol: ClassVar[str] = "objstore"
    root_marker: ClassVar[str] = ""

    def __init__(
        self,
        target: str | Mapping[str, Any] | None = None,
        *,
        store: Store | None = None,
        default_block_size: int = FSSPEC_BLOCK_SIZE,
        default_cache_type: str = "readahead",
        **options: Any,
    ):
        unknown = sorted(set(options) - FSSPEC_OPTIONS)
        if unknown:
            valid = ", ".join(["target", "store", "default_block_size", "default_cache_type"])
            raise TypeError(f"unknown option(s) {', '.join(unknown)}; valid: {valid}")
        super().__init__(**options)
        self.store = _open_store(target, store)
        self.blocksize = default_block_size
        self.default_cache_type = default_cache_type

    def __repr__(self) -> str:
        return f"ObjstoreFileSystem({self.store!r})"  # a store's repr shows no secret

    @property
    def store_name(self) -> str:
        """The backend's name, for errors raised here."""
        return self.store._name

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = str(os.fspath(path))
        for marker in ("objstore://", "objstore::"):
            if text.startswith(marker):
                text = text[len(marker) :]
        return text.strip("/")

    # -- what is there ---------------------------------------------------------------------

    def info(self, path: str, **kwargs: Any) -> Entry:
        """Describe a file (a ``stat``) or a directory (a key lies below it).

        Raises:
            FileNotFoundError: neither.
        """
        key = self._strip_protocol(path)
        found = self._stat(key)
        if found is not None:
            return file_entry(found)
        if self._has_below(key):
            return dir_entry(key)
        raise FileNotFoundError(f"no object and no directory at {path!r}")

    def file_entry(self, path: str) -> Entry:
        """Describe a file (one ``stat``).

        Raises:
            FileNotFoundError: no object has this key (a directory is not a file).
        """
        key = self._strip_protocol(path)
        if not key:
            raise IsADirectoryError(f"{path!r} is the root directory, not a file")
        return file_entry(self.store.stat(key))

    def exists(self, path: str, **kwargs: Any) -> bool:
        """Whether a file or a directory is at ``path`` (store outages raise)."""
        try:
            self.info(path)
        except FileNotFoundError:
            return False
        return True

    def isfile(self, path: str) -> bool:
        return self._stat(self._strip_protocol(path)) is not None

    def isdir(self, path: str) -> bool:
        return self._has_below(self._strip_protocol(path))

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Entry] | list[str]:
        """One level of ``path``: a delimited listing (or the file itself, for a file).

        Raises:
            FileNotFoundError: nothing is at ``path``.
        """
        key = self._strip_protocol(path)
        entries = [
            dir_entry(item.key[:-1]) if isinstance(item, CommonPrefix) else file_entry(item)
            for item in self.store.list(_below(key), delimiter="/")
        ]
        if not entries and key:
            entries = [self.file_entry(key)]
        return entries if detail else [entry["name"] for entry in entries]

    def find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> list[str] | dict[str, Entry]:
        """Every file below ``path`` (and the directories, with ``withdirs``), from one
        recursive listing."""
        if maxdepth is not None and maxdepth < 1:
            raise ValueError("maxdepth must be at least 1")
        key = self._strip_protocol(path)
        found: dict[str, Entry] = {}
        for item in self.store.list(_below(key)):
            _add_found(found, key, item, maxdepth, withdirs)
        if found and withdirs and key:
            found[key] = dir_entry(key)
        if not found and key and (obj := self._stat(key)) is not None:
            found[key] = file_entry(obj)
        names = sorted(found)
        return {name: found[name] for name in names} if detail else names

    def size(self, path: str) -> int:
        return int(self.info(path)["size"])

    def modified(self, path: str) -> datetime:
        """When the object was last written (timezone-aware UTC)."""
        return self.store.stat(self._file_key(path)).last_modified

    def ukey(self, path: str) -> str:
        """The object's etag: it changes whenever the content does."""
        return self.store.stat(self._file_key(path)).etag

    # -- reading ---------------------------------------------------------------------------

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        """The object's bytes, or ``[start, end)`` of them with one ranged ``get``;
        negative bounds count from the end (a ``stat`` first)."""
        key = self._file_key(path)
        if start is None and end is None:
            return self.store.get(key)
        if (start or 0) < 0 or (end or 0) < 0:
            return self._cat_from_end(key, start, end)
        offset = start or 0
        length = None if end is None else max(0, end - offset)
        return self.store.get(key, offset=offset, length=length)

    def _cat_from_end(self, key: str, start: int | None, end: int | None) -> bytes:
        info = self.store.stat(key)
        first, stop, _ = slice(start, end).indices(info.size)
        stream = self.store.get_stream(
            key, offset=first, length=max(0, stop - first), chunk_size=max(1, stop - first)
        )
        with contextlib.closing(stream):
            if stream.info.etag != info.etag:
                raise PreconditionFailedError(
                    f"{key!r} changed while it was read", key=key, backend=self.store_name
                )
            return b"".join(stream)

    def get_file(
        self,
        rpath: str,
        lpath: Any,
        callback: Any = DEFAULT_CALLBACK,
        outfile: Any = None,
        **kwargs: Any,
    ) -> None:
        """Download one object with one streamed ``get``; a local file is replaced
        only once the whole object has arrived."""
        if outfile is None and isfilelike(lpath):
            outfile = lpath
        key = self._strip_protocol(rpath)
        try:
            if key and outfile is None:
                download(self.store, key, os.fspath(lpath), callback)
                return
            stream = self.store.get_stream(key, chunk_size=COPY_CHUNK) if key else None
        except (NotFoundError, InvalidKeyError):
            stream = None
        if stream is None:
            if not self.isdir(key):
                raise FileNotFoundError(f"no object and no directory at {rpath!r}")
            if outfile is None:
                os.makedirs(lpath, exist_ok=True)
            return
        with contextlib.closing(stream):
            callback.set_size(stream.info.size)
            copy_chunks(stream, outfile, callback)

    # -- writing ---------------------------------------------------------------------------

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        """Store ``value`` with one ``put``; ``mode="create"`` only if the key is absent.

        ``content_type`` and ``metadata`` are passed on to ``put``.

        Raises:
            FileExistsError: ``mode="create"`` and the key exists.
        """
        key = self._file_key(path)
        self._create_or_overwrite(
            key, mode, lambda **cond: self.store.put(key, value, **kwargs, **cond)
        )

    def put_file(
        self,
        lpath: Any,
        rpath: str,
        callback: Any = DEFAULT_CALLBACK,
        mode: str = "overwrite",
        **kwargs: Any,
    ) -> None:
        """Upload a local file with one ``put`` (multipart on S3); a directory is a no-op."""
        if os.path.isdir(lpath):
            return
        key = self._file_key(rpath)
        with builtins.open(lpath, "rb") as source:
            callback.set_size(os.fstat(source.fileno()).st_size)

            def upload(**cond: Any) -> object:
                return self.store.put(key, source, progress=_progress(callback), **kwargs, **cond)

            self._create_or_overwrite(key, mode, upload)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy one object server-side (``copy``); copying a directory is a no-op.

        Raises:
            FileNotFoundError: no object and no directory at ``path1``.
        """
        source, target = self._strip_protocol(path1), self._file_key(path2)
        try:
            self.store.copy(self._file_key(source), target, **kwargs)
        except (NotFoundError, IsADirectoryError):
            if not self.isdir(source):
                raise

    def rm_file(self, path: str) -> None:
        """Delete one object; a missing key is not an error."""
        self.store.delete(self._file_key(path))

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete files (every file below a directory, with ``recursive``) in one
        ``delete_many``.

        Raises:
            FileNotFoundError: nothing matched ``path``.
        """
        paths = self.expand_path(path, recursive=recursive, maxdepth=maxdepth)
        self.store.delete_many(p for p in paths if p)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Nothing to do: directories are implied by the keys below them."""

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Nothing to do: directories are implied by the keys below them."""

    def rmdir(self, path: str) -> None:
        """Nothing to do: a directory disappears with the last key below it."""

    def sign(self, path: str, expiration: int = 100, **kwargs: Any) -> str:
        """A URL that grants ``GET`` (or ``method="PUT"``) for ``expiration`` seconds
        (``presign``, no network call).

        Raises:
            UnsupportedOperationError: the store cannot presign (the message says
                what configuration is missing).
        """
        return self.store.presign(self._file_key(path), expires=expiration, **kwargs)

    # -- files -----------------------------------------------------------------------------

    def open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        cache_options: dict[str, Any] | None = None,
        compression: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Open an object as a file: ``"rb"``, ``"wb"``, ``"xb"``, or their text forms.

        Raises:
            FileNotFoundError: reading a key that does not exist.
            FileExistsError: ``"x"`` mode and the key exists.
            UnsupportedOperationError: append mode, or ``"x"`` on a store
                without conditional writes.
        """
        if "b" in mode or "r" in mode:
            return super().open(path, mode, block_size, cache_options, compression, **kwargs)
        text = {k: kwargs.pop(k) for k in ("encoding", "errors", "newline") if k in kwargs}
        binary = self.open(
            path, mode.replace("t", "") + "b", block_size, cache_options, compression, **kwargs
        )
        return TextWriter(binary, **text)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> ObjstoreFile:
        key = self._file_key(path)
        if mode not in ("rb", "wb", "xb"):
            raise UnsupportedOperationError(
                f"mode {mode!r} is not supported: objects are read ('rb') or written whole "
                "('wb', 'xb'); there is no append",
                key=key,
            )
        if mode == "xb":
            self._check_absent(key)
        kwargs.setdefault("cache_type", self.default_cache_type)
        return ObjstoreFile(
            self, key, mode, block_size or self.blocksize, autocommit, cache_options=cache_options,
            **kwargs,
        )  # fmt: skip

    # -- helpers ---------------------------------------------------------------------------

    def _file_key(self, path: str) -> str:
        key: str = self._strip_protocol(path)
        if not key:
            raise IsADirectoryError(f"{path!r} is the root directory, not a file")
        return key

    def _stat(self, key: str) -> ObjectInfo | None:
        if not key:
            return None
        try:
            return self.store.stat(key)
        except (NotFoundError, InvalidKeyError):
            return None

    def _has_below(self, key: str) -> bool:
        if not key:
            return True  # the root always exists
        items = self.store.list(_below(key))
        try:
            return next(items, None) is not None
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # release the listing's connection without reading further

    def _check_absent(self, key: str) -> None:
        if not self.store.capabilities.conditional_put:
            raise UnsupportedOperationError(
                "exclusive creation ('x' mode, mode='create') needs a store with race-free "
                "conditional writes",
                key=key,
            )
        if self._stat(key) is not None:
            raise FileExistsError(f"{key!r} exists already")

    def _create_or_overwrite(self, key: str, mode: str, write: Callable[..., object]) -> None:
        if mode == "overwrite":
            write()
            return
        if mode != "create":
            raise ValueError(f"mode must be 'overwrite' or 'create', not {mode!r}")
        self._check_absent(key)
        try:
            write(if_none_match="*")
        except PreconditionFailedError as exc:
            raise FileExistsError(f"{key!r} exists already") from exc


def _open_store(target: str | Mapping[str, Any] | None, store: Store | None) -> Store:
    if store is not None:
        if target is not None:
            raise ConfigError("give either target or store, not both")
        if not isinstance(store, Store):
            raise TypeError(f"store must be an objstore.Store, not {type(store).__name__}")
        return store
    return from_env() if target is None else open_store(target)


def _below(key: str) -> str:
    return f"{key}/" if key else ""


def file_entry(info: ObjectInfo) -> Entry:
    """fsspec's description of a file (``ls``, ``info``, ``find(detail=True)``)."""
    return {
        "name": info.key,
        "size": info.size,
        "type": "file",
        "etag": info.etag,
        "last_modified": info.last_modified,
        "mtime": info.last_modified.timestamp(),
        "content_type": info.content_type,
        "metadata": None if info.metadata is None else dict(info.metadata),
    }


def dir_entry(name: str) -> Entry:
    """fsspec's description of a directory (implied by the keys below it)."""
    return {"name": name, "size": 0, "type": "directory"}


def _add_found(
    found: dict[str, Entry],
    root: str,
    item: ObjectInfo | CommonPrefix,
    maxdepth: int | None,
    withdirs: bool,
) -> None:
    """Add one listed object to ``find``'s result, and its directories up to ``maxdepth``."""
    if isinstance(item, CommonPrefix):
        return
    parts = item.key[len(_below(root)) :].split("/")
    if withdirs:
        for depth in range(1, len(parts)):
            if maxdepth is not None and depth > maxdepth:
                break
            name = _below(root) + "/".join(parts[:depth])
            found.setdefault(name, dir_entry(name))
    if maxdepth is None or len(parts) <= maxdepth:
        found[item.key] = file_entry(item)


def _progress(callback: Any) -> Callable[[int, int | None], None]:
    def report(done: int, total: int | None) -> None:
        callback.absolute_update(done)

    return report
