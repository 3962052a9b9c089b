"""From what the user typed to a store's configuration.

The global store comes from ``--config FILE``, ``--url URL`` or, with neither,
the environment (``from_env()``). The stores that ``sync`` and ``check`` name
on their command line may be a URL (``s3://bucket/x``), a YAML or JSON
configuration file, or a plain local directory (``./data``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

from .. import _config
from .._config import Config
from .._store import Store
from ..errors import ConfigError

_CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


def global_config(config_file: str | None, url: str | None) -> Config:
    """The store of ``--config``/``--url``, else the environment's.

    Raises:
        ConfigError: the configuration is invalid.
    """
    if config_file is not None:
        return _config.load_config(config_file)
    if url is not None:
        return _config.load(url)
    return _config.load_env()


def describe_global(config_file: str | None, url: str | None) -> str:
    if config_file is not None:
        return config_file
    if url is not None:
        return _config.shown_url(url)
    return "the environment's store (OBJSTORE_*; by default ./objstore-data)"


def load(target: str) -> Config:
    """A store named on the command line: a URL, a configuration file, or a directory.

    Raises:
        ConfigError: the target is invalid.
    """
    if "://" in target:
        return _config.load(target)
    if target.lower().endswith(_CONFIG_SUFFIXES) and os.path.isfile(target):
        return _config.load_config(target)
    return _config.load({"backend": "file", "file": {"root": target}})


def describe(target: str) -> str:
    """``target`` as a message may show it (a URL's query values hidden)."""
    return _config.shown_url(target) if "://" in target else target


def require_existing(config: Config, shown: str) -> None:
    """Refuse a local store whose directory does not exist (it would be created empty).

    Raises:
        ConfigError: ``config`` is a file store whose root is not a directory.
    """
    if config.backend == "file" and not os.path.isdir(config.section["root"]):
        raise ConfigError(f"{shown}: no such directory", backend="file")


def under_prefix(config: Config, prefix: str) -> Config:
    """``config`` with every key moved under ``prefix`` (inside any prefix it has)."""
    shared = dataclasses.replace(config.shared, prefix=config.shared.prefix + prefix)
    return dataclasses.replace(config, shared=shared)


def sync_store(config: Config) -> Store:
    """Open the store ``config`` describes.

    Raises:
        ConfigError: the backend cannot be built (a missing extra, a bad root).
    """
    return _config.sync_store(config)


def identity(config: Config) -> str:
    """A digest naming the store ``config`` opens, secrets left out.

    A file store's root is made absolute, so the same directory named from two
    working directories is one store.
    """
    section = config.section
    if config.backend == "file":
        root = str(Path(section["root"]).resolve())
        section = dataclasses.replace(section, values={**section.values, "root": root})
    shown = f"{config.backend}\n{section!r}\n{config.shared.prefix}"
    return hashlib.sha256(shown.encode("utf-8", "surrogatepass")).hexdigest()
