"""Argument checks shared by ``Store`` and ``AsyncStore``: all run before any I/O."""

from __future__ import annotations

import functools
import mimetypes
import re
from collections.abc import Mapping
from datetime import timedelta

from .backend import CREATE, OVERWRITE, Update, WriteMode

MAX_METADATA_BYTES = 2048
MAX_EXPIRES = 7 * 24 * 3600
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_METADATA_NAME = re.compile(r"[a-z0-9-]+")
_CONTENT_TYPE = re.compile(r"[\x20-\x7e]{1,1024}")
# Python's built-in table only: the guess must not depend on the machine's /etc/mime.types.
_MIME = mimetypes.MimeTypes(filenames=())


def check_metadata(metadata: object) -> dict[str, str]:
    """Return a plain copy of valid user metadata, else raise ``TypeError``/``ValueError``."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping of str to str, not {type(metadata).__name__}")
    total = 0
    for name, value in metadata.items():
        if not isinstance(name, str) or not _METADATA_NAME.fullmatch(name):
            raise ValueError(
                f"metadata name {name!r} is invalid: use lowercase letters, digits and '-'"
            )
        if not isinstance(value, str):
            raise ValueError(
                f"metadata value for {name!r} must be a str, not {type(value).__name__}"
            )
        try:
            total += len(name) + len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError(f"metadata value for {name!r} is not valid UTF-8") from None
    if total > MAX_METADATA_BYTES:
        raise ValueError(
            f"metadata is {total} bytes (names and values in UTF-8); the limit is "
            f"{MAX_METADATA_BYTES}"
        )
    return dict(metadata)


def check_content_type(content_type: object) -> str | None:
    """Check an explicit content type: printable ASCII, as an HTTP header can carry it."""
    if content_type is None:
        return None
    if not isinstance(content_type, str):
        raise TypeError(f"content_type must be a str, not {type(content_type).__name__}")
    if not _CONTENT_TYPE.fullmatch(content_type) or not content_type.strip():
        raise ValueError(f"content_type {content_type!r} must be printable ASCII, 1-1024 chars")
    return content_type


def guess_content_type(key: str) -> str:
    """The media type for ``key``'s extension, else ``application/octet-stream``."""
    name = key.rpartition("/")[2]
    dot = name.rfind(".")
    return _type_for_extension(name[dot:].lower()) if dot > 0 else DEFAULT_CONTENT_TYPE


@functools.lru_cache(maxsize=512)
def _type_for_extension(ext: str) -> str:
    guessed, _ = _MIME.guess_type("x" + ext, strict=False)
    return guessed or DEFAULT_CONTENT_TYPE


def check_mode(if_match: object, if_none_match: object) -> WriteMode:
    """Turn ``put``'s condition arguments into a :class:`WriteMode`."""
    if if_none_match is not None and if_none_match != "*":
        raise ValueError(f'if_none_match must be "*" or None, not {if_none_match!r}')
    if if_match is None:
        return CREATE if if_none_match else OVERWRITE
    if if_none_match is not None:
        raise ValueError("give if_match or if_none_match, not both: no object satisfies both")
    if not isinstance(if_match, str):
        raise TypeError(f"if_match must be an etag str, not {type(if_match).__name__}")
    etag = if_match.strip()
    if len(etag) >= 2 and etag[0] == etag[-1] == '"':
        etag = etag[1:-1]  # an etag copied from an HTTP header, quotes included
    if not etag or etag == "*":
        raise ValueError(f"if_match must be an etag, not {if_match!r}")
    return Update(etag)


def check_range(offset: object, length: object) -> tuple[int, int | None]:
    """Check ``get``'s byte range: non-negative ints, ``length`` may be ``None``."""
    if not _is_int(offset):
        raise TypeError(f"offset must be an int, not {type(offset).__name__}")
    if length is not None and not _is_int(length):
        raise TypeError(f"length must be an int or None, not {type(length).__name__}")
    if offset < 0:  # type: ignore[operator]
        raise ValueError(f"offset must not be negative, got {offset}")
    if length is not None and length < 0:  # type: ignore[operator]
        raise ValueError(f"length must not be negative, got {length}")
    return offset, length  # type: ignore[return-value]


def check_chunk_size(chunk_size: object) -> int:
    if not _is_int(chunk_size) or chunk_size <= 0:  # type: ignore[operator]
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    return chunk_size  # type: ignore[return-value]


def check_presign(method: object, expires: object, content_type: object) -> tuple[str, int]:
    """Check ``presign``'s arguments; return the method in upper case and seconds."""
    if not isinstance(method, str) or method.upper() not in ("GET", "PUT"):
        raise ValueError(f'method must be "GET" or "PUT", not {method!r}')
    seconds = _seconds(expires)
    if not 1 <= seconds <= MAX_EXPIRES:
        raise ValueError(f"expires must be 1 second to 7 days, got {seconds} seconds")
    check_content_type(content_type)
    if content_type is not None and method.upper() != "PUT":
        raise ValueError("content_type binds an upload: it applies to method='PUT' only")
    return method.upper(), seconds


def _seconds(expires: object) -> int:
    if isinstance(expires, timedelta):
        seconds = expires.total_seconds()
        if seconds != int(seconds):
            raise ValueError(f"expires must be whole seconds, got {expires}")
        return int(seconds)
    if _is_int(expires):
        return expires  # type: ignore[return-value]
    raise TypeError(
        f"expires must be an int of seconds or a timedelta, not {type(expires).__name__}"
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
