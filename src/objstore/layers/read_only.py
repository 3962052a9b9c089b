"""``ReadOnlyLayer``: refuse every write, pass every read through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .._models import ObjectInfo
from .._payload import AsyncPayload, Payload
from ..backend import WriteMode
from ..errors import PermissionDeniedError
from ._base import Layer


class ReadOnlyLayer(Layer):
    """Refuse ``put``, ``copy``, ``delete``, ``delete_many`` and ``PUT`` presigning."""

    def _refuse(self, key: str | None, what: str) -> PermissionDeniedError:
        return PermissionDeniedError(
            f"the store is read-only (read_only: true): {what} refused", key=key, backend=self.name
        )

    def put(
        self,
        key: str,
        payload: Payload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        raise self._refuse(key, "put")

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        raise self._refuse(dst_key, "copy")

    def delete(self, key: str) -> None:
        raise self._refuse(key, "delete")

    def delete_many(self, keys: Sequence[str]) -> None:
        raise self._refuse(None, "delete_many")

    async def aput(
        self,
        key: str,
        payload: AsyncPayload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        raise self._refuse(key, "put")

    async def acopy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        raise self._refuse(dst_key, "copy")

    async def adelete(self, key: str) -> None:
        raise self._refuse(key, "delete")

    async def adelete_many(self, keys: Sequence[str]) -> None:
        raise self._refuse(None, "delete_many")

    def presign(self, key: str, *, method: str, expires: int, content_type: str | None) -> str:
        if method != "GET":
            raise self._refuse(key, f"presigning {method}")
        return super().presign(key, method=method, expires=expires, content_type=content_type)
