"""Layers: backends that wrap backends and keep their contract.

- :class:`PrefixLayer`: a namespace inside another store.
- :class:`ReadOnlyLayer`: refuse every write.
- :class:`CircuitBreakerLayer`: fail fast while a backend keeps failing.

Wrap a backend and hand it to a store: ``Store(ReadOnlyLayer(FileBackend(root)))``.
"""

from __future__ import annotations

from ._base import Layer
from .breaker import CircuitBreakerLayer
from .prefix import PrefixLayer
from .read_only import ReadOnlyLayer

__all__ = ["CircuitBreakerLayer", "Layer", "PrefixLayer", "ReadOnlyLayer"]
