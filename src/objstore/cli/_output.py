"""How objects and prefixes are printed: JSON lines, long listings, sizes."""

from __future__ import annotations

import json
from typing import Any

from .._models import CommonPrefix, ObjectInfo

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def as_json(item: ObjectInfo | CommonPrefix) -> str:
    """One JSON object: the fields of ``ObjectInfo`` (``last_modified`` in ISO 8601), or
    of ``CommonPrefix``."""
    if isinstance(item, CommonPrefix):
        fields: dict[str, Any] = {"key": item.key}
    else:
        fields = {
            "key": item.key,
            "size": item.size,
            "etag": item.etag,
            "last_modified": item.last_modified.isoformat(),
            "content_type": item.content_type,
            "metadata": None if item.metadata is None else dict(item.metadata),
        }
    return json.dumps(fields, ensure_ascii=False)


def long_line(item: ObjectInfo | CommonPrefix) -> str:
    """``ls -l``: size, time of last change, key; ``PRE`` for a common prefix."""
    if isinstance(item, CommonPrefix):
        return f"{'PRE':>12}  {'':25}  {item.key}"
    when = item.last_modified.isoformat(timespec="seconds")
    return f"{item.size:>12}  {when:25}  {item.key}"


def stat_lines(info: ObjectInfo) -> list[str]:
    """``stat``: one ``name: value`` line per field, one per metadata entry."""
    lines = [
        f"key: {info.key}",
        f"size: {info.size} ({human_size(info.size)})",
        f"etag: {info.etag}",
        f"last_modified: {info.last_modified.isoformat()}",
        f"content_type: {info.content_type}",
    ]
    for name, value in sorted((info.metadata or {}).items()):
        lines.append(f"metadata.{name}: {value}")
    return lines


def human_size(size: int) -> str:
    """``1536`` → ``1.5 KiB``."""
    if size < 1024:
        return f"{size} B"
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{value:.1f} {_UNITS[unit]}"
