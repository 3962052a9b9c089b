"""The worked example of docs/backends.md passes the same kit as the built-in backends."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import objstore
from objstore.testing import ConformanceSuite

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))

from sqlite_backend import SQLiteBackend  # noqa: E402


class TestSQLiteExample(ConformanceSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[objstore.Store]:
        with objstore.Store(SQLiteBackend(str(tmp_path / "objects.db"))) as store:
            yield store


def test_docs_include_the_example() -> None:
    """docs/backends.md shows this very file (the site includes it when it is built)."""
    guide = (EXAMPLES.parent / "docs" / "backends.md").read_text()
    assert '```python\n--8<-- "examples/sqlite_backend.py"\n```' in guide
