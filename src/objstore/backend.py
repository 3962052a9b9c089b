"""The contract a storage backend fulfils: the ``Backend`` protocol.

Users never call a backend directly; they call :class:`objstore.Store`, which
validates keys and arguments, refuses calls after ``close``, maps stray errors,
and provides every convenience (``exists``, ``get_stream``, ``open``, fallbacks
for ``copy`` and ``delete_many``). A backend therefore only ever receives valid
keys (SPEC §3) and checked arguments, and implements the few primitives below.

The sentences with MUST are the contract; ``objstore.testing.ConformanceSuite``
checks each of them through the public ``Store`` API. A backend:

- MUST raise only :mod:`objstore.errors` for storage failures, translating its
  native errors in one place and chaining them (``raise ... from exc``).
- MUST raise :class:`~objstore.errors.NotFoundError` from ``get`` and ``stat`` when
  the key does not exist, and MUST NOT raise from ``delete`` in that case.
- MUST make ``put`` atomic: a reader sees the old object or the new one whole;
  if ``put`` fails for any reason, including an exception raised while reading
  the payload, the old object stays as it was and nothing else becomes visible
  (no temp file, no lingering multipart upload).
- MUST commit content type, metadata and etag together with the data.
- MUST honour :class:`WriteMode` race-free when ``capabilities.conditional_put``
  is true; the store never passes a conditional mode otherwise.
- MUST give an etag that changes whenever the content changes, identical in
  ``put``'s result, ``stat``, ``get``'s info and ``list``.
- MUST yield from ``list`` in ascending code-point order, only keys that start
  with ``prefix`` (a plain string prefix) and sort after ``start_after``, and
  collapse keys on ``delimiter`` into :class:`~objstore.CommonPrefix` values,
  with memory bounded whatever the number of keys.
- MUST return from ``get`` a stream positioned at ``offset`` that yields exactly
  the requested range, truncated at the object's end (``b""`` when ``offset``
  is at or past it); when ``if_match`` is given and the object's etag differs
  it MUST raise :class:`~objstore.errors.PreconditionFailedError`.
- MAY implement ``copy``, ``delete_many`` and ``presign`` natively; the store
  calls them only when ``capabilities`` says so (``server_side_copy``,
  ``batch_delete``, ``presign``) and otherwise falls back or refuses.
- MUST release everything in ``close``; the store never calls it twice.
- MAY set ``blocking = False`` when no call ever blocks (the memory backend):
  ``AsyncStore`` then runs its calls on the event loop instead of a worker pool.

:class:`BackendBase` gives the optional methods a refusing default, so a minimal
backend implements ``put``, ``get``, ``stat``, ``delete`` and ``list``. Two
helpers do the listing arithmetic: :func:`collapse` groups a sorted stream of
objects by a delimiter, and :func:`prefix_end` gives the exclusive upper bound
of the keys that start with a prefix (for range queries).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

from ._listing import collapse, prefix_end
from ._models import Capabilities, CommonPrefix, ObjectInfo
from ._options import (
    REQUIRED,
    Option,
    Section,
    as_bool,
    as_duration,
    as_int,
    as_size,
    as_str,
    bool_or_path,
    one_of,
    optional,
)
from ._payload import Payload
from ._registry import BackendSpec, Shared, register_backend
from .errors import UnsupportedOperationError

__all__ = [
    "Backend",
    "BackendBase",
    "BackendSpec",
    "Capabilities",
    "CommonPrefix",
    "ObjectInfo",
    "Option",
    "Payload",
    "REQUIRED",
    "ReadStream",
    "Section",
    "Shared",
    "WriteMode",
    "as_bool",
    "as_duration",
    "as_int",
    "as_size",
    "as_str",
    "bool_or_path",
    "collapse",
    "one_of",
    "optional",
    "prefix_end",
    "register_backend",
]


@dataclass(frozen=True, slots=True)
class WriteMode:
    """How ``put`` treats an existing object: overwrite, create only, or update one version.

    Use the constants :attr:`OVERWRITE` and :attr:`CREATE`, or :meth:`update`.

    Attributes:
        create: Write only if the key is absent (``if_none_match="*"``).
        if_match: Write only if the current etag equals this (``if_match=etag``).
    """

    create: bool = False
    if_match: str | None = None

    OVERWRITE: ClassVar[WriteMode]
    CREATE: ClassVar[WriteMode]

    @classmethod
    def update(cls, etag: str) -> WriteMode:
        """The mode that writes only over the version whose etag is ``etag``."""
        return cls(if_match=etag)

    @property
    def conditional(self) -> bool:
        """Whether this mode carries a condition at all."""
        return self.create or self.if_match is not None


WriteMode.OVERWRITE = WriteMode()
WriteMode.CREATE = WriteMode(create=True)


@runtime_checkable
class ReadStream(Protocol):
    """An open read of one object (or a range of it), as ``Backend.get`` returns it.

    Attributes:
        info: The whole object's description (``size`` is the object's size,
            not the range's), with content type and metadata filled in.
    """

    info: ObjectInfo

    def read(self, n: int) -> bytes:
        """Return up to ``n`` (> 0) bytes of the range; ``b""`` at its end.

        A backend whose connection can drop MUST raise
        :class:`~objstore.errors.UnavailableError` when it does; the store then
        resumes with a ranged ``get`` pinned by ``if_match`` to ``info.etag``.
        """
        ...

    def close(self) -> None:
        """Release the file or connection; may be called more than once."""
        ...


@runtime_checkable
class Backend(Protocol):
    """The primitives a storage backend implements (see the module docstring)."""

    @property
    def name(self) -> str:
        """Short backend name used in errors and logs (``"file"``, ``"s3"``)."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What the backend does natively."""
        ...

    def put(
        self,
        key: str,
        payload: Payload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        """Store the payload under ``key`` atomically and describe the new object.

        Raises:
            PreconditionFailedError: ``mode`` carries a condition that does not hold.
            KeyConflictError: the backend cannot hold ``key`` beside an existing key.
        """
        ...

    def get(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> ReadStream:
        """Open the byte range ``[offset, offset + length)`` (to the end if ``length`` is None).

        Raises:
            NotFoundError: no object has this key.
            PreconditionFailedError: ``if_match`` is given and differs from the etag.
        """
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Describe the object, with content type and metadata.

        Raises:
            NotFoundError: no object has this key.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error."""
        ...

    def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> Iterator[ObjectInfo | CommonPrefix]:
        """Yield objects (and common prefixes) in ascending key order."""
        ...

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        """Copy content, content type and metadata natively (``server_side_copy``).

        ``mode`` is :attr:`WriteMode.OVERWRITE` or :attr:`WriteMode.CREATE`.

        Raises:
            NotFoundError: the source does not exist.
            PreconditionFailedError: ``mode`` is create-only and the target exists.
        """
        ...

    def delete_many(self, keys: Sequence[str]) -> None:
        """Delete several keys with the backend's batch call (``batch_delete``)."""
        ...

    def presign(self, key: str, *, method: str, expires: int, content_type: str | None) -> str:
        """Return a URL granting ``method`` on ``key`` for ``expires`` seconds (``presign``)."""
        ...

    def close(self) -> None:
        """Release connections, pools and files."""
        ...


class BackendBase:
    """Convenience base class: optional operations refuse, ``close`` does nothing.

    Subclasses set ``name`` and ``capabilities`` and implement ``put``, ``get``,
    ``stat``, ``delete`` and ``list``.
    """

    name: str = "backend"
    capabilities: Capabilities = Capabilities()
    blocking: bool = True

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        raise UnsupportedOperationError(
            f"the {self.name} backend has no native copy", key=src_key, backend=self.name
        )

    def delete_many(self, keys: Sequence[str]) -> None:
        raise UnsupportedOperationError(
            f"the {self.name} backend has no batch delete", backend=self.name
        )

    def presign(self, key: str, *, method: str, expires: int, content_type: str | None) -> str:
        raise UnsupportedOperationError(
            f"the {self.name} backend cannot presign URLs natively, and signed URLs served by "
            "objstore itself (base_url and signing_key) are not available in this version",
            key=key,
            backend=self.name,
        )

    def close(self) -> None:
        return None
