"""Stores that each break one promise of the contract, to prove the kit notices."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta, timezone
from typing import Any

import objstore


class Proxy:
    """Forwards everything to a real store; subclasses break one method."""

    def __init__(self, inner: objstore.Store):
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()


class UnsortedList(Proxy):
    def list(self, prefix: str = "", **kwargs: Any) -> Iterator[Any]:
        return iter(sorted(self._inner.list(prefix, **kwargs), key=lambda i: i.key[::-1]))


class IgnoredConditions(Proxy):
    def put(self, key: Any, data: Any, **kwargs: Any) -> objstore.ObjectInfo:
        kwargs.pop("if_match", None)
        kwargs.pop("if_none_match", None)
        return self._inner.put(key, data, **kwargs)


class DeleteDoesNothing(Proxy):
    def delete(self, key: str) -> None:
        self._inner.stat(key) if self._inner.exists(key) else None  # looks, never deletes


class OffByOneRange(Proxy):
    def get(self, key: str, *, offset: int = 0, length: int | None = None) -> bytes:
        if length is not None:
            length += 1
        return self._inner.get(key, offset=offset, length=length)


class LocalTimeStat(Proxy):
    def stat(self, key: str) -> objstore.ObjectInfo:
        info = self._inner.stat(key)
        local = info.last_modified.astimezone(timezone(timedelta(hours=2)))
        return dataclasses.replace(info, last_modified=local)


class WrongListFields(Proxy):
    def list(self, prefix: str = "", **kwargs: Any) -> Iterator[Any]:
        for item in self._inner.list(prefix, **kwargs):
            if isinstance(item, objstore.ObjectInfo):
                yield dataclasses.replace(item, content_type="text/wrong", metadata={"x": "y"})
            else:
                yield item


BROKEN = {
    "local-time-stat": LocalTimeStat,
    "wrong-list-fields": WrongListFields,
    "unsorted-list": UnsortedList,
    "ignored-conditions": IgnoredConditions,
    "delete-does-nothing": DeleteDoesNothing,
    "off-by-one-range": OffByOneRange,
}
