"""objstore: one storage interface over the local filesystem and S3-compatible stores.

>>> import objstore
>>> with objstore.open("memory://") as store:
...     info = store.put("hello.txt", b"hi")
...     store.get("hello.txt")
b'hi'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._models import Capabilities, CommonPrefix, ObjectInfo
from ._reader import ObjectReader
from ._store import Store
from ._version import __version__
from .errors import (
    CircuitOpenError,
    ConfigError,
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
    "Capabilities",
    "CircuitOpenError",
    "CommonPrefix",
    "ConfigError",
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
    "open",
]


def open(target: str | Mapping[str, Any]) -> Store:
    """Open a store from a URL (``file:///srv/data``, ``memory://``) or a config mapping.

    Raises:
        ConfigError: the URL or mapping is invalid, or names an unknown backend.
    """
    from ._config import open_store

    return open_store(target)
