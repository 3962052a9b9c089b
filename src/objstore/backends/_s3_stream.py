"""Reading a GetObject answer: range arithmetic and the ``ReadStream`` over its body."""

from __future__ import annotations

import re
from typing import Any

from .._models import ObjectInfo
from ..errors import UnavailableError
from ._s3_errors import is_connection_error

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def range_header(offset: int, length: int | None) -> str | None:
    """The ``Range`` to request, or ``None`` for the whole object (which never fails on ``b""``)."""
    if length is None:
        return None if offset == 0 else f"bytes={offset}-"
    return f"bytes={offset}-{offset + length - 1}"


def body_span(content_range: str | None, content_length: int) -> tuple[int, int | None]:
    """Where the body starts in the object, and the object's size if the answer tells it.

    With a ``Content-Range`` the body is that range; without one (HTTP 200, a
    server that ignored ``Range``) it is the whole object from byte 0.
    """
    match = _CONTENT_RANGE.fullmatch(content_range.strip()) if content_range else None
    if match is None:
        return 0, content_length
    total = match.group(3)
    return int(match.group(1)), None if total == "*" else int(total)


class S3ReadStream:
    """The bytes ``[offset, end)`` of one object version, from a GetObject body.

    A dropped connection raises :class:`UnavailableError`, so the store resumes
    with a ranged request pinned to ``info.etag``.
    """

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
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            self.close()
            raise UnavailableError(
                f"s3: the connection dropped while reading {self.info.key!r}",
                key=self.info.key,
                backend="s3",
            ) from exc
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


class EmptyStream:
    """A range with no bytes in it (``length == 0``, or ``offset`` at or past the end)."""

    def __init__(self, info: ObjectInfo):
        self.info = info

    def read(self, n: int) -> bytes:
        return b""

    def close(self) -> None:
        return None
