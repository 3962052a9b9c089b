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


def plain_str(value: object, what: str) -> str:
    """The exact ``str`` a key-like argument stands for (SPEC §3).

    For a subclass of ``str`` (a ``str``-mixin ``Enum``, say) that is its string
    value, ``str.__str__(value)``, never its ``str()`` (which an ``Enum`` turns
    into its member name): what is validated is what is used. Anything that is
    not a ``str`` at all is a ``TypeError``.
    """
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    raise TypeError(f"{what} must be a str, not {type(value).__name__}")


def check_key(key: object) -> str:
    """Return the plain ``str`` of ``key`` if it is a portable key.

    Raises:
        TypeError: ``key`` is not a ``str``.
        InvalidKeyError: it breaks SPEC §3.
    """
    key = plain_str(key, "a key")
    reason = key_problem(key)
    if reason is not None:
        raise InvalidKeyError(f"invalid key {show_key(key)}: {reason}", key=key)
    return key


def show_key(key: str, limit: int = 100) -> str:
    """``repr(key)`` for a message, shortened when the key is long."""
    text = repr(key)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}...' ({len(key.encode('utf-8', 'replace'))} bytes)"


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
    """Return the plain ``str`` of a listing prefix or ``start_after`` value: any string
    a key could start with."""
    prefix = plain_str(prefix, what)
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
    """Return the plain ``str`` of a listing delimiter (``None`` or a non-empty string)."""
    if delimiter is None:
        return None
    delimiter = plain_str(delimiter, "delimiter")
    if not delimiter:
        raise ValueError("delimiter must not be empty (use None for a recursive listing)")
    return delimiter
