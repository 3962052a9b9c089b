"""Layers: backends that wrap backends and keep their contract."""

from __future__ import annotations

from ._base import Layer
from .prefix import PrefixLayer

__all__ = ["Layer", "PrefixLayer"]
