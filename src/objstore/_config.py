"""Turning a URL or a mapping into a ``Store``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from . import _registry
from ._store import Store
from .errors import ConfigError


def parse_url(url: str) -> dict[str, Any]:
    """``memory://`` / ``file:///abs`` / ``file://./rel`` → a config mapping."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme:
        raise ConfigError(f"{url!r} is not a store URL (expected scheme://...)")
    if scheme == "file":
        root = unquote(parts.netloc + parts.path)
        if not root:
            raise ConfigError("a file URL needs a path: file:///abs/path or file://./relative")
        return {"backend": "file", "file": {"root": root}}
    return {"backend": scheme, scheme: {}}


def open_store(target: str | Mapping[str, Any]) -> Store:
    config = parse_url(target) if isinstance(target, str) else target
    if not isinstance(config, Mapping):
        raise ConfigError(f"expected a URL or a mapping, not {type(target).__name__}")
    name = config.get("backend")
    if not isinstance(name, str):
        raise ConfigError("the configuration needs 'backend' (file, memory, ...)")
    section = config.get(name) or {}
    return Store(_registry.create(name, section))
