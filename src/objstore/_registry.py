"""Backend names and URL schemes → factories that build a backend from its config section."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .backend import Backend
from .errors import ConfigError

Factory = Callable[[Mapping[str, Any]], Backend]

_FACTORIES: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Register a backend under ``name`` (also its URL scheme); twice is an error."""
    if name in _FACTORIES:
        raise ConfigError(f"a backend named {name!r} is already registered")
    _FACTORIES[name] = factory


def create(name: str, section: Mapping[str, Any]) -> Backend:
    factory = _FACTORIES.get(name)
    if factory is None:
        known = ", ".join(sorted(_FACTORIES))
        raise ConfigError(f"unknown backend {name!r}; available: {known}")
    return factory(section)


def _memory(section: Mapping[str, Any]) -> Backend:
    from .backends.memory import MemoryBackend

    return MemoryBackend()


def _file(section: Mapping[str, Any]) -> Backend:
    from .backends.local import FileBackend

    if "root" not in section:
        raise ConfigError(
            "the file backend needs 'root' (the directory to store objects in)", backend="file"
        )
    return FileBackend(section["root"])


register("memory", _memory)
register("file", _file)
