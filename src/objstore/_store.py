"""The user-facing ``Store``: one contract over any backend.

The store does the shared work once, so backends stay small: it validates keys
and arguments before any I/O, refuses calls after ``close``, guesses content
types, maps stray exceptions to the error tree, and provides every convenience
(``exists``, ``get_stream``, ``open``, and fallbacks for ``copy`` and
``delete_many`` where the backend has no native call).

``StoreBase`` holds everything ``Store`` and ``AsyncStore`` share: the checks
(``_prepare_*``, no I/O), the error mapping, and one synchronous routine per
operation (``_sync_*``: the backend call). ``Store`` calls the routines directly;
``AsyncStore`` runs them in its worker pool for a blocking backend, and has an
awaited twin of each for a native async one.

Every public method asks the store's :class:`~objstore._operation.Watch` for an
operation first: ``None`` (nothing observes the store) runs the call bare;
otherwise the call runs inside the operation, which reports an
:class:`~objstore.Event` when it finishes (SPEC §9).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any, NoReturn

from . import _checks, _signed_urls
from ._defaults import PRESIGN_EXPIRES
from ._events import EventCallback
from ._keys import check_delimiter, check_key, check_prefix, prefix_can_match
from ._models import Capabilities, CommonPrefix, ObjectInfo
from ._operation import Watch
from ._payload import AsyncPayload, Payload, ProgressCallback, make_payload
from ._reader import ChunkIterator, ObjectReader, RangeCursor
from ._watched import WatchedCursor, watched_items
from .backend import Backend, Overwrite, WriteMode
from .errors import (
    NotFoundError,
    ObjstoreError,
    PermissionDeniedError,
    StoreClosedError,
    UnavailableError,
    UnsupportedOperationError,
)

_BUILTIN_ERRORS: tuple[tuple[type[Exception], type[ObjstoreError], str], ...] = (
    (FileNotFoundError, NotFoundError, "not found"),
    (PermissionError, PermissionDeniedError, "permission denied"),
    (ConnectionError, UnavailableError, "backend unavailable"),
    (TimeoutError, UnavailableError, "backend timed out"),
)

# How to turn conditional writes on where a preset turned them off.
_CONDITIONAL_HINTS = {
    "s3": (
        "; this store's provider preset says the service does not honour them: if yours "
        "does (docs/s3.md, Providers), set conditional_writes: true in its s3 section"
    ),
}

PutArgs = tuple[str, str, dict[str, str], WriteMode]
CopyArgs = tuple[str, str, WriteMode]
ListArgs = tuple[str, "str | None", "str | None"]


class StoreBase:
    """Everything ``Store`` and ``AsyncStore`` share: state, checks, error mapping and
    the synchronous body of each operation."""

    def __init__(self, backend: Backend):
        self._backend = backend
        self._name = backend.name
        self._closed = False
        self._watch = Watch(backend)

    @property
    def capabilities(self) -> Capabilities:
        """What the backend supports natively."""
        return self._backend.capabilities

    @property
    def closed(self) -> bool:
        """Whether the store has been closed."""
        return self._closed

    @property
    def circuit_state(self) -> str | None:
        """The circuit breaker's state: ``"closed"``, ``"open"``, ``"half_open"``, or
        ``None`` when the store has no breaker (SPEC §7)."""
        from .layers import CircuitBreakerLayer

        layer: object = self._backend
        while layer is not None:
            if isinstance(layer, CircuitBreakerLayer):
                return layer.state
            layer = getattr(layer, "inner", None)
        return None

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` after every operation of this store (SPEC §9).

        ``event`` is an :class:`~objstore.Event`. Callbacks run in the thread that
        finished the operation (on the event loop for an ``AsyncStore``), in the
        order they subscribed; keep them quick. A callback that raises is logged
        on logger ``objstore`` and never breaks the operation. Changes of the
        circuit breaker's state arrive as events too (``op="circuit"``).

        Returns:
            A function that removes this subscription (harmless to call twice).

        Raises:
            TypeError: ``callback`` is not callable.
        """
        return self._watch.subscribe(callback)

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<{type(self).__name__} {self._backend!r}{state}>"

    # -- checks, before any I/O ----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"this {self._name} store is closed", backend=self._name)

    def _prepare_key(self, key: str) -> str:
        self._check_open()
        return check_key(key)

    def _prepare_put(
        self,
        key: str,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
        if_match: str | None,
        if_none_match: str | None,
    ) -> PutArgs:
        key = self._prepare_key(key)
        content_type = _checks.check_content_type(content_type)
        meta = _checks.check_metadata(metadata)
        mode = _checks.check_mode(if_match, if_none_match)
        if not isinstance(mode, Overwrite):
            self._require_conditional(key)
        return key, content_type or _checks.guess_content_type(key), meta, mode

    def _prepare_read(
        self, key: str, offset: int, length: int | None
    ) -> tuple[str, int, int | None]:
        key = self._prepare_key(key)
        offset, length = _checks.check_range(offset, length)
        return key, offset, length

    def _prepare_copy(self, src_key: str, dst_key: str, if_none_match: str | None) -> CopyArgs:
        self._check_open()
        src_key, dst_key = check_key(src_key), check_key(dst_key)
        mode = _checks.check_mode(None, if_none_match)
        if not isinstance(mode, Overwrite):
            self._require_conditional(dst_key)
        return src_key, dst_key, mode

    def _prepare_list(
        self, prefix: str, delimiter: str | None, start_after: str | None
    ) -> tuple[str, ListArgs | None]:
        """Check listing arguments: the prefix, and the backend's arguments (``None`` when
        no key can match at all)."""
        self._check_open()
        prefix = check_prefix(prefix)
        delimiter = check_delimiter(delimiter)
        if start_after is not None:
            start_after = check_prefix(start_after, "start_after")
        return prefix, ((prefix, delimiter, start_after) if prefix_can_match(prefix) else None)

    def _prepare_keys(self, keys: Iterable[str]) -> builtins.list[str]:
        self._check_open()
        if isinstance(keys, str | bytes):
            raise TypeError("delete_many() takes an iterable of keys, not a single key")
        return [check_key(key) for key in keys]

    def _prepare_presign(
        self, key: str, method: str, expires: int | timedelta, content_type: str | None
    ) -> tuple[str, str, int]:
        key = self._prepare_key(key)
        verb, seconds = _checks.check_presign(method, expires, content_type)
        return key, verb, seconds

    def _require_conditional(self, key: str) -> None:
        if not self._backend.capabilities.conditional_put:
            hint = _CONDITIONAL_HINTS.get(self._name, "")
            raise UnsupportedOperationError(
                f"the {self._name} backend cannot do conditional writes (if_match / "
                f"if_none_match) race-free, so it refuses them rather than ignore them{hint}",
                key=key,
                backend=self._name,
            )

    def _fail(
        self, exc: Exception, key: str | None, payload: Payload | AsyncPayload | None = None
    ) -> NoReturn:
        """Re-raise ``exc`` in the error tree, with key and backend filled in."""
        if payload is not None and payload.failure is not None:
            raise payload.failure  # the caller's own data source failed: theirs, unchanged
        if isinstance(exc, ObjstoreError):
            if exc.backend is None:
                exc.backend = self._name
            if exc.key is None:
                exc.key = key
            raise exc
        for builtin, mapped, what in _BUILTIN_ERRORS:
            if isinstance(exc, builtin):
                where = f" for {key!r}" if key is not None else ""
                raise mapped(f"{self._name}: {what}{where}", key=key, backend=self._name) from exc
        raise exc

    # -- the synchronous body of each operation (I/O) ------------------------------------

    def _sync_put(self, args: PutArgs, payload: Payload) -> ObjectInfo:
        key, content_type, metadata, mode = args
        try:
            return self._backend.put(
                key, payload, content_type=content_type, metadata=metadata, mode=mode
            )
        except Exception as exc:
            self._fail(exc, key, payload)

    def _sync_get(self, key: str, offset: int, length: int | None) -> bytes:
        return self._open_cursor(key, offset, length).read_all()

    def _open_cursor(self, key: str, offset: int, length: int | None) -> RangeCursor:
        try:
            stream = self._backend.get(key, offset=offset, length=length)
        except Exception as exc:
            self._fail(exc, key)
        return RangeCursor(self._backend, key, stream, offset, length, self._fail)

    def _sync_stat(self, key: str) -> ObjectInfo:
        try:
            return self._backend.stat(key)
        except Exception as exc:
            self._fail(exc, key)

    def _sync_exists(self, key: str) -> bool:
        try:
            self._sync_stat(key)
        except NotFoundError:
            return False
        return True

    def _sync_delete(self, key: str) -> None:
        try:
            self._backend.delete(key)
        except Exception as exc:
            self._fail(exc, key)

    def _sync_delete_many(self, keys: builtins.list[str]) -> None:
        try:
            if self._backend.capabilities.batch_delete:
                if keys:
                    self._backend.delete_many(keys)
                return
            for key in keys:
                self._backend.delete(key)
        except Exception as exc:
            self._fail(exc, None)

    def _sync_list(
        self, prefix: str, delimiter: str | None, start_after: str | None
    ) -> Iterator[ObjectInfo | CommonPrefix]:
        try:
            for item in self._backend.list(prefix, delimiter=delimiter, start_after=start_after):
                self._check_open()  # a listing does not outlive its store
                yield item
        except Exception as exc:
            self._fail(exc, None)

    def _sync_copy(self, src_key: str, dst_key: str, mode: WriteMode) -> ObjectInfo:
        if self._backend.capabilities.server_side_copy:
            try:
                return self._backend.copy(src_key, dst_key, mode=mode)
            except Exception as exc:
                self._fail(exc, src_key)
        cursor = self._open_cursor(src_key, 0, None)
        source = cursor.info
        payload = Payload(_cursor_chunks(cursor), source.size)
        try:
            content_type = source.content_type or _checks.guess_content_type(dst_key)
            args = (dst_key, content_type, dict(source.metadata or {}), mode)
            return self._sync_put(args, payload)
        finally:
            cursor.close()

    def _sync_presign(self, key: str, verb: str, seconds: int, content_type: str | None) -> str:
        if not self._backend.capabilities.presign:
            reason = _signed_urls.cannot_presign(self._backend, self._name)
            raise UnsupportedOperationError(reason, key=key, backend=self._name)
        try:
            return self._backend.presign(
                key, method=verb, expires=seconds, content_type=content_type
            )
        except Exception as exc:
            self._fail(exc, key)


class Store(StoreBase):
    """A synchronous object store over one backend.

    Open one with :func:`objstore.open`; it is a context manager and is safe to
    share between threads.
    """

    def put(
        self,
        key: str,
        data: bytes | bytearray | memoryview | Any,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectInfo:
        """Store ``data`` under ``key`` atomically and describe the new object.

        Args:
            key: The object's key (SPEC §3).
            data: ``bytes``-like, a binary file object (anything with ``read(n)``)
                or an iterable of bytes-like chunks; streams are read in bounded memory.
            content_type: The media type; guessed from the key's extension when None.
            metadata: User metadata: lowercase ``[a-z0-9-]`` names, ``str`` values,
                2 KiB in all.
            if_match: Write only if the current etag equals this.
            if_none_match: ``"*"``: write only if the key is absent.
            progress: Called with ``(bytes_done, total_or_None)`` as data moves.

        Raises:
            InvalidKeyError: the key is not portable.
            PreconditionFailedError: a condition did not hold; nothing changed.
            KeyConflictError: the backend cannot hold the key beside an existing one.
            UnsupportedOperationError: a condition was given to a backend without
                race-free conditional writes.
        """
        args = self._prepare_put(key, content_type, metadata, if_match, if_none_match)
        op = self._watch.start("put", args[0])
        if op is None:
            return self._sync_put(args, make_payload(data, progress))
        with op:
            return self._sync_put(args, make_payload(data, op.track(progress)))

    def get(self, key: str, *, offset: int = 0, length: int | None = None) -> bytes:
        """Return the object's bytes, or the range ``[offset, offset + length)``.

        Raises:
            NotFoundError: the key does not exist.
        """
        read = self._prepare_read(key, offset, length)
        op = self._watch.start("get", read[0])
        if op is None:
            return self._sync_get(*read)
        with op:
            return op.moved(self._sync_get(*read))

    def get_stream(
        self, key: str, *, offset: int = 0, length: int | None = None, chunk_size: int = 1 << 20
    ) -> ChunkIterator:
        """Iterate over the object's bytes in chunks of at most ``chunk_size``.

        The object is opened at once (so ``NotFoundError`` is raised here, not at
        the first chunk); the iterator releases its file or connection when
        exhausted or closed, and has ``.info``.

        Raises:
            NotFoundError: the key does not exist.
        """
        chunk_size = _checks.check_chunk_size(chunk_size)
        read = self._prepare_read(key, offset, length)
        op = self._watch.start("get_stream", read[0], stream=True)
        if op is None:
            return ChunkIterator(self._open_cursor(*read), chunk_size)
        with op:
            cursor = self._open_cursor(*read)
        return ChunkIterator(WatchedCursor(cursor, op), chunk_size)

    def open(self, key: str, *, offset: int = 0, length: int | None = None) -> ObjectReader:
        """Open the object (or a range of it) as a read-only, seekable binary file with ``.info``.

        Raises:
            NotFoundError: the key does not exist.
        """
        read = self._prepare_read(key, offset, length)
        op = self._watch.start("open", read[0], stream=True)
        if op is None:
            return ObjectReader(self._open_cursor(*read))
        with op:
            cursor = self._open_cursor(*read)
        return ObjectReader(WatchedCursor(cursor, op))

    def stat(self, key: str) -> ObjectInfo:
        """Describe the object, content type and metadata included.

        Raises:
            NotFoundError: the key does not exist.
        """
        key = self._prepare_key(key)
        op = self._watch.start("stat", key)
        if op is None:
            return self._sync_stat(key)
        with op:
            return self._sync_stat(key)

    def exists(self, key: str) -> bool:
        """Tell whether an object has this key."""
        key = self._prepare_key(key)
        op = self._watch.start("exists", key)
        if op is None:
            return self._sync_exists(key)
        with op:
            return self._sync_exists(key)

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        key = self._prepare_key(key)
        op = self._watch.start("delete", key)
        if op is None:
            return self._sync_delete(key)
        with op:
            return self._sync_delete(key)

    def delete_many(self, keys: Iterable[str]) -> None:
        """Remove several objects, with the backend's batch call where it has one.

        Every key is checked before anything is deleted; missing keys are fine.
        """
        checked = self._prepare_keys(keys)
        op = self._watch.start("delete_many", None)
        if op is None:
            return self._sync_delete_many(checked)
        with op:
            op.detail["keys"] = len(checked)
            return self._sync_delete_many(checked)

    def list(
        self, prefix: str = "", *, delimiter: str | None = None, start_after: str | None = None
    ) -> Iterator[ObjectInfo | CommonPrefix]:
        """Yield objects whose key starts with ``prefix``, in ascending key order.

        Recursive unless ``delimiter`` is given, in which case keys that contain
        it after the prefix are collapsed into :class:`CommonPrefix` values.
        ``start_after`` skips every key up to and including it. Pagination is
        internal; memory stays bounded.
        """
        prefix, args = self._prepare_list(prefix, delimiter, start_after)
        items = iter(()) if args is None else self._sync_list(*args)
        return watched_items(self._watch, prefix, items) if self._watch.observed() else items

    def copy(self, src_key: str, dst_key: str, *, if_none_match: str | None = None) -> ObjectInfo:
        """Copy an object with its content type and metadata; server-side where possible.

        Raises:
            NotFoundError: the source does not exist.
            PreconditionFailedError: ``if_none_match="*"`` and the target exists.
        """
        args = self._prepare_copy(src_key, dst_key, if_none_match)
        op = self._watch.start("copy", args[1])
        if op is None:
            return self._sync_copy(*args)
        with op:
            op.detail["source_key"] = args[0]
            info = self._sync_copy(*args)
            op.bytes = info.size
            return info

    def presign(
        self,
        key: str,
        *,
        method: str = "GET",
        expires: int | timedelta = PRESIGN_EXPIRES,
        content_type: str | None = None,
    ) -> str:
        """Return a URL that lets a plain HTTP client ``GET`` or ``PUT`` the object.

        Raises:
            UnsupportedOperationError: the store cannot presign; the message says
                what configuration is missing.
        """
        key, verb, seconds = self._prepare_presign(key, method, expires, content_type)
        op = self._watch.start("presign", key)
        if op is None:
            return self._sync_presign(key, verb, seconds, content_type)
        with op:
            return self._sync_presign(key, verb, seconds, content_type)

    def close(self) -> None:
        """Release the backend's resources; later calls raise ``StoreClosedError``."""
        if not self._closed:
            self._closed = True
            self._watch.close()
            self._backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _cursor_chunks(cursor: RangeCursor, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := cursor.read(size):
        yield chunk
