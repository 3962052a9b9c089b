"""The contract a storage backend fulfils: the ``Backend`` protocol.

Users never call a backend directly; they call :class:`objstore.Store`, which
validates keys and arguments, refuses calls after ``close``, maps stray errors,
and provides every convenience (``exists``, ``get_stream``, ``open``, fallbacks
for ``copy`` and ``delete_many``, signed URLs). A backend therefore only ever
receives valid keys (SPEC §3) and checked arguments, and implements the few
primitives below. Each method's docstring states its contract in MUST
sentences; ``objstore.testing.ConformanceSuite`` checks each of them through
the public ``Store`` API. For every method, a backend:

- MUST raise only :mod:`objstore.errors` for storage failures, translating its
  native errors in one place and chaining them (``raise ... from exc``), and
  MUST NOT put a secret into any message;
- MUST raise :class:`~objstore.errors.UnavailableError` only when the service
  cannot be reached or is overloaded (the circuit breaker counts it), and
  :class:`~objstore.errors.InsufficientStorageError` when it is full.

A backend that retries failed requests itself calls :func:`note_retry` before
each retry, so the store's events report the attempts an operation took; one
that never retries sets ``reports_retries = False``.

A backend may also implement :class:`AsyncBackend`, the native asyncio twins of
its I/O methods; ``AsyncStore`` then runs on the event loop without threads.

Everything a third-party backend needs to *register* itself (``BackendSpec``,
options, ``register_backend``) lives in :mod:`objstore.plugin`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeAlias, runtime_checkable

from ._attempts import note_retry
from ._models import Capabilities, CommonPrefix, ObjectInfo
from ._payload import AsyncPayload, Payload
from .errors import PreconditionFailedError, UnsupportedOperationError

__all__ = [
    "AsyncBackend",
    "AsyncPayload",
    "AsyncReadStream",
    "Backend",
    "BackendBase",
    "CREATE",
    "Capabilities",
    "CommonPrefix",
    "Create",
    "OVERWRITE",
    "ObjectInfo",
    "Overwrite",
    "Payload",
    "ReadStream",
    "Update",
    "WriteMode",
    "check_write",
    "note_retry",
]


# -- write modes ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Overwrite:
    """Write whatever is there (an unconditional ``put``)."""

    def allows(self, current: str | None) -> bool:
        """Whether the write may go ahead over the version ``current`` (``None``: absent)."""
        return True

    def refusal(self, key: str) -> str:
        return f"{key!r} cannot be written"  # never raised: an overwrite always proceeds


@dataclass(frozen=True, slots=True)
class Create:
    """Write only if the key is absent (``if_none_match="*"``)."""

    def allows(self, current: str | None) -> bool:
        """Whether the write may go ahead over the version ``current`` (``None``: absent)."""
        return current is None

    def refusal(self, key: str) -> str:
        return f"{key!r} already exists"


@dataclass(frozen=True, slots=True)
class Update:
    """Write only over the version whose etag is ``etag`` (``if_match=etag``)."""

    etag: str

    def allows(self, current: str | None) -> bool:
        """Whether the write may go ahead over the version ``current`` (``None``: absent)."""
        return current == self.etag

    def refusal(self, key: str) -> str:
        return f"{key!r} does not have etag {self.etag!r}"


#: How ``put`` treats an existing object: one of three, never a contradictory mix.
WriteMode: TypeAlias = Overwrite | Create | Update

OVERWRITE = Overwrite()
CREATE = Create()


def check_write(key: str, mode: WriteMode, current: str | None, backend: str) -> None:
    """Raise :class:`PreconditionFailedError` unless ``mode`` allows writing over ``current``.

    ``current`` is the etag of the object now stored under ``key`` (``None``:
    none). Backends call this inside their commit's critical section.
    """
    if not mode.allows(current):
        raise PreconditionFailedError(mode.refusal(key), key=key, backend=backend)


# -- reads ------------------------------------------------------------------------------------


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
        """Release the file or connection; MUST be harmless when called again."""
        ...


@runtime_checkable
class AsyncReadStream(Protocol):
    """The asyncio twin of :class:`ReadStream`, as ``AsyncBackend.aget`` returns it."""

    info: ObjectInfo

    async def read(self, n: int) -> bytes:
        """See :meth:`ReadStream.read`."""
        ...

    async def aclose(self) -> None:
        """See :meth:`ReadStream.close`."""
        ...


# -- the protocol -----------------------------------------------------------------------------


@runtime_checkable
class Backend(Protocol):
    """The primitives a storage backend implements."""

    @property
    def blocking(self) -> bool:
        """Whether a call may block the calling thread. ``AsyncStore`` runs the calls
        of a blocking backend in its worker pool, and those of a non-blocking one
        (the memory backend) on the event loop."""
        ...

    @property
    def native_async(self) -> bool:
        """Whether the backend implements :class:`AsyncBackend`; ``AsyncStore`` then
        awaits those methods on the event loop instead of using threads."""
        ...

    @property
    def name(self) -> str:
        """Short backend name used in errors and logs (``"file"``, ``"s3"``)."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What the backend does natively; MUST NOT change while it is open."""
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

        MUST be atomic: a reader sees the old object or the new one whole. If it
        fails for any reason, including an exception raised while reading the
        payload or :meth:`Payload.seal` refusing the commit, the old object MUST
        stay as it was and nothing else become visible (no temp file, no
        lingering multipart upload). MUST commit content type, metadata and etag
        together with the data, and call ``payload.seal()`` right before the
        commit. MUST honour ``mode`` race-free when ``capabilities.conditional_put``
        is true (the store never passes a conditional mode otherwise); when the
        answer to a conditional write is lost and the write is retried, MUST
        report success if the stored object is the one this call wrote.

        Raises:
            PreconditionFailedError: ``mode`` does not allow the write; nothing changed.
            KeyConflictError: the backend cannot hold ``key`` beside an existing key.
            InsufficientStorageError: no room; nothing changed.
        """
        ...

    def get(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> ReadStream:
        """Open the byte range ``[offset, offset + length)`` (to the end if ``length`` is None).

        MUST return a stream positioned at ``offset`` that yields exactly the
        requested range, truncated at the object's end (``b""`` when ``offset``
        is at or past it), whose ``info`` equals what ``stat`` says.

        Raises:
            NotFoundError: no object has this key.
            PreconditionFailedError: ``if_match`` is given and differs from the etag.
        """
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Describe the object, MUST fill content type and metadata, and MUST give
        ``last_modified`` in UTC and the same etag as ``put``, ``get`` and ``list``.

        Raises:
            NotFoundError: no object has this key.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove the object; MUST NOT raise when the key does not exist."""
        ...

    def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> Iterator[ObjectInfo | CommonPrefix]:
        """Yield objects (and common prefixes) in ascending key order.

        MUST yield in ascending code-point order only keys that start with
        ``prefix`` (a plain string prefix) and sort after ``start_after``, and
        collapse keys on ``delimiter`` into :class:`CommonPrefix` values, with
        memory bounded whatever the number of keys. Each object's etag, size and
        ``last_modified`` MUST equal ``stat``'s; content type and metadata are
        either the real values or ``None``. An object deleted while the listing
        runs MAY be left out, but MUST NOT make the listing fail.
        """
        ...

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        """Copy content, content type and metadata natively (``server_side_copy``).

        MAY be left unimplemented; the store calls it only when
        ``capabilities.server_side_copy`` is true. ``mode`` is
        :data:`OVERWRITE` or :data:`CREATE`.

        Raises:
            NotFoundError: the source does not exist.
            PreconditionFailedError: ``mode`` is create-only and the target exists.
        """
        ...

    def delete_many(self, keys: Sequence[str]) -> None:
        """Delete several keys with the backend's batch call (``batch_delete``).

        MAY be left unimplemented; the store calls it only when
        ``capabilities.batch_delete`` is true. Missing keys MUST NOT be an error.
        """
        ...

    def presign(self, key: str, *, method: str, expires: int, content_type: str | None) -> str:
        """Return a URL granting ``method`` (``GET`` or ``PUT``) on ``key`` for ``expires``
        seconds, with no network call (``presign``).

        MAY be left unimplemented; the store calls it only when
        ``capabilities.presign`` is true. A backend without it gets objstore's
        signed URLs (SPEC §8) through configuration, unless its ``BackendSpec``
        says ``native_presign=True``.
        """
        ...

    def close(self) -> None:
        """Release connections, pools and files; the store never calls it twice."""
        ...


@runtime_checkable
class AsyncBackend(Protocol):
    """Native asyncio twins of :class:`Backend`'s I/O methods (``native_async``).

    Each MUST keep the contract of its sync sibling, and MUST leave nothing
    behind when the awaiting task is cancelled (the old object, or the new one
    whole if the commit had happened).
    """

    async def aput(
        self,
        key: str,
        payload: AsyncPayload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        """See :meth:`Backend.put`."""
        ...

    async def aget(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> AsyncReadStream:
        """See :meth:`Backend.get`."""
        ...

    async def astat(self, key: str) -> ObjectInfo:
        """See :meth:`Backend.stat`."""
        ...

    async def adelete(self, key: str) -> None:
        """See :meth:`Backend.delete`."""
        ...

    def alist(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> AsyncIterator[ObjectInfo | CommonPrefix]:
        """See :meth:`Backend.list`."""
        ...

    async def acopy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        """See :meth:`Backend.copy`."""
        ...

    async def adelete_many(self, keys: Sequence[str]) -> None:
        """See :meth:`Backend.delete_many`."""
        ...

    async def aclose(self) -> None:
        """See :meth:`Backend.close`."""
        ...


class BackendBase:
    """Convenience base class: optional operations refuse, ``close`` does nothing.

    Subclasses set ``name`` and ``capabilities`` and implement ``put``, ``get``,
    ``stat``, ``delete`` and ``list``.
    """

    name: str = "backend"
    capabilities: Capabilities = Capabilities()
    blocking: bool = True
    native_async: bool = False
    #: Whether the backend may retry and report it with :func:`note_retry`. A backend
    #: that never retries says ``False``: the store then skips the retry tally on
    #: calls that nothing observes.
    reports_retries: bool = True

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
            f"the {self.name} backend cannot presign URLs natively", key=key, backend=self.name
        )

    def close(self) -> None:
        return None
