"""The async kit on the built-in backends (memory natively, file through the pool)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import objstore
from objstore.testing import AsyncConformanceSuite


class TestAsyncMemory(AsyncConformanceSuite):
    @pytest.fixture
    def async_store(self) -> Iterator[objstore.AsyncStore]:
        yield objstore.open_async("memory://")


class TestAsyncFile(AsyncConformanceSuite):
    @pytest.fixture
    def async_store(self, tmp_path: Path) -> Iterator[objstore.AsyncStore]:
        yield objstore.open_async(
            {"backend": "file", "file": {"root": str(tmp_path)}, "max_workers": 4}
        )
