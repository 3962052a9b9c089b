"""Provider presets for the S3 backend, and the checked options built from them.

Every S3-compatible service bends the API somewhere. A :class:`Preset` records
one service's quirks; :func:`resolve` merges it with the options a user gave
(``None`` means "the preset's value") and checks them all before any I/O.
docs/s3.md explains each preset and where its values come from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal, cast, get_args
from urllib.parse import urlsplit, urlunsplit

from ... import _defaults
from ...errors import ConfigError

Provider = Literal["aws", "minio", "r2", "b2", "ceph", "rclone", "other"]
Transport = Literal["native", "boto3"]
AddressingStyle = Literal["auto", "path", "virtual"]
Checksums = Literal["when_supported", "when_required"]

MiB = 1 << 20
GiB = 1 << 30
MIN_PART_SIZE = 5 * MiB  # S3's smallest part (but the last)
MAX_PART_SIZE = 5 * GiB  # S3's largest part, and largest single PutObject or CopyObject
MAX_BATCH_DELETE = 1000  # S3's DeleteObjects limit


@dataclass(frozen=True, slots=True)
class Preset:
    """What one S3-compatible service does differently.

    Attributes:
        addressing_style: ``"path"`` puts the bucket in the URL path, ``"virtual"``
            in the host name, ``"auto"`` lets botocore choose (virtual on AWS).
        conditional_writes: ``If-None-Match``/``If-Match`` are honoured race-free on
            PutObject and CompleteMultipartUpload.
        checksums: boto3's ``request_checksum_calculation`` and
            ``response_checksum_validation``.
        nested_keys: ``a`` and ``a/b`` can coexist.
        batch_delete_size: Keys per DeleteObjects request.
        any_delimiter: The service lists with any delimiter, not only ``/``;
            without it, other delimiters are applied client-side.
        content_md5: Send ``Content-MD5`` on DeleteObjects (services that predate
            boto3's CRC32 checksums require it).
        uniform_parts: Every part but the last must have the same size, so a
            stream of unknown length cannot grow its parts.
        part_copy: UploadPartCopy works (copies over 5 GiB, create-only copies).
        conflict_codes: Error codes by which the service reports a key that
            cannot coexist with another (``a`` beside ``a/b``).
        reserved_segments: Key segments starting with these are the service's own
            (hidden from listings); such keys are refused.
        reserved_metadata: Metadata names the service interprets itself; refused
            on writes and left out of what reads return.
    """

    addressing_style: AddressingStyle
    conditional_writes: bool
    checksums: Checksums
    nested_keys: bool
    batch_delete_size: int = MAX_BATCH_DELETE
    any_delimiter: bool = True
    content_md5: bool = True
    uniform_parts: bool = False
    part_copy: bool = True
    conflict_codes: frozenset[str] = frozenset()
    reserved_segments: tuple[str, ...] = ()
    reserved_metadata: frozenset[str] = frozenset()


PRESETS: dict[Provider, Preset] = {
    "aws": Preset("auto", True, "when_supported", True, content_md5=False),
    "minio": Preset(
        "path",
        True,
        "when_required",
        False,
        conflict_codes=frozenset({"XMinioParentIsObject", "XMinioObjectExistsAsDirectory"}),
    ),
    "r2": Preset("path", True, "when_required", True, uniform_parts=True),
    "b2": Preset("path", False, "when_required", True),
    "ceph": Preset("path", True, "when_required", True),
    "rclone": Preset(
        "path",
        False,
        "when_required",
        False,
        any_delimiter=False,
        part_copy=False,
        reserved_segments=(".rclone_temp_", ".rclone_multipart_upload_"),
        reserved_metadata=frozenset({"mtime"}),
    ),
    "other": Preset("path", False, "when_required", True),
}


@dataclass(frozen=True, slots=True)
class S3Options:
    """The S3 backend's settings after merging the preset and checking every value."""

    bucket: str
    endpoint_url: str | None
    region: str | None
    access_key_id: str | None
    secret_access_key: str | None  # never shown: see __repr__
    session_token: str | None
    profile: str | None
    provider: Provider
    transport: Transport
    preset: Preset
    addressing_style: AddressingStyle
    conditional_writes: bool
    checksums: Checksums
    nested_keys: bool
    batch_delete_size: int
    verify: bool | str
    multipart_threshold: int
    part_size: int
    max_concurrency: int
    max_connections: int
    max_attempts: int
    connect_timeout: float
    read_timeout: float

    def __repr__(self) -> str:
        where = without_userinfo(self.endpoint_url) if self.endpoint_url else None
        return (
            f"S3Options(bucket={self.bucket!r}, provider={self.provider!r}, "
            f"endpoint_url={where!r}, region={self.region!r})"
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a message."""
        return tuple(s for s in (self.secret_access_key, self.session_token) if s)


def resolve(bucket: object, provider: object, given: dict[str, object]) -> S3Options:
    """Merge ``given`` (constructor keywords) with the provider's preset; check everything."""
    _check_choice("provider", provider, get_args(Provider))
    _check_choice("transport", given["transport"], get_args(Transport))
    preset = PRESETS[provider]  # type: ignore[index]
    picked = {name: _or(given[name], getattr(preset, name)) for name in _PRESET_OPTIONS}
    _check_choice("addressing_style", picked["addressing_style"], get_args(AddressingStyle))
    _check_choice("checksums", picked["checksums"], get_args(Checksums))
    for name in ("conditional_writes", "nested_keys"):
        _check_bool(name, picked[name])
    for name in _OPTIONAL_STRINGS:
        _check_optional_str(name, given[name])
    _check_credentials(given)
    _check_verify(given["verify"])
    _check_sizes(given, picked["batch_delete_size"])
    connections = cast("int | None", given["max_connections"])
    return S3Options(
        bucket=_check_bucket(bucket),
        provider=provider,  # type: ignore[arg-type]
        transport=given["transport"],  # type: ignore[arg-type]
        preset=preset,
        max_connections=connections
        or _defaults.connections_for(cast(int, given["max_concurrency"])),
        **picked,  # type: ignore[arg-type]
        **{name: given[name] for name in _PASSED_THROUGH},  # type: ignore[arg-type]
    )


_PRESET_OPTIONS = (
    "addressing_style", "conditional_writes", "checksums", "nested_keys", "batch_delete_size"
)  # fmt: skip
_OPTIONAL_STRINGS = (
    "endpoint_url", "region", "access_key_id", "secret_access_key", "session_token", "profile"
)  # fmt: skip
_PASSED_THROUGH = (
    *_OPTIONAL_STRINGS, "verify", "multipart_threshold", "part_size", "max_concurrency",
    "max_attempts", "connect_timeout", "read_timeout",
)  # fmt: skip


def _or(value: object, default: object) -> object:
    return default if value is None else value


def _fail(message: str) -> ConfigError:
    return ConfigError(message, backend="s3")


def _check_bucket(bucket: object) -> str:
    if not isinstance(bucket, str) or not bucket or "/" in bucket:
        raise _fail(f"bucket must be a non-empty bucket name without '/', not {bucket!r}")
    return bucket


def _check_choice(name: str, value: object, choices: tuple[object, ...]) -> None:
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise _fail(f"s3 option {name} must be one of {valid}, not {value!r}")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise _fail(f"s3 option {name} must be True, False or None, not {value!r}")


def _check_optional_str(name: str, value: object) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        # Never echo the value: it may be a secret.
        raise _fail(f"s3 option {name} must be a non-empty str or None")


def _check_credentials(given: dict[str, object]) -> None:
    has_id, has_secret = given["access_key_id"] is not None, given["secret_access_key"] is not None
    if has_id != has_secret:
        raise _fail("give both access_key_id and secret_access_key, or neither (boto3's chain)")
    if given["session_token"] is not None and not has_id:
        raise _fail("session_token needs access_key_id and secret_access_key")
    if given["profile"] is not None and has_id:
        raise _fail("give either profile or access_key_id/secret_access_key, not both")


def _check_verify(verify: object) -> None:
    if isinstance(verify, bool):
        return
    if not isinstance(verify, str) or not verify:
        raise _fail("s3 option verify must be True, False or the path of a CA bundle")
    if not os.path.isfile(verify):
        raise _fail(f"s3 option verify names no CA bundle file: {verify!r}")


def _check_sizes(given: dict[str, object], batch: object) -> None:
    threshold, part = given["multipart_threshold"], given["part_size"]
    _check_int("multipart_threshold", threshold, 0, MAX_PART_SIZE)
    _check_int("part_size", part, MIN_PART_SIZE, MAX_PART_SIZE)
    _check_int("max_concurrency", given["max_concurrency"], 1, 256)
    _check_int("max_attempts", given["max_attempts"], 1, 100)
    if given["max_connections"] is not None:
        _check_int("max_connections", given["max_connections"], 1, 1024)
    _check_int("batch_delete_size", batch, 1, MAX_BATCH_DELETE)
    for name in ("connect_timeout", "read_timeout"):
        value = given[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise _fail(f"s3 option {name} must be a positive number of seconds, not {value!r}")


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(f"s3 option {name} must be an int from {low} to {high}, not {value!r}")


def without_userinfo(url: str) -> str:
    """``url`` without a ``user:password@`` part, for reprs and messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
