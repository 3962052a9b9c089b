"""Layers: circuit breaker and read-only, through the public Store."""

from __future__ import annotations

import logging

import pytest

import objstore
from objstore.backends.memory import MemoryBackend
from objstore.layers import CircuitBreakerLayer, ReadOnlyLayer, SignedUrlLayer


class Outage(MemoryBackend):
    """A memory backend that can be switched into an outage, counting calls."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    def stat(self, key: str) -> objstore.ObjectInfo:
        self.calls += 1
        if self.down:
            raise objstore.UnavailableError("connection refused", key=key, backend="outage")
        return super().stat(key)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def parts() -> tuple[Outage, Clock, objstore.Store]:
    backend, clock = Outage(), Clock()
    store = objstore.Store(CircuitBreakerLayer(backend, fail_max=3, reset_timeout=10, clock=clock))
    store.put("k", b"v")
    return backend, clock, store


def test_opens_after_fail_max_consecutive_failures(
    parts: tuple[Outage, Clock, objstore.Store], caplog: pytest.LogCaptureFixture
) -> None:
    backend, _, store = parts
    backend.down = True
    for _ in range(3):
        with pytest.raises(objstore.UnavailableError) as caught:
            store.stat("k")
        assert not isinstance(caught.value, objstore.CircuitOpenError)
    with (
        caplog.at_level(logging.INFO, logger="objstore"),
        pytest.raises(objstore.CircuitOpenError, match="failing fast") as caught,
    ):
        store.stat("k")
    assert isinstance(caught.value, objstore.UnavailableError)
    assert backend.calls == 3  # the fourth call never reached the backend


def test_answers_are_not_failures(parts: tuple[Outage, Clock, objstore.Store]) -> None:
    _, _, store = parts
    for _ in range(10):
        with pytest.raises(objstore.NotFoundError):
            store.stat("missing")
    assert store.stat("k").size == 1


def test_success_resets_the_count(parts: tuple[Outage, Clock, objstore.Store]) -> None:
    backend, _, store = parts
    for _ in range(5):
        backend.down = True
        for _ in range(2):
            with pytest.raises(objstore.UnavailableError):
                store.stat("k")
        backend.down = False
        store.stat("k")


def test_one_trial_call_after_the_timeout(parts: tuple[Outage, Clock, objstore.Store]) -> None:
    backend, clock, store = parts
    backend.down = True
    for _ in range(3):
        with pytest.raises(objstore.UnavailableError):
            store.stat("k")
    clock.now += 9.9
    with pytest.raises(objstore.CircuitOpenError):
        store.stat("k")
    clock.now += 0.2
    with pytest.raises(objstore.UnavailableError) as caught:  # the trial, which fails
        store.stat("k")
    assert not isinstance(caught.value, objstore.CircuitOpenError)
    assert backend.calls == 4
    with pytest.raises(objstore.CircuitOpenError):  # open again at once
        store.stat("k")
    clock.now += 10.1
    backend.down = False
    assert store.stat("k").size == 1  # the trial succeeds: closed
    assert backend.calls == 5
    assert "closed" in repr(store)


def test_read_only_layer_passes_reads_and_refuses_writes() -> None:
    inner = MemoryBackend()
    objstore.Store(inner).put("k", b"v")
    signed = SignedUrlLayer(inner, base_url="http://f.test", signing_key="k" * 32)
    store = objstore.Store(ReadOnlyLayer(signed))
    assert store.get("k") == b"v"
    assert store.presign("k").startswith("http://f.test/k?")
    assert [i.key for i in store.list()] == ["k"]
    with pytest.raises(objstore.PermissionDeniedError):
        store.put("new", b"x")
    with pytest.raises(objstore.PermissionDeniedError):
        store.presign("k", method="PUT")
    assert not store.exists("new")
