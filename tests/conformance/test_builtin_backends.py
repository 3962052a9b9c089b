"""The conformance kit on every built-in backend and layer configuration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import objstore
from objstore.backends.local import FileBackend
from objstore.backends.memory import MemoryBackend
from objstore.layers import PrefixLayer
from objstore.testing import ConformanceSuite


class TestMemory(ConformanceSuite):
    @pytest.fixture
    def store(self) -> Iterator[objstore.Store]:
        with objstore.open("memory://") as store:
            yield store


class TestMemoryWithSignedUrls(ConformanceSuite):
    """The signed-URL layer that configuration adds keeps the whole contract."""

    @pytest.fixture
    def store(self) -> Iterator[objstore.Store]:
        section = {"base_url": "http://127.0.0.1:8080/files", "signing_key": "k" * 32}
        with objstore.open({"backend": "memory", "memory": section}) as store:
            assert store.capabilities.presign
            yield store


class TestFile(ConformanceSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[objstore.Store]:
        with objstore.open(f"file://{tmp_path}") as store:
            yield store


class TestFileSidecarMetadata(ConformanceSuite):
    """The fallback for filesystems without user xattrs, forced on."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[objstore.Store]:
        with objstore.Store(FileBackend(tmp_path, metadata_storage="sidecar")) as store:
            yield store


class TestFileUnderPrefix(ConformanceSuite):
    """The key-length tests read the budget the prefix leaves (``key_budget``)."""

    prefix = "tenant/"

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[objstore.Store]:
        backend = FileBackend(tmp_path)
        # The same root also holds keys outside the namespace, on both sides of it.
        outside = objstore.Store(FileBackend(tmp_path))
        outside.put("zz-outside", b"not in the namespace")
        outside.put("tenant-0", b"sorts right before the prefix")
        with objstore.Store(PrefixLayer(backend, self.prefix)) as store:
            yield store
        assert outside.get("zz-outside") == b"not in the namespace"
        outside.close()


class TestMemoryUnderPrefix(ConformanceSuite):
    prefix = "ns/sub-"

    @pytest.fixture
    def store(self) -> Iterator[objstore.Store]:
        with objstore.Store(PrefixLayer(MemoryBackend(), self.prefix)) as store:
            yield store
