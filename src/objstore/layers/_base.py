"""``Layer``: a backend that wraps a backend and passes every method through."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from .._models import Capabilities, CommonPrefix, ObjectInfo
from .._payload import Payload
from ..backend import Backend, ReadStream, WriteMode


class Layer:
    """Base class for layers: every ``Backend`` method delegates to ``inner``.

    Subclasses override what they change and keep the rest of the contract.
    """

    def __init__(self, inner: Backend):
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    @property
    def blocking(self) -> bool:
        """Whether calls may block (``AsyncStore`` runs them in its pool if so)."""
        return bool(getattr(self.inner, "blocking", True))

    @property
    def native_async(self) -> bool:
        """Whether the inner backend has native async methods."""
        return bool(getattr(self.inner, "native_async", False))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    def put(
        self,
        key: str,
        payload: Payload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        return self.inner.put(key, payload, content_type=content_type, metadata=metadata, mode=mode)

    def get(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> ReadStream:
        return self.inner.get(key, offset=offset, length=length, if_match=if_match)

    def stat(self, key: str) -> ObjectInfo:
        return self.inner.stat(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> Iterator[ObjectInfo | CommonPrefix]:
        return self.inner.list(prefix, delimiter=delimiter, start_after=start_after)

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        return self.inner.copy(src_key, dst_key, mode=mode)

    def delete_many(self, keys: Sequence[str]) -> None:
        self.inner.delete_many(keys)

    def presign(self, key: str, *, method: str, expires: int, content_type: str | None) -> str:
        return self.inner.presign(key, method=method, expires=expires, content_type=content_type)

    def close(self) -> None:
        self.inner.close()
