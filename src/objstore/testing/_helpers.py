"""Shared pieces of the conformance kit: test data and capability guards."""

from __future__ import annotations

from typing import Any

import pytest

from .._store import Store
from ..errors import UnsupportedOperationError

# Keys from Go CDK's drivertest "weird keys" that are portable under SPEC §3,
# plus the traversal look-alikes and edge cases a filesystem mapping gets wrong.
WEIRD_KEYS: dict[str, str] = {
    "fwdslashes": "fwdslashes/are/ok",
    "backslashes": "backslashes\\are\\ok",
    "commas": "commas,are,ok",
    "numbers": "numbers 0123456789",
    "quotes": "quote\"s 'single'",
    "unicode": "unicode 世界 ünïcödé",
    "emoji": "emoji 😀🎉",
    "spaces": "  spaces  ok  ",
    "punctuation": "punctuation !@#$%^&*()+=[]{};':,<>?~`|",
    "percent": "percent %2F %00 %%",
    "query-and-fragment": "query?a=1&b=2#frag",
    "leading-dots": "..leadingdots",
    "trailing-dots": "trailingdots..",
    "dots-inside": "a..b/c.d/...",
    "dotfile": ".hidden/.file",
    "backslash-dotdot": "..\\x",
    "drive-letter": "C:\\x",
    "colon": "a:b:c",
    "star": "*",
    "tilde": "~/x",
    "dash-first": "-rf",
    "c1-control-is-fine": "c1\u0085\u009f",
    "nbsp": "non\u00a0breaking",
    "rtl": "שלום/עולם",
}

INVALID_KEYS: dict[str, Any] = {
    "empty": "",
    "leading-slash": "/a",
    "trailing-slash": "a/",
    "double-slash": "a//b",
    "dot": ".",
    "dotdot": "..",
    "dot-segment": "a/./b",
    "dotdot-segment": "a/../b",
    "dotdot-escape": "../etc/passwd",
    "nul": "a\x00b",
    "control": "a\x1fb",
    "newline": "a\nb",
    "del": "a\x7fb",
    "lone-surrogate": "a\ud800b",
    "too-long": "k" * 1025,
    "too-long-utf8": "é" * 513,
    "segment-too-long": "s" * 256 + "/x",
}

#: Values that are not a ``str`` at all: a ``TypeError`` everywhere (SPEC §3).
NON_STR_KEYS: dict[str, Any] = {
    "bytes": b"bytes-key",
    "none": None,
    "int": 42,
}


def require(store: Store, capability: str, attempt: Any) -> None:
    """Skip unless the store declares ``capability``; if it does not, the operation
    that needs it must raise ``UnsupportedOperationError`` (never be ignored)."""
    if getattr(store.capabilities, capability):
        return
    with pytest.raises(UnsupportedOperationError):
        attempt()
    pytest.skip(f"the store declares no {capability}")


def keys_of(items: Any) -> list[str]:
    return [item.key for item in items]


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes where every offset is distinguishable (catches off-by-one)."""
    block = bytes((i * 7 + seed) % 251 for i in range(251))
    return (block * (size // 251 + 1))[:size]
