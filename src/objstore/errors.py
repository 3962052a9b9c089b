"""The objstore error tree.

Every error a store raises derives from :class:`ObjstoreError`; most also derive
from the built-in exception a Python user would reach for first::

    ObjstoreError
    ├── NotFoundError              (also FileNotFoundError)
    ├── PreconditionFailedError
    ├── InvalidKeyError            (also ValueError)
    ├── KeyConflictError
    ├── PermissionDeniedError      (also PermissionError)
    ├── UnavailableError           (also ConnectionError)
    │   └── CircuitOpenError
    ├── InsufficientStorageError
    ├── UnsupportedOperationError  (also NotImplementedError)
    ├── StoreClosedError
    └── ConfigError                (also ValueError)

Each error carries ``key`` (the object key concerned, or ``None``) and ``backend``
(the backend's name, or ``None`` when no backend is involved yet). The backend's
own exception, where there is one, is chained as ``__cause__``. Messages are
written by objstore, never copied from a configuration, so they hold no secret.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CircuitOpenError",
    "ConfigError",
    "InsufficientStorageError",
    "InvalidKeyError",
    "KeyConflictError",
    "NotFoundError",
    "ObjstoreError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "StoreClosedError",
    "UnavailableError",
    "UnsupportedOperationError",
]


class ObjstoreError(Exception):
    """Base class of every error raised by objstore.

    Args:
        message: A human-readable explanation; never contains a secret.
        key: The key the failed call was about, if any.
        backend: The name of the backend that failed, if any.
    """

    def __init__(self, message: str, *, key: str | None = None, backend: str | None = None):
        super().__init__(message)
        self.message = message
        self.key = key
        self.backend = backend

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, key={self.key!r}, backend={self.backend!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle their positional args only; keep key and backend too
        # so errors survive multiprocessing and concurrent.futures.
        return (_rebuild, (type(self), self.message, self.key, self.backend))


def _rebuild(
    cls: type[ObjstoreError], message: str, key: str | None, backend: str | None
) -> ObjstoreError:
    return cls(message, key=key, backend=backend)


class NotFoundError(ObjstoreError, FileNotFoundError):
    """The key does not exist (get, stat, open, copy source)."""


class PreconditionFailedError(ObjstoreError):
    """A condition of ``put`` or ``copy`` (``if_match``/``if_none_match``) did not hold.

    Also raised by a resumed read when the object changed since the read began.
    """


class InvalidKeyError(ObjstoreError, ValueError):
    """The key breaks the portable key rules, or names something the backend reserves."""


class KeyConflictError(ObjstoreError):
    """The backend cannot hold this key beside an existing one (``a`` and ``a/b`` on disk)."""


class PermissionDeniedError(ObjstoreError, PermissionError):
    """Credentials or access rights refuse the call, or the store is read-only."""


class UnavailableError(ObjstoreError, ConnectionError):
    """The backend cannot be reached, or keeps failing after retries."""


class CircuitOpenError(UnavailableError):
    """The circuit breaker is open: the call was refused without reaching the backend."""


class InsufficientStorageError(ObjstoreError):
    """The disk, volume or quota is full; the write changed nothing."""


class UnsupportedOperationError(ObjstoreError, NotImplementedError):
    """The backend cannot do this (or not with this option); the message says why."""


class StoreClosedError(ObjstoreError):
    """The store was closed; it accepts no more calls."""


class ConfigError(ObjstoreError, ValueError):
    """The configuration is invalid or incomplete, or an optional extra is missing."""
