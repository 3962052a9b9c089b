"""Portable key rules (SPEC §3) and the prefix arithmetic built on them.

Validation runs on every call, so the common case (a short ASCII key) takes a
few string operations and no regular expression.
"""

from __future__ import annotations

import re

from .errors import InvalidKeyError

MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255

_CONTROL = re.compile("[\x00-\x1f\x7f]")


def check_key(key: object) -> str:
    """Return ``key`` if it is a portable key, else raise :class:`InvalidKeyError`."""
    if type(key) is not str:
        if isinstance(key, str):
            return check_key(str(key))
        raise InvalidKeyError(f"a key must be a str, not {type(key).__name__}", key=None)
    reason = key_problem(key)
    if reason is not None:
        raise InvalidKeyError(f"invalid key {key!r}: {reason}", key=key)
    return key


def key_problem(key: str) -> str | None:
    """Say why ``key`` is not a portable key, or return ``None`` when it is one."""
    if key.isascii() and key.isprintable():
        size = len(key)
    else:
        try:
            size = len(key.encode("utf-8"))
        except UnicodeEncodeError:
            return "it contains a lone surrogate, which is not valid UTF-8"
        if _CONTROL.search(key):
            return "it contains a control character (U+0000-U+001F or U+007F)"
    if size == 0:
        return "it is empty"
    if size > MAX_KEY_BYTES:
        return f"it is {size} bytes long in UTF-8; the limit is {MAX_KEY_BYTES}"
    framed = f"/{key}/"
    if "//" in framed:
        return "it has an empty segment (a leading, trailing or doubled '/')"
    if "/./" in framed or "/../" in framed:
        return "it has a '.' or '..' segment"
    if size > MAX_SEGMENT_BYTES:
        for segment in key.split("/"):
            if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
                return f"a segment is longer than {MAX_SEGMENT_BYTES} bytes in UTF-8"
    return None


def check_prefix(prefix: object, what: str = "prefix") -> str:
    """Check a listing prefix or ``start_after`` value: any string a key could start with."""
    if not isinstance(prefix, str):
        raise TypeError(f"{what} must be a str, not {type(prefix).__name__}")
    try:
        size = len(prefix.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidKeyError(f"{what} {prefix!r} contains a lone surrogate", key=None) from None
    if _CONTROL.search(prefix):
        raise InvalidKeyError(f"{what} {prefix!r} contains a control character", key=None)
    if size > MAX_KEY_BYTES:
        raise InvalidKeyError(f"{what} is longer than {MAX_KEY_BYTES} bytes", key=None)
    return prefix


def prefix_can_match(prefix: str) -> bool:
    """Tell whether any portable key starts with ``prefix``.

    Only the complete segments (those before the last ``/``) can rule a prefix
    out: ``"a/../"`` matches nothing, while ``".."`` still matches ``"..x"``.
    """
    head, sep, _ = prefix.rpartition("/")
    if not sep:
        return True
    return bool(head) and key_problem(head) is None


def check_delimiter(delimiter: object) -> str | None:
    """Check a listing delimiter: ``None`` or a non-empty string."""
    if delimiter is None:
        return None
    if not isinstance(delimiter, str):
        raise TypeError(f"delimiter must be a str or None, not {type(delimiter).__name__}")
    if not delimiter:
        raise ValueError("delimiter must not be empty (use None for a recursive listing)")
    return delimiter
