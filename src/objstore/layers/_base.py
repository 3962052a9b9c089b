"""``Layer``: a backend that wraps a backend and passes every method through.

A layer has both faces of the contract: the synchronous ``Backend`` methods, and
the ``AsyncBackend`` twins, which it offers exactly when the backend it wraps does
(``native_async``), so ``AsyncStore`` stays on the event loop through any stack of
layers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import cast

from .._models import Capabilities, CommonPrefix, ObjectInfo
from .._payload import AsyncPayload, Payload
from ..backend import AsyncBackend, AsyncReadStream, Backend, ReadStream, WriteMode


class Layer:
    """Base class for layers: every ``Backend`` and ``AsyncBackend`` method delegates to
    ``inner``.

    Subclasses override what they change, in both faces, and keep the rest of the
    contract.
    """

    def __init__(self, inner: Backend):
        self.inner = inner

    @property
    def ainner(self) -> AsyncBackend:
        """The wrapped backend's async face (only used when ``native_async``)."""
        return cast(AsyncBackend, self.inner)

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

    @property
    def reports_retries(self) -> bool:
        """Whether the inner backend may retry (and report it with ``note_retry``)."""
        return bool(getattr(self.inner, "reports_retries", True))

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

    # -- the async face --------------------------------------------------------------------

    async def aput(
        self,
        key: str,
        payload: AsyncPayload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        return await self.ainner.aput(
            key, payload, content_type=content_type, metadata=metadata, mode=mode
        )

    async def aget(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> AsyncReadStream:
        return await self.ainner.aget(key, offset=offset, length=length, if_match=if_match)

    async def astat(self, key: str) -> ObjectInfo:
        return await self.ainner.astat(key)

    async def adelete(self, key: str) -> None:
        await self.ainner.adelete(key)

    def alist(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> AsyncIterator[ObjectInfo | CommonPrefix]:
        return self.ainner.alist(prefix, delimiter=delimiter, start_after=start_after)

    async def acopy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        return await self.ainner.acopy(src_key, dst_key, mode=mode)

    async def adelete_many(self, keys: Sequence[str]) -> None:
        await self.ainner.adelete_many(keys)

    async def aclose(self) -> None:
        await self.ainner.aclose()
