"""The circuit breaker counts only outages, is readable, and never gets stuck (SPEC §7)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator, Sequence

import pytest

import objstore
from objstore.backends.memory import MemoryBackend
from objstore.layers import CircuitBreakerLayer


class Flaky(MemoryBackend):
    """A memory backend whose calls can be made to fail with a chosen error."""

    # it presigns by itself, and says so (the store calls presign only then)
    capabilities = dataclasses.replace(MemoryBackend.capabilities, presign=True)

    def __init__(self) -> None:
        super().__init__()
        self.error: type[objstore.ObjstoreError] | None = None
        self.calls = 0

    def _maybe_fail(self, key: str | None) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error("it failed", key=key, backend="flaky")

    def stat(self, key: str) -> objstore.ObjectInfo:
        self._maybe_fail(key)
        return super().stat(key)

    async def astat(self, key: str) -> objstore.ObjectInfo:
        self._maybe_fail(key)
        return super().stat(key)

    def put(self, key: str, payload, **kwargs):  # type: ignore[no-untyped-def]
        self._maybe_fail(key)
        return super().put(key, payload, **kwargs)

    def list(self, prefix: str, **kwargs):  # type: ignore[no-untyped-def]
        self._maybe_fail(None)
        return super().list(prefix, **kwargs)

    def presign(self, key: str, *, method: str, expires: int, content_type: str | None) -> str:
        return f"https://example.test/{key}?method={method}"

    def delete_many(self, keys: Sequence[str]) -> None:
        self._maybe_fail(None)
        super().delete_many(keys)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def flaky() -> Flaky:
    return Flaky()


@pytest.fixture
def store(flaky: Flaky, clock: Clock) -> Iterator[objstore.Store]:
    with objstore.Store(
        CircuitBreakerLayer(flaky, fail_max=3, reset_timeout=10, clock=clock)
    ) as store:
        store.put("k", b"v")
        yield store


def trip(store: objstore.Store, flaky: Flaky) -> None:
    flaky.error = objstore.UnavailableError
    for _ in range(3):
        with pytest.raises(objstore.UnavailableError):
            store.stat("k")
    assert store.circuit_state == "open"
    flaky.error = None


@pytest.mark.parametrize(
    "error",
    [
        objstore.InsufficientStorageError,
        objstore.PermissionDeniedError,
        objstore.NotFoundError,
        objstore.PreconditionFailedError,
        objstore.KeyConflictError,
    ],
)
def test_errors_that_are_answers_never_trip_it(
    store: objstore.Store, flaky: Flaky, error: type[objstore.ObjstoreError]
) -> None:
    """Five puts on a full disk must not make get and delete fail for a minute."""
    flaky.error = error
    for _ in range(5):
        with pytest.raises(error):
            store.put("k", b"new")
    flaky.error = None
    assert store.circuit_state == "closed"
    assert store.get("k") == b"v"


def test_the_callers_own_source_raising_never_trips_it(
    store: objstore.Store, flaky: Flaky
) -> None:
    def source() -> Iterator[bytes]:
        yield b"part"
        raise objstore.UnavailableError("the caller's upstream went away")

    for _ in range(5):
        with pytest.raises(objstore.UnavailableError, match="upstream"):
            store.put("k", source())
    assert store.circuit_state == "closed"
    assert store.get("k") == b"v"


def test_presign_never_passes_through_it(store: objstore.Store, flaky: Flaky) -> None:
    trip(store, flaky)
    assert store.presign("k").startswith("https://example.test/k")
    assert store.circuit_state == "open"  # and it was no trial call either


def test_state_is_readable_and_changes_are_warnings(
    store: objstore.Store, flaky: Flaky, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    assert store.circuit_state == "closed"
    with caplog.at_level(logging.WARNING, logger="objstore"):
        trip(store, flaky)
        clock.now += 10.5
        assert store.circuit_state == "half_open"
        assert store.stat("k").size == 1
    assert store.circuit_state == "closed"
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [m.split(" circuit ")[1].split(" ")[0].rstrip(":") for m in messages] == [
        "open",
        "half_open",
        "closed",
    ]
    assert objstore.open("memory://").circuit_state is None


def test_an_abandoned_trial_listing_does_not_hold_it_open(
    store: objstore.Store, flaky: Flaky, clock: Clock
) -> None:
    store.put("k2", b"v")
    trip(store, flaky)
    clock.now += 10.5
    listing = store.list()
    assert next(listing).key == "k"  # the trial: its first page is the answer
    assert store.circuit_state == "closed"
    assert store.stat("k").size == 1  # while the listing is still unfinished
    del listing


def test_stacked_breakers_recover(flaky: Flaky, clock: Clock) -> None:
    inner = CircuitBreakerLayer(flaky, fail_max=3, reset_timeout=20, clock=clock)
    store = objstore.Store(CircuitBreakerLayer(inner, fail_max=3, reset_timeout=10, clock=clock))
    store.put("k", b"v")
    trip(store, flaky)  # both count the same three outages: both open
    clock.now += 10.5  # the outer's trial is due, the inner is still open
    with pytest.raises(objstore.CircuitOpenError):
        store.stat("k")
    with pytest.raises(objstore.CircuitOpenError):
        store.stat("k")
    clock.now += 10  # now the inner's trial is due too, and the backend is back
    assert store.stat("k").size == 1
    assert store.circuit_state == "closed"
    assert inner.state == "closed"


def test_a_failing_later_page_counts_as_an_outage(flaky: Flaky, clock: Clock) -> None:
    layer = CircuitBreakerLayer(flaky, fail_max=1, reset_timeout=10, clock=clock)
    with objstore.Store(layer) as store:
        for i in range(3):
            store.put(f"k{i}", b"v")
        flaky.error = objstore.UnavailableError
        with pytest.raises(objstore.UnavailableError):
            list(store.list())
        assert store.circuit_state == "open"


def test_the_async_face_counts_the_same(flaky: Flaky, clock: Clock) -> None:
    layer = CircuitBreakerLayer(flaky, fail_max=2, reset_timeout=10, clock=clock)
    store = objstore.AsyncStore(layer)

    async def body() -> None:
        await store.put("k", b"v")
        flaky.error = objstore.UnavailableError
        for _ in range(2):
            with pytest.raises(objstore.UnavailableError):
                await store.stat("k")
        assert store.circuit_state == "open"
        with pytest.raises(objstore.CircuitOpenError):
            await store.get("k")
        assert (await store.presign("k")).startswith("https://example.test/")
        flaky.error = None
        clock.now += 11
        assert (await store.stat("k")).size == 1
        assert store.circuit_state == "closed"
        await store.aclose()

    asyncio.run(body())
