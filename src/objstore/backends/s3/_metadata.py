"""User metadata in ``x-amz-meta-*`` headers: plain where HTTP can carry a value as is.

An HTTP header value is printable ASCII, and servers strip its leading and
trailing spaces, so any other ``str`` is sent as one RFC 2047 encoded word,
``=?UTF-8?B?<base64 of the UTF-8>?=`` (what S3 itself returns for non-ASCII
values). Plain values stay plain, so other S3 tools read them unchanged; a
plain value that would itself read as encoded words (``"=?UTF-8?B?SGk=?="``)
is encoded too, so decoding is never ambiguous: a value is decoded if and only
if it consists of encoded words.

Reading accepts any run of RFC 2047 encoded words (B or Q, any charset Python
knows), as other tools and S3 write them; anything that fails to decode is
returned as it came. Names are lowercased (some servers capitalise them).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

_WORD = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")
_WORDS = re.compile(rf"{_WORD.pattern}(?:\s+{_WORD.pattern})*")


def encode_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """The header values to send for ``metadata``."""
    return {name: encode_value(value) for name, value in metadata.items()}


def decode_metadata(
    headers: Mapping[str, str], drop: frozenset[str] = frozenset()
) -> dict[str, str]:
    """The metadata that S3's ``Metadata`` answer stands for, without the names in ``drop``."""
    decoded = {name.lower(): decode_value(value) for name, value in headers.items()}
    return {name: value for name, value in decoded.items() if name not in drop}


def encode_value(value: str) -> str:
    """``value`` itself when a header carries it unchanged, else one encoded word."""
    if is_plain(value):
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def is_plain(value: str) -> bool:
    """Whether ``value`` survives as a header value and cannot be mistaken for encoded words."""
    return (
        value.isascii()
        and value.isprintable()
        and value == value.strip(" ")
        and _WORDS.fullmatch(value) is None
    )


def decode_value(value: str) -> str:
    """Undo :func:`encode_value` (and other tools' RFC 2047 encodings)."""
    if _WORDS.fullmatch(value) is None:
        return value
    try:
        return _decode_words(value)
    except (LookupError, ValueError, binascii.Error):
        return value  # not ours and not valid: keep what the server holds


def _decode_words(value: str) -> str:
    # Adjacent words in one charset may split a character between them: join
    # their bytes before decoding.
    out: list[str] = []
    charset, pending = "", b""
    for word in _WORD.finditer(value):
        name, kind, text = word.groups()
        data = _word_bytes(kind, text)
        if name.lower() != charset and pending:
            out.append(pending.decode(charset))
            pending = b""
        charset = name.lower()
        pending += data
    out.append(pending.decode(charset))
    return "".join(out)


def _word_bytes(kind: str, text: str) -> bytes:
    if kind in "Bb":
        return base64.b64decode(text, validate=True)
    return binascii.a2b_qp(text.encode("ascii"), header=True)
