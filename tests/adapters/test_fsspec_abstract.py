"""fsspec's own abstract test suite (``fsspec.tests.abstract``) on the ``objstore``
filesystem, over memory, a directory and moto's S3 server.

Run as s3fs runs it: objects have no empty directories, so the suite adds a
dummy file where it needs a directory to exist (``supports_empty_directories``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

fsspec = pytest.importorskip("fsspec", reason="the fsspec extra is not installed")
abstract = pytest.importorskip("fsspec.tests.abstract")

from stores import BACKENDS, store_target  # noqa: E402

from objstore.fsspec import ObjstoreFileSystem  # noqa: E402


class ObjstoreFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture(params=BACKENDS)
    def fs(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjstoreFileSystem]:
        with store_target(request.param, request, tmp_path) as target:
            yield ObjstoreFileSystem(target, skip_instance_cache=True)

    @pytest.fixture
    def fs_path(self) -> str:
        return "scratch"

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return False


class TestCopy(abstract.AbstractCopyTests, ObjstoreFixtures):  # type: ignore[misc]
    pass


class TestGet(abstract.AbstractGetTests, ObjstoreFixtures):  # type: ignore[misc]
    pass


class TestPut(abstract.AbstractPutTests, ObjstoreFixtures):  # type: ignore[misc]
    pass


class TestPipe(abstract.AbstractPipeTests, ObjstoreFixtures):  # type: ignore[misc]
    pass


class TestOpen(abstract.AbstractOpenTests, ObjstoreFixtures):  # type: ignore[misc]
    pass
