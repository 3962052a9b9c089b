"""Django storage over an objstore store: ``objstore.django.ObjstoreStorage`` (SPEC §11).

Configured in ``STORAGES``::

    STORAGES = {
        "default": {
            "BACKEND": "objstore.django.ObjstoreStorage",
            "OPTIONS": {"target": "s3://media?region=eu-west-1", "expires": 600},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

A file's name is its key. ``save`` never overwrites: it writes with
create-if-absent (``if_none_match="*"``), and when another upload took the name
between Django's ``exists`` check and the commit, it picks Django's alternative
name and writes again. ``url`` is a signed URL (``presign``; no network call).
Needs the ``objstore[django]`` extra; docs/django.md has the details.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import IO, Any

try:
    from django.conf import settings
    from django.core.exceptions import SuspiciousFileOperation
    from django.core.files import File
    from django.core.files.storage import Storage
    from django.utils import timezone
    from django.utils.deconstruct import deconstructible
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "objstore.django needs Django: install the extra with pip install 'objstore[django]'"
    ) from exc

from ._defaults import PRESIGN_EXPIRES, MiB
from ._keys import check_key
from ._open import from_env
from ._open import open as open_store
from ._reader import ObjectReader
from ._store import Store
from .errors import InvalidKeyError, PreconditionFailedError, UnsupportedOperationError

__all__ = ["ObjstoreFile", "ObjstoreStorage"]

#: How many times ``save`` picks another name when uploads race for one.
MAX_SAVE_ATTEMPTS = 10
CHUNK = 1 * MiB


class NameTaken(Exception):  # noqa: N818 - a signal between _save and save
    """The name was free when Django checked and taken when the upload committed."""


class ObjstoreFile(File):  # type: ignore[type-arg]
    """A stored object opened for reading: a seekable binary file with Django's ``File`` API.

    Attributes:
        info: The object's description (``objstore.ObjectInfo``).
    """

    def __init__(self, reader: ObjectReader, name: str, mode: str):
        stream: IO[Any] = reader if "b" in mode else io.TextIOWrapper(reader, encoding="utf-8")
        super().__init__(stream, name)
        self.mode = mode
        self.info = reader.info
        self.size = reader.info.size  # known: never seek to the end to learn it


@deconstructible(path="objstore.django.ObjstoreStorage")
class ObjstoreStorage(Storage):
    """A Django ``Storage`` whose files are the objects of an objstore store.

    Args:
        target: A store URL or configuration mapping, as for :func:`objstore.open`;
            when ``None``, the store comes from the environment
            (:func:`objstore.from_env`). Opened on first use.
        expires: How long ``url()`` links stay valid: seconds or a ``timedelta``
            (1 second to 7 days).

    Raises:
        ConfigError: (on first use) the target is invalid.
    """

    def __init__(
        self,
        target: str | Mapping[str, Any] | None = None,
        expires: int | timedelta = PRESIGN_EXPIRES,
    ):
        self.target = target
        self.expires = expires
        self._store: Store | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        """The store, opened on first use (so importing settings does no I/O)."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    target = self.target
                    self._store = from_env() if target is None else open_store(target)
        return self._store

    # -- writing ---------------------------------------------------------------------------

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """Store ``content`` under ``name`` or, if that is taken, Django's alternative name.

        Never overwrites: each attempt creates only if the name is absent, so two
        uploads of one name, even at the same moment, keep both.

        Raises:
            SuspiciousFileOperation: the name is not a valid key (SPEC §3).
            FileExistsError: every name tried was taken by a concurrent upload.
        """
        if name is None:
            name = content.name
        for _ in range(MAX_SAVE_ATTEMPTS):
            try:
                saved: str = super().save(name, content, max_length)
                return saved
            except NameTaken:
                _rewind(content)
        raise FileExistsError(f"no free name for {name!r} after {MAX_SAVE_ATTEMPTS} attempts")

    def _save(self, name: str, content: Any) -> str:
        key = self._key(name)
        try:
            self.store.put(key, _chunks(content), if_none_match="*")
        except PreconditionFailedError as exc:
            raise NameTaken(name) from exc
        return name

    def delete(self, name: str) -> None:
        """Delete the file; a missing one is not an error."""
        self.store.delete(self._key(name))

    # -- reading ---------------------------------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> ObjstoreFile:
        if mode not in ("rb", "r", "rt"):
            raise UnsupportedOperationError(
                f"mode {mode!r}: stored files are opened for reading; write with save()",
                key=name,
            )
        return ObjstoreFile(self.store.open(self._key(name)), name, mode)

    def exists(self, name: str) -> bool:
        return self.store.exists(self._key(name))

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """The directories and files directly in ``path`` (names relative to it)."""
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        directories: list[str] = []
        files: list[str] = []
        for item in self.store.list(prefix, delimiter="/"):
            if item.key.endswith("/"):
                directories.append(item.key[len(prefix) : -1])
            else:
                files.append(item.key[len(prefix) :])
        return directories, files

    def size(self, name: str) -> int:
        return self.store.stat(self._key(name)).size

    def url(self, name: str | None) -> str:
        """A signed URL for ``GET``, valid for ``expires`` (no network call).

        Raises:
            UnsupportedOperationError: the store cannot sign URLs (the file and
                memory backends need ``base_url`` and ``signing_key``).
        """
        if name is None:
            raise ValueError("url() needs the file's name")
        return self.store.presign(self._key(name), expires=self.expires)

    def get_modified_time(self, name: str) -> datetime:
        """When the object was last written: aware UTC if ``USE_TZ``, else naive local."""
        return _django_time(self.store.stat(self._key(name)).last_modified)

    def get_created_time(self, name: str) -> datetime:
        """When the object stored under ``name`` was created: objects are written
        whole, never modified in place, so this is its last write."""
        return self.get_modified_time(name)

    def get_accessed_time(self, name: str) -> datetime:
        """Not recorded by any backend.

        Raises:
            UnsupportedOperationError: always (a ``NotImplementedError``, as Django expects).
        """
        raise UnsupportedOperationError("object stores do not record access times", key=name)

    # -- helpers ---------------------------------------------------------------------------

    def _key(self, name: str) -> str:
        try:
            return check_key(str(name).replace("\\", "/"))
        except InvalidKeyError as exc:
            raise SuspiciousFileOperation(f"not a valid object key: {exc}") from exc


def _chunks(content: Any) -> Iterator[bytes]:
    for chunk in content.chunks(CHUNK):
        yield chunk.encode() if isinstance(chunk, str) else chunk


def _rewind(content: Any) -> None:
    """Make ``content`` readable from the start again for another attempt."""
    seekable = getattr(content, "seekable", None)
    if seekable is not None and not seekable():
        raise FileExistsError(
            "the name was taken by a concurrent upload and the content cannot be read again"
        )
    content.seek(0)


def _django_time(moment: datetime) -> datetime:
    if settings.USE_TZ:
        return moment
    return timezone.make_naive(moment, timezone.get_default_timezone())
