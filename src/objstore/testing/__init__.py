"""The objstore conformance kit: prove that a store keeps the contract.

Subclass :class:`ConformanceSuite` in a test module and override the ``store``
fixture so that it yields a fresh, empty store::

    import pytest
    import objstore
    from objstore.testing import ConformanceSuite

    class TestMyBackend(ConformanceSuite):
        @pytest.fixture
        def store(self, tmp_path):
            with objstore.Store(MyBackend(tmp_path)) as store:
                yield store

The tests use only the public ``Store`` API, so they also check layers,
wrappers and duck-typed stores. The key-length tests read the ``key_budget``
fixture: 1024 bytes, less what the store's prefix layers take (a namespace
stores ``prefix + key``); override it for a store that namespaces its keys in
some other way. Where a store declares a capability absent
(``store.capabilities``), the tests that need it check that the operation
raises ``UnsupportedOperationError`` and skip the rest.

:class:`StoreStateMachine` is a Hypothesis state machine that drives any store
with random operations and compares each answer with a model; the suite runs
it too. The kit needs the ``check`` extra (pytest and Hypothesis).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from .._store import Store
from ._budget import KeyBudget
from ._helpers import INVALID_KEYS, NON_STR_KEYS, WEIRD_KEYS
from ._listing import ListTests
from ._machine import StoreStateMachine, expected_listing
from ._objects import DeleteTests, ErrorTests, KeyTests, MetadataTests, PutTests, ReadTests
from ._writes import ConcurrencyTests, ConditionalTests, ConflictTests, CopyTests, LifecycleTests

__all__ = [
    "AsyncConformanceSuite",
    "ConformanceSuite",
    "INVALID_KEYS",
    "KeyBudget",
    "NON_STR_KEYS",
    "StoreStateMachine",
    "WEIRD_KEYS",
    "expected_listing",
]


class ConformanceSuite(
    KeyTests,
    PutTests,
    MetadataTests,
    ReadTests,
    DeleteTests,
    ListTests,
    ConditionalTests,
    CopyTests,
    ConcurrencyTests,
    ConflictTests,
    ErrorTests,
    LifecycleTests,
):
    """The behaviour tests every store must pass; override the ``store`` fixture.

    Attributes:
        state_machine_examples: How many random programs the state-machine test runs.
    """

    state_machine_examples = 25

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        raise NotImplementedError("override the 'store' fixture to yield a fresh, empty store")
        yield  # pragma: no cover

    @pytest.fixture
    def key_budget(self, store: Store) -> KeyBudget:
        """The longest keys the store takes: read from its prefix layers; override for a
        store that namespaces its keys some other way."""
        return KeyBudget.of(store)

    def test_state_machine_agrees_with_the_model(self, store: Store) -> None:
        # Hypothesis accepts any factory; its annotation only names the class form.
        factory = cast(Any, lambda: StoreStateMachine(store))
        run_state_machine_as_test(
            factory,
            settings=settings(
                max_examples=self.state_machine_examples,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            ),
        )


from ._async import AsyncConformanceSuite  # noqa: E402 - it subclasses ConformanceSuite
