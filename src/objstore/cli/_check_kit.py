"""The pytest module that ``objstore check`` runs: the conformance kit on the checked store.

The store comes from the ``objstore_check`` fixture, which the check command's
pytest plugin provides (see ``_check.py``): a fresh store under the run's
scratch prefix for each test, emptied after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .._store import Store
from ..testing import ConformanceSuite


class TestStore(ConformanceSuite):
    """Every behaviour of the contract, on the store ``objstore check`` was given."""

    @pytest.fixture
    def store(self, objstore_check: Any) -> Iterator[Store]:
        with objstore_check.fresh_store() as store:
            yield store
