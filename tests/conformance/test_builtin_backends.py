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


class _PrefixDeviations:
    """A namespace uses ``len(prefix)`` bytes of the key budget (docs/concepts.md)."""

    prefix = ""

    def test_keys_longest_valid_key(self, store: objstore.Store) -> None:
        budget = 1024 - len(self.prefix.encode())
        longest = "/".join(["s" * 200] * (budget // 201) + ["t" * (budget % 201 or 1)])
        longest = longest[:budget]
        store.put(longest, b"fits")
        assert store.get(longest) == b"fits"
        with pytest.raises(objstore.InvalidKeyError, match="prefix"):
            store.put(longest + "x", b"does not fit")

    def test_keys_multibyte_length_counts_utf8_bytes(self, store: objstore.Store) -> None:
        first_segment = len(self.prefix.rpartition("/")[2].encode())
        fits = "é" * ((255 - first_segment) // 2)
        store.put(fits, b"x")
        assert store.get(fits) == b"x"
        with pytest.raises(objstore.InvalidKeyError):
            store.put(fits + "éé", b"x")


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


class TestFileUnderPrefix(_PrefixDeviations, ConformanceSuite):
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


class TestMemoryUnderPrefix(_PrefixDeviations, ConformanceSuite):
    prefix = "ns/sub-"

    @pytest.fixture
    def store(self) -> Iterator[objstore.Store]:
        with objstore.Store(PrefixLayer(MemoryBackend(), self.prefix)) as store:
            yield store
