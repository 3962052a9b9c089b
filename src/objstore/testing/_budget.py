"""How long a key the store under test takes: 1024 bytes, less any namespace prefix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._keys import MAX_KEY_BYTES, MAX_SEGMENT_BYTES


@dataclass(frozen=True, slots=True)
class KeyBudget:
    """The room a store leaves for keys, which a namespace prefix shortens.

    A store whose keys live under ``namespace`` in the backend (a
    :class:`~objstore.layers.PrefixLayer`, a configured ``prefix``, the scratch
    prefix of ``objstore check``) accepts keys of up to ``1024 - len(namespace)``
    bytes whose first segment fits beside the namespace's last one.

    Attributes:
        namespace: What the store puts before every key, as UTF-8 text.
    """

    namespace: str = ""

    @classmethod
    def of(cls, store: Any) -> KeyBudget:
        """The budget of ``store``: its layers' prefixes added up (none for duck-typed stores)."""
        from ..layers import Layer, PrefixLayer

        namespace = ""
        backend = getattr(store, "_backend", None)
        while isinstance(backend, Layer):
            if isinstance(backend, PrefixLayer):
                namespace = backend.prefix + namespace
            backend = backend.inner
        return cls(namespace)

    @property
    def max_bytes(self) -> int:
        """The longest key, in UTF-8 bytes."""
        return MAX_KEY_BYTES - len(self.namespace.encode())

    @property
    def first_segment_bytes(self) -> int:
        """The longest first segment, in UTF-8 bytes."""
        return MAX_SEGMENT_BYTES - len(self.namespace.rpartition("/")[2].encode())

    def longest_key(self) -> str:
        """A valid key of exactly :attr:`max_bytes` bytes, its segments as long as allowed."""
        first, rest = self.first_segment_bytes, self.max_bytes - self.first_segment_bytes
        if rest == 1:  # one byte is too few for "/x": give the first segment's last one
            first, rest = first - 1, 2
        sizes = [first]
        while rest > 0:
            size = min(MAX_SEGMENT_BYTES, rest - 1)  # one byte goes to the "/" before it
            if rest - 1 - size == 1:
                size -= 1
            sizes.append(size)
            rest -= size + 1
        return "/".join("fstuvw"[i % 6] * size for i, size in enumerate(sizes))
