"""Opening a store: from a URL, a mapping, a configuration file, or the environment.

The functions are re-exported by :mod:`objstore`; see SPEC §2 and §7.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from . import _config
from ._async_store import AsyncStore
from ._store import Store


def open(target: str | Mapping[str, Any]) -> Store:
    """Open a store from a URL or a configuration mapping.

    URLs: ``file:///abs/path``, ``file://./relative``, ``memory://``,
    ``s3://bucket/prefix?region=...`` and any plugin's scheme; query parameters
    are the backend section's keys. The mapping form is the YAML form (SPEC §7).

    Raises:
        ConfigError: the URL or mapping is invalid, or names an unknown backend.
    """
    return _config.sync_store(_config.load(target))


def from_config(
    source: str | os.PathLike[str] | Mapping[str, Any], *, section: str | None = None
) -> Store:
    """Open a store from a YAML or JSON file (``${NAME}`` interpolated), or a mapping.

    Args:
        source: The file's path, or the configuration as a mapping.
        section: The dotted path of the mapping that holds the store's
            configuration inside ``source``, such as ``"storage"`` for the
            ``storage:`` block of an application's own YAML file.

    Raises:
        ConfigError: the file cannot be read, the section is missing, or the
            configuration is invalid.
    """
    return _config.sync_store(_config.load_config(source, section))


def from_env(prefix: str = "OBJSTORE_") -> Store:
    """Open a store from the environment.

    ``<prefix>CONFIG`` (a YAML/JSON file) and/or ``<prefix>URL``, then overrides
    ``<prefix><SECTION>_<KEY>`` such as ``OBJSTORE_S3_BUCKET``. With nothing
    set, a local store in ``./objstore-data``.

    Raises:
        ConfigError: the configuration is invalid.
    """
    return _config.sync_store(_config.load_env(prefix))


def open_async(target: str | Mapping[str, Any]) -> AsyncStore:
    """Like :func:`open`, returning an :class:`AsyncStore` (pool size: ``max_workers``)."""
    return _config.async_store(_config.load(target))


def from_config_async(
    source: str | os.PathLike[str] | Mapping[str, Any], *, section: str | None = None
) -> AsyncStore:
    """Like :func:`from_config`, returning an :class:`AsyncStore`."""
    return _config.async_store(_config.load_config(source, section))


def from_env_async(prefix: str = "OBJSTORE_") -> AsyncStore:
    """Like :func:`from_env`, returning an :class:`AsyncStore`."""
    return _config.async_store(_config.load_env(prefix))
