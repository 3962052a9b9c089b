"""``PrefixLayer``: a namespace inside another store.

Key ``k`` is stored as ``prefix + k`` in the inner backend; listings and error
keys are made relative again.

Deviation from SPEC §3, inherent to namespacing: the prefix uses ``len(prefix)``
of the 1024 bytes a key may have (and, when it does not end in ``/``, part of
the first segment's 255), so keys that would exceed the inner store's limits
raise ``InvalidKeyError``, saying so.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

from .._keys import check_prefix, key_problem
from .._models import CommonPrefix, ObjectInfo
from .._payload import AsyncPayload, Payload
from ..backend import AsyncReadStream, Backend, ReadStream, WriteMode
from ..errors import ConfigError, InvalidKeyError, ObjstoreError
from ._base import Layer


class PrefixLayer(Layer):
    """Confine a backend to the keys under ``prefix``.

    Args:
        inner: The backend to wrap.
        prefix: The namespace, such as ``"tenant-7/"``. Empty means no namespace.
    """

    def __init__(self, inner: Backend, prefix: str):
        super().__init__(inner)
        check_prefix(prefix)
        if prefix and key_problem(prefix + "x") is not None:
            raise ConfigError(f"prefix {prefix!r} is not a valid key prefix", backend=inner.name)
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"PrefixLayer({self.inner!r}, prefix={self.prefix!r})"

    def put(
        self,
        key: str,
        payload: Payload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        with self._relative_errors():
            info = self.inner.put(
                self._inner(key), payload, content_type=content_type, metadata=metadata, mode=mode
            )
        return self._info(info)

    def get(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> ReadStream:
        with self._relative_errors():
            stream = self.inner.get(
                self._inner(key), offset=offset, length=length, if_match=if_match
            )
        return _RelativeStream(self, stream)

    def stat(self, key: str) -> ObjectInfo:
        with self._relative_errors():
            return self._info(self.inner.stat(self._inner(key)))

    def delete(self, key: str) -> None:
        with self._relative_errors():
            self.inner.delete(self._inner(key))

    def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> Iterator[ObjectInfo | CommonPrefix]:
        after = self.prefix + start_after if start_after is not None else None
        with self._relative_errors():
            items = self.inner.list(self.prefix + prefix, delimiter=delimiter, start_after=after)
            for item in items:
                yield self._item(item)

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        with self._relative_errors():
            info = self.inner.copy(self._inner(src_key), self._inner(dst_key), mode=mode)
        return self._info(info)

    def delete_many(self, keys: Sequence[str]) -> None:
        with self._relative_errors():
            self.inner.delete_many([self._inner(key) for key in keys])

    def presign(self, key: str, *, method: str, expires: int, content_type: str | None) -> str:
        with self._relative_errors():
            return self.inner.presign(
                self._inner(key), method=method, expires=expires, content_type=content_type
            )

    def _inner(self, key: str) -> str:
        full = self.prefix + key
        if key_problem(full) is not None:
            raise InvalidKeyError(
                f"key {key!r} is too long under the prefix {self.prefix!r}: with it, the key "
                f"exceeds 1024 bytes or a segment exceeds 255",
                key=key,
                backend=self.name,
            )
        return full

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
        with self._relative_errors():
            info = await self.ainner.aput(
                self._inner(key), payload, content_type=content_type, metadata=metadata, mode=mode
            )
        return self._info(info)

    async def aget(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> AsyncReadStream:
        with self._relative_errors():
            stream = await self.ainner.aget(
                self._inner(key), offset=offset, length=length, if_match=if_match
            )
        return _AsyncRelativeStream(self, stream)

    async def astat(self, key: str) -> ObjectInfo:
        with self._relative_errors():
            return self._info(await self.ainner.astat(self._inner(key)))

    async def adelete(self, key: str) -> None:
        with self._relative_errors():
            await self.ainner.adelete(self._inner(key))

    async def alist(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> AsyncIterator[ObjectInfo | CommonPrefix]:
        after = self.prefix + start_after if start_after is not None else None
        with self._relative_errors():
            items = self.ainner.alist(self.prefix + prefix, delimiter=delimiter, start_after=after)
            async for item in items:
                yield self._item(item)

    async def acopy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        with self._relative_errors():
            info = await self.ainner.acopy(self._inner(src_key), self._inner(dst_key), mode=mode)
        return self._info(info)

    async def adelete_many(self, keys: Sequence[str]) -> None:
        with self._relative_errors():
            await self.ainner.adelete_many([self._inner(key) for key in keys])

    # -- the namespace arithmetic, shared by both faces --------------------------------------

    def _item(self, item: ObjectInfo | CommonPrefix) -> ObjectInfo | CommonPrefix:
        if isinstance(item, CommonPrefix):
            return CommonPrefix(self._outer(item.key))
        return self._info(item)

    def _outer(self, key: str) -> str:
        return key[len(self.prefix) :] if key.startswith(self.prefix) else key

    def _info(self, info: ObjectInfo) -> ObjectInfo:
        return dataclasses.replace(info, key=self._outer(info.key))

    @contextlib.contextmanager
    def _relative_errors(self) -> Iterator[None]:
        try:
            yield
        except ObjstoreError as exc:
            if exc.key is not None:
                exc.key = self._outer(exc.key)
            raise


class _RelativeStream:
    def __init__(self, layer: PrefixLayer, stream: ReadStream):
        self.info = layer._info(stream.info)
        self._layer = layer
        self._stream = stream

    def read(self, n: int) -> bytes:
        with self._layer._relative_errors():
            return self._stream.read(n)

    def close(self) -> None:
        self._stream.close()


class _AsyncRelativeStream:
    def __init__(self, layer: PrefixLayer, stream: AsyncReadStream):
        self.info = layer._info(stream.info)
        self._layer = layer
        self._stream = stream

    async def read(self, n: int) -> bytes:
        with self._layer._relative_errors():
            return await self._stream.read(n)

    async def aclose(self) -> None:
        await self._stream.aclose()
