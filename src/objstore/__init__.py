"""objstore: one storage interface over the local filesystem and S3-compatible stores.

Examples:
    >>> import objstore
    >>> with objstore.open("memory://") as store:
    ...     info = store.put("hello.txt", b"hi")
    ...     store.get("hello.txt")
    b'hi'
"""

from ._async_io import AsyncChunkIterator, AsyncObjectReader
from ._async_store import AsyncStore
from ._events import Event
from ._models import Capabilities, CommonPrefix, ObjectInfo
from ._open import from_config, from_config_async, from_env, from_env_async, open, open_async
from ._reader import ObjectReader
from ._store import Store
from ._version import __version__
from .errors import (
    CircuitOpenError,
    ConfigError,
    InsufficientStorageError,
    InvalidKeyError,
    KeyConflictError,
    NotFoundError,
    ObjstoreError,
    PermissionDeniedError,
    PreconditionFailedError,
    StoreClosedError,
    UnavailableError,
    UnsupportedOperationError,
)

__all__ = [
    "AsyncChunkIterator",
    "AsyncObjectReader",
    "AsyncStore",
    "Capabilities",
    "CircuitOpenError",
    "CommonPrefix",
    "ConfigError",
    "Event",
    "InsufficientStorageError",
    "InvalidKeyError",
    "KeyConflictError",
    "NotFoundError",
    "ObjectInfo",
    "ObjectReader",
    "ObjstoreError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "Store",
    "StoreClosedError",
    "UnavailableError",
    "UnsupportedOperationError",
    "__version__",
    "from_config",
    "from_config_async",
    "from_env",
    "from_env_async",
    "open",
    "open_async",
]


def _present_as_public() -> None:
    """Show re-exported classes as ``objstore.X`` (in reprs, docs and tracebacks)."""
    for name in __all__:
        value = globals()[name]
        if isinstance(value, type) or callable(value):
            value.__module__ = __name__


_present_as_public()
