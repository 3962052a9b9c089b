"""What the S3 backend's sync and asyncio methods share: its state and its checks."""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Mapping
from typing import Any

from ...backend import BackendBase
from ...errors import InvalidKeyError, UnsupportedOperationError
from ._errors import ErrorMapper
from ._multipart import part_size
from ._plans import Logic
from ._presets import S3Options


class S3Core(BackendBase):
    """The state both halves of :class:`~._backend.S3Backend` read, and its key checks."""

    name = "s3"
    options: S3Options
    _logic: Logic
    _errors: ErrorMapper
    _wire: Any  # the sync transport: NativeWire or Boto3Wire
    _awire: Any  # the asyncio transport, made on first use

    def _check_key(self, key: str) -> None:
        reserved = self.options.preset.reserved_segments
        if reserved and any(seg.startswith(reserved) for seg in key.split("/")):
            raise InvalidKeyError(
                f"key {key!r} has a segment starting with one of {builtins.list(reserved)}, "
                f"which the {self.options.provider} server reserves for its own files and "
                "hides from listings",
                key=key,
                backend=self.name,
            )

    def _check_metadata(self, key: str, metadata: Mapping[str, str]) -> None:
        reserved = sorted(self._logic.reserved & metadata.keys())
        if reserved:
            raise UnsupportedOperationError(
                f"the metadata name(s) {reserved} are reserved (by objstore for its write "
                f"tokens, or interpreted by the {self.options.provider} server), so they "
                "cannot round-trip; use other names",
                key=key,
                backend=self.name,
            )

    def _part_sizes(self, total: int | None) -> Callable[[int], int]:
        options = self.options
        return functools.partial(
            part_size,
            configured=options.part_size,
            total=total,
            uniform=options.preset.uniform_parts,
        )
