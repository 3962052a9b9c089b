"""Reading a GetObject body: the ``ReadStream`` and ``AsyncReadStream`` over it.

A transport's body raises :class:`~._errors.TransportError` when its
connection drops; the streams here turn that into ``UnavailableError``, so the
store resumes with a ranged request pinned to ``info.etag``.
"""

from __future__ import annotations

from typing import Any

from ..._models import ObjectInfo
from ...errors import UnavailableError
from ._errors import WireError


def dropped(info: ObjectInfo, exc: WireError) -> UnavailableError:
    return UnavailableError(
        f"s3: the connection dropped while reading {info.key!r} ({exc})",
        key=info.key,
        backend="s3",
    )


class S3ReadStream:
    """The bytes ``[offset, end)`` of one object version, from a GetObject body."""

    def __init__(self, body: Any, info: ObjectInfo, skip: int, remaining: int):
        self.info = info
        self._body: Any = body
        self._skip = skip  # bytes before the range, when the server sent more
        self._remaining = remaining

    def read(self, n: int) -> bytes:
        if self._remaining <= 0 or self._body is None:
            self.close()
            return b""
        try:
            if self._skip and not self._discard():
                return b""  # the body ended early: the store resumes
            data: bytes = self._body.read(min(n, self._remaining))
        except WireError as exc:
            self.close()
            raise dropped(self.info, exc) from exc
        self._remaining -= len(data)
        return data

    def _discard(self) -> bool:
        while self._skip:
            chunk = self._body.read(min(self._skip, 1 << 20))
            if not chunk:
                return False
            self._skip -= len(chunk)
        return True

    def close(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            body.close()


class AsyncS3ReadStream:
    """The asyncio twin of :class:`S3ReadStream`."""

    def __init__(self, body: Any, info: ObjectInfo, skip: int, remaining: int):
        self.info = info
        self._body: Any = body
        self._skip = skip
        self._remaining = remaining

    async def read(self, n: int) -> bytes:
        if self._remaining <= 0 or self._body is None:
            await self.aclose()
            return b""
        try:
            while self._skip:
                chunk = await self._body.read(min(self._skip, 1 << 20))
                if not chunk:
                    return b""
                self._skip -= len(chunk)
            data: bytes = await self._body.read(min(n, self._remaining))
        except WireError as exc:
            await self.aclose()
            raise dropped(self.info, exc) from exc
        self._remaining -= len(data)
        return data

    async def aclose(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            body.close()


class EmptyStream:
    """A range with no bytes in it (``length == 0``, or ``offset`` at or past the end)."""

    def __init__(self, info: ObjectInfo):
        self.info = info

    def read(self, n: int) -> bytes:
        return b""

    def close(self) -> None:
        return None


class AsyncEmptyStream:
    """The asyncio twin of :class:`EmptyStream`."""

    def __init__(self, info: ObjectInfo):
        self.info = info

    async def read(self, n: int) -> bytes:
        return b""

    async def aclose(self) -> None:
        return None
