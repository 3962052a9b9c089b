"""The conformance kit must be able to fail: broken stores are reported as broken."""

from __future__ import annotations

from pathlib import Path

import pytest
from broken_stores import BROKEN
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

import objstore
from objstore.testing import StoreStateMachine

# Each breakage, and tests of the kit that must catch it.
EXPECTED = {
    "unsorted-list": ["test_list_is_recursive_and_in_code_point_order",
                      "test_list_prefix_is_a_plain_string_prefix",
                      "test_state_machine_agrees_with_the_model"],
    "ignored-conditions": ["test_if_none_match_refuses_an_existing_key",
                           "test_if_match_refuses_a_stale_etag",
                           "test_create_if_absent_race_has_exactly_one_winner",
                           "test_state_machine_agrees_with_the_model"],
    "delete-does-nothing": ["test_delete_removes_the_object", "test_exists",
                            "test_state_machine_agrees_with_the_model"],
    "off-by-one-range": ["test_get_range_has_slice_semantics",
                         "test_state_machine_agrees_with_the_model"],
    "local-time-stat": ["test_stat_fills_everything"],
    "wrong-list-fields": ["test_list_content_type_and_metadata_are_real_or_none"],
}

SUITE = """
import pytest
import objstore
from broken_stores import BROKEN
from objstore.testing import ConformanceSuite

class TestStore(ConformanceSuite):
    @pytest.fixture
    def store(self):
        with {factory}(objstore.open("memory://")) as store:
            yield store
"""


NO_SHRINKING = """
from hypothesis import Phase, settings

# Finding the breakage is what is checked here; shrinking it to the smallest example
# (what a backend author wants) would take the state machine tens of seconds.
settings.register_profile("meta", phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile("meta")
"""


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_kit_reports_a_broken_store(pytester: pytest.Pytester, name: str) -> None:
    pytester.syspathinsert(Path(__file__).parent)
    pytester.makeconftest(NO_SHRINKING)
    pytester.makepyfile(test_broken=SUITE.format(factory=f"BROKEN[{name!r}]"))
    # A fixed seed keeps this meta-test deterministic; the kit itself runs unseeded.
    result = pytester.runpytest_inprocess("-q", "-rf", "-p", "no:cacheprovider",
                                          "--hypothesis-seed=0")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) > 0, f"the kit passed a store with {name}"
    failed = "\n".join(line for line in result.outlines if line.startswith("FAILED"))
    for test in EXPECTED[name]:
        assert f"::TestStore::{test}" in failed, f"{test} did not catch {name}:\n{failed}"


def test_kit_passes_a_healthy_store(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(Path(__file__).parent)
    pytester.makepyfile(test_healthy=SUITE.format(factory=""))
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    assert result.parseoutcomes().get("failed", 0) == 0
    assert result.parseoutcomes()["passed"] > 150


@pytest.mark.parametrize("name", sorted(set(BROKEN) - {"local-time-stat", "wrong-list-fields"}))
def test_state_machine_finds_each_breakage(name: str) -> None:
    def machine() -> StoreStateMachine:
        return StoreStateMachine(BROKEN[name](objstore.open("memory://")))  # type: ignore[arg-type]

    # Several distinct bugs found at once arrive as an ExceptionGroup of AssertionErrors.
    with pytest.raises((AssertionError, ExceptionGroup, Flaky)) as caught:
        run_state_machine_as_test(
            machine,
            settings=settings(max_examples=200, stateful_step_count=30, deadline=None,
                              database=None, suppress_health_check=list(HealthCheck),
                              derandomize=True, phases=[Phase.generate]),
        )
    if isinstance(caught.value, ExceptionGroup):
        assert caught.value.subgroup(AssertionError) is not None


ASYNC_SUITE = """
import hashlib
import pytest
import objstore
from objstore.backends.memory import MemoryBackend
from objstore.testing import AsyncConformanceSuite

class Hashing(MemoryBackend):
    hashed = False

    async def astat(self, key):
        if not self.hashed:  # once: CPU work on the loop, at a stretch
            Hashing.hashed = True
            hashlib.sha256(b"x" * (128 << 20)).digest()
        return await super().astat(key)

class TestStore(AsyncConformanceSuite):
    @pytest.fixture
    def async_store(self):
        yield objstore.AsyncStore(Hashing())
"""


def test_async_kit_reports_a_store_that_works_on_the_loop(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_blocking=ASYNC_SUITE)
    result = pytester.runpytest_inprocess(
        "-q", "-rf", "-p", "no:cacheprovider", "-k", "never_blocked"
    )
    result.assert_outcomes(failed=1)
    assert any("ran" in line and "ms of CPU" in line for line in result.outlines)
