"""Listing arithmetic shared by backends: delimiter grouping and prefix bounds."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ._models import CommonPrefix, ObjectInfo

_MAX_CHAR = 0x10FFFF


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``.

    ``None`` when there is none (empty prefix, or one made of U+10FFFF only).
    """
    stripped = prefix.rstrip(chr(_MAX_CHAR))
    if not stripped:
        return None
    return stripped[:-1] + chr(ord(stripped[-1]) + 1)


def common_prefix(key: str, prefix: str, delimiter: str | None) -> str | None:
    """The common prefix ``key`` collapses into under ``delimiter``, or ``None``."""
    if delimiter is None:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def collapse(
    objects: Iterable[ObjectInfo], prefix: str, delimiter: str | None
) -> Iterator[ObjectInfo | CommonPrefix]:
    """Group a sorted stream of objects under ``prefix`` by ``delimiter``.

    Keys sharing a common prefix are contiguous in sorted order, so each
    prefix is yielded once, where its first key would have been; that is also
    its place in key order.
    """
    if delimiter is None:
        yield from objects
        return
    last: str | None = None
    for info in objects:
        group = common_prefix(info.key, prefix, delimiter)
        if group is None:
            yield info
        elif group != last:
            last = group
            yield CommonPrefix(group)
