"""Layers: backends that wrap backends and keep their contract.

- :class:`PrefixLayer`: a namespace inside another store.
- :class:`ReadOnlyLayer`: refuse every write.
- :class:`CircuitBreakerLayer`: fail fast while a backend keeps failing.
- :class:`SignedUrlLayer`: signed URLs (SPEC §8) for a backend that cannot presign.

Wrap a backend and hand it to a store: ``Store(ReadOnlyLayer(FileBackend(root)))``.
"""

from __future__ import annotations

from ._base import Layer
from .breaker import CircuitBreakerLayer
from .prefix import PrefixLayer
from .read_only import ReadOnlyLayer
from .signed import SignedUrlLayer

__all__ = ["CircuitBreakerLayer", "Layer", "PrefixLayer", "ReadOnlyLayer", "SignedUrlLayer"]
