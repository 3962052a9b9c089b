"""The instrumentation hook (SPEC §9): one event per operation, for both twins.

Events come from real stores (memory: native async; file: the worker pool),
and from backends of this file that retry or drop their streams the way a
network backend does.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest

import objstore
from objstore.backend import note_retry
from objstore.backends.memory import MemoryBackend
from objstore.layers import CircuitBreakerLayer

if TYPE_CHECKING:
    from telemetry import Telemetry

DATA = bytes(range(256)) * 4  # 1 KiB


def summary(events: list[objstore.Event]) -> list[tuple[Any, ...]]:
    """What an event says, without its duration."""
    return [(e.op, e.key, e.bytes, e.outcome, e.attempts, e.backend) for e in events]


@pytest.fixture(params=["memory", "file"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory://" if request.param == "memory" else f"file://{tmp_path}"


def run_every_operation(store: objstore.Store) -> None:
    store.put("a/one", DATA, metadata={"k": "v"})
    store.get("a/one", offset=1000)
    store.stat("a/one")
    store.exists("a/nothing")
    with contextlib.closing(store.get_stream("a/one", chunk_size=100)) as chunks:
        next(chunks)
    with store.open("a/one", length=10) as reader:
        reader.read()
    assert len(list(store.list("a/"))) == 1
    store.copy("a/one", "b/two")
    with pytest.raises(objstore.NotFoundError):
        store.get("a/missing")
    with pytest.raises(objstore.PreconditionFailedError):
        store.put("b/two", b"x", if_none_match="*")
    store.delete("b/two")
    store.delete_many(["a/one", "a/nothing"])


def expected(backend: str) -> list[tuple[Any, ...]]:
    return [
        ("put", "a/one", 1024, "ok", 1, backend),
        ("get", "a/one", 24, "ok", 1, backend),
        ("stat", "a/one", 0, "ok", 1, backend),
        ("exists", "a/nothing", 0, "ok", 1, backend),
        ("get_stream", "a/one", 100, "ok", 1, backend),  # closed after one chunk
        ("open", "a/one", 10, "ok", 1, backend),
        ("list", "a/", 0, "ok", 1, backend),
        ("copy", "b/two", 1024, "ok", 1, backend),
        ("get", "a/missing", 0, "NotFoundError", 1, backend),
        ("put", "b/two", 1, "PreconditionFailedError", 1, backend),  # read, not stored
        ("delete", "b/two", 0, "ok", 1, backend),
        ("delete_many", None, 0, "ok", 1, backend),
    ]


def test_every_operation_reports_one_event(target: str) -> None:
    events: list[objstore.Event] = []
    with objstore.open(target) as store:
        store.subscribe(events.append)
        run_every_operation(store)
    backend = target.split(":", maxsplit=1)[0]
    assert summary(events) == expected(backend)
    assert all(isinstance(e.seconds, float) and e.seconds >= 0 for e in events)


def test_every_async_operation_reports_the_same_events(target: str) -> None:
    events: list[objstore.Event] = []

    async def main() -> None:
        async with objstore.open_async(target) as store:
            store.subscribe(events.append)
            await store.put("a/one", DATA, metadata={"k": "v"})
            await store.get("a/one", offset=1000)
            await store.stat("a/one")
            await store.exists("a/nothing")
            async with store.get_stream("a/one", chunk_size=100) as chunks:
                await anext(chunks)
            async with await store.open("a/one", length=10) as reader:
                await reader.read()
            assert len([item async for item in store.list("a/")]) == 1
            await store.copy("a/one", "b/two")
            with pytest.raises(objstore.NotFoundError):
                await store.get("a/missing")
            with pytest.raises(objstore.PreconditionFailedError):
                await store.put("b/two", b"x", if_none_match="*")
            await store.delete("b/two")
            await store.delete_many(["a/one", "a/nothing"])

    asyncio.run(main())
    assert summary(events) == expected(target.split(":", maxsplit=1)[0])


def test_a_stream_reports_the_bytes_it_moved_until_closed() -> None:
    events: list[objstore.Event] = []
    with objstore.open("memory://") as store:
        store.put("k", DATA)
        store.subscribe(events.append)
        chunks = store.get_stream("k", chunk_size=100)
        next(chunks), next(chunks), next(chunks)
        assert events == []  # reported when the stream ends, not before
        chunks.close()
        chunks.close()
        assert [(e.op, e.bytes) for e in events] == [("get_stream", 300)]
        assert b"".join(store.get_stream("k", offset=24, chunk_size=500)) == DATA[24:]
        assert [(e.op, e.bytes) for e in events][1:] == [("get_stream", 1000)]


def test_a_stream_dropped_without_closing_reports_when_collected() -> None:
    events: list[objstore.Event] = []
    with objstore.open("memory://") as store:
        store.put("k", DATA)
        store.subscribe(events.append)
        chunks = store.get_stream("k", chunk_size=10)
        next(chunks)
        del chunks
        gc.collect()
        reader = store.open("k")
        reader.read(5)
        del reader
        gc.collect()
    # open() reads through a buffer: what moved is what the buffer took
    assert [(e.op, e.bytes) for e in events] == [("get_stream", 10), ("open", 1024)]


def test_an_async_stream_closed_early_reports_the_bytes_it_moved() -> None:
    events: list[objstore.Event] = []

    async def main() -> None:
        async with objstore.open_async("memory://") as store:
            await store.put("k", DATA)
            store.subscribe(events.append)
            chunks = store.get_stream("k", chunk_size=64)
            await anext(chunks)
            await anext(chunks)
            await chunks.aclose()
            reader = await store.open("k", offset=4)
            await reader.read(3)
            await reader.read(5)
            await reader.aclose()
            with pytest.raises(objstore.NotFoundError):
                await anext(store.get_stream("missing"))

    asyncio.run(main())
    assert summary(events) == [
        ("get_stream", "k", 128, "ok", 1, "memory"),
        ("open", "k", 8, "ok", 1, "memory"),
        ("get_stream", "missing", 0, "NotFoundError", 1, "memory"),
    ]


def test_a_listing_reports_once_it_ends_or_is_closed(caplog: pytest.LogCaptureFixture) -> None:
    events: list[objstore.Event] = []
    with objstore.open("memory://") as store:
        for key in ("p/a", "p/b", "p/c", "q"):
            store.put(key, b"")
        store.subscribe(events.append)
        listing = store.list("p/")
        next(listing)
        listing.close()  # type: ignore[attr-defined]
        with caplog.at_level(logging.DEBUG, logger="objstore"):
            assert len(list(store.list("p/"))) == 3
        assert list(store.list("/nothing-can-match")) == []
    assert [(e.op, e.key, e.outcome) for e in events] == [
        ("list", "p/", "ok"),
        ("list", "p/", "ok"),
        ("list", "/nothing-can-match", "ok"),
    ]
    (line,) = caplog.messages
    assert line.startswith("objstore: memory list 'p/': ok, 0 bytes in ")
    assert line.endswith(" ms, items=3")


def test_a_failing_callback_is_logged_and_never_breaks_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    def broken(event: objstore.Event) -> None:
        raise RuntimeError("the callback's own bug")

    with objstore.open("memory://") as store:
        store.subscribe(broken)
        store.subscribe(lambda event: seen.append(event.op))
        with caplog.at_level(logging.ERROR, logger="objstore"):
            info = store.put("k", b"data")
            assert store.get("k") == b"data"
    assert info.size == 4
    assert seen == ["put", "get"]  # the next callback still ran
    (first, _) = caplog.records
    assert first.levelno == logging.ERROR
    assert "broken" in first.getMessage() and "RuntimeError" in first.getMessage()
    assert first.exc_info is not None and first.exc_info[0] is RuntimeError


def test_unsubscribing() -> None:
    first: list[str] = []
    with objstore.open("memory://") as store:
        stop = store.subscribe(lambda event: first.append(event.op))
        stop_again = store.subscribe(lambda event: first.append(event.op))
        store.exists("k")
        stop()
        stop()  # harmless twice
        store.exists("k")
        stop_again()
        store.exists("k")
        with pytest.raises(TypeError):
            store.subscribe("not callable")  # type: ignore[arg-type]
    assert first == ["exists", "exists", "exists"]


def test_one_debug_line_per_operation(caplog: pytest.LogCaptureFixture) -> None:
    with objstore.open("memory://") as store, caplog.at_level(logging.DEBUG, logger="objstore"):
        store.put("photos/cat.jpg", b"12345")
        with pytest.raises(objstore.NotFoundError):
            store.stat("nope")
        store.copy("photos/cat.jpg", "b")
        store.delete_many(["b", "c"])
    lines = [r.getMessage() for r in caplog.records]
    assert all(r.levelno == logging.DEBUG and r.name == "objstore" for r in caplog.records)
    assert [line.split(" in ")[0] for line in lines] == [
        "objstore: memory put 'photos/cat.jpg': ok, 5 bytes",
        "objstore: memory stat 'nope': NotFoundError, 0 bytes",
        "objstore: memory copy 'b': ok, 5 bytes",
        "objstore: memory delete_many: ok, 0 bytes",
    ]
    assert lines[2].endswith("ms, source_key='photos/cat.jpg'")
    assert lines[3].endswith("ms, keys=2")
    assert caplog.records[0].objstore_event.op == "put"  # type: ignore[attr-defined]


def test_the_debug_level_is_read_at_every_call(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("objstore")
    # caplog restores the level afterwards
    with objstore.open("memory://") as store, caplog.at_level(logging.DEBUG, logger="objstore"):
        logger.setLevel(logging.INFO)
        store.exists("quiet")
        logger.setLevel(logging.DEBUG)
        store.exists("heard")
        logger.setLevel(logging.INFO)
        store.exists("quiet again")
    assert [line.split(":", 2)[1] for line in caplog.messages] == [" memory exists 'heard'"]


# -- attempts ---------------------------------------------------------------------------------


class Retrying(MemoryBackend):
    """A memory backend that retries ``stat`` the way a network backend would: the first
    ``failures`` attempts on key ``"k"`` fail with 503, then it answers."""

    reports_retries = True

    def __init__(self, failures: int, max_attempts: int = 5):
        super().__init__()
        self.failures = failures
        self.max_attempts = max_attempts

    def stat(self, key: str) -> objstore.ObjectInfo:
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                note_retry()
            if key != "k" or self.failures == 0:
                return super().stat(key)
            self.failures -= 1
        raise objstore.UnavailableError("503 each time", key=key, backend="memory")

    async def astat(self, key: str) -> objstore.ObjectInfo:
        return self.stat(key)


class Blocking(Retrying):
    """The same, as a blocking backend: ``AsyncStore`` runs it in its worker pool."""

    native_async = False
    blocking = True


def test_retries_are_counted_in_attempts() -> None:
    events: list[objstore.Event] = []
    with objstore.Store(Retrying(failures=2)) as store:
        store.put("k", b"x")
        store.subscribe(events.append)
        store.stat("k")
    assert summary(events) == [("stat", "k", 0, "ok", 3, "memory")]


@pytest.mark.parametrize("backend", [Retrying, Blocking])
def test_retries_in_the_async_twin_are_counted_too(backend: type[Retrying]) -> None:
    events: list[objstore.Event] = []

    async def main() -> None:
        async with objstore.AsyncStore(backend(failures=1)) as store:
            await store.put("k", b"x")
            store.subscribe(events.append)
            await asyncio.gather(store.stat("k"), store.exists("j"))

    asyncio.run(main())
    # two operations at once, each with its own tally: the retry is the stat's
    assert sorted(summary(events)) == [
        ("exists", "j", 0, "ok", 1, "memory"),
        ("stat", "k", 0, "ok", 2, "memory"),
    ]


def test_retries_that_finally_fail_are_a_warning_even_unobserved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with objstore.Store(Retrying(failures=4, max_attempts=3)) as store:
        store.put("k", b"x")
        with caplog.at_level(logging.WARNING, logger="objstore"):
            with pytest.raises(objstore.UnavailableError):
                store.stat("k")
            store.stat("k")  # retried, then fine: nothing to warn about
            with pytest.raises(objstore.NotFoundError):
                store.stat("missing")  # failed at once: not a retry story
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "objstore: memory stat 'k' failed after 3 attempts: UnavailableError")
    ]


class Dropping(MemoryBackend):
    """Its read streams break after the first read, once per ``get``, as a connection can."""

    def get(self, key: str, *, offset: int, length: int | None, if_match: str | None = None) -> Any:
        stream = super().get(key, offset=offset, length=length, if_match=if_match)
        if offset > 0:
            return stream  # the resumed request reads through
        read = stream.read

        def breaking(n: int) -> bytes:
            stream.read = self._broken  # type: ignore[method-assign]
            return read(min(n, 100))

        stream.read = breaking  # type: ignore[method-assign]
        return stream

    @staticmethod
    def _broken(n: int) -> bytes:
        raise objstore.UnavailableError("connection reset", backend="memory")


def test_a_resumed_read_counts_as_an_attempt() -> None:
    events: list[objstore.Event] = []
    with objstore.Store(Dropping()) as store:
        store.put("k", DATA)
        store.subscribe(events.append)
        assert store.get("k") == DATA
        assert b"".join(store.get_stream("k", chunk_size=300)) == DATA
    assert summary(events) == [
        ("get", "k", 1024, "ok", 2, "memory"),
        ("get_stream", "k", 1024, "ok", 2, "memory"),
    ]


# -- the circuit breaker ----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_circuit_transitions_are_events(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    failing = Retrying(failures=3, max_attempts=1)
    breaker = CircuitBreakerLayer(failing, fail_max=2, reset_timeout=30, clock=clock)
    circuit: list[objstore.Event] = []
    with objstore.Store(breaker) as store:
        store.put("k", b"x")
        store.subscribe(lambda e: circuit.append(e) if e.op == "circuit" else None)
        for _ in range(2):
            with pytest.raises(objstore.UnavailableError):
                store.stat("k")
        assert store.circuit_state == "open"
        clock.now += 31
        with pytest.raises(objstore.UnavailableError):
            store.stat("k")  # the trial fails: open again
        clock.now += 40
        store.stat("k")  # the next trial succeeds
        assert store.circuit_state == "closed"
    assert [(e.outcome, e.seconds, e.key, e.bytes, e.attempts) for e in circuit] == [
        ("open", 0.0, None, 0, 0),
        ("half_open", 31.0, None, 0, 0),
        ("open", 0.0, None, 0, 0),
        ("half_open", 40.0, None, 0, 0),
        ("closed", 0.0, None, 0, 0),
    ]
    assert {e.backend for e in circuit} == {"memory"}


def test_a_closed_store_stops_listening_to_its_breaker() -> None:
    clock = Clock()
    breaker = CircuitBreakerLayer(Retrying(failures=5, max_attempts=1), fail_max=1, clock=clock)
    circuit: list[objstore.Event] = []
    store = objstore.Store(breaker)
    store.subscribe(circuit.append)
    store.close()
    with pytest.raises(objstore.UnavailableError):
        breaker.stat("k")  # a store sharing the layer would trip it; this one no longer hears
    assert circuit == []


# -- what an unobserved store costs -----------------------------------------------------------

UNOBSERVED = """
import sys, objstore
with objstore.open(sys.argv[1]) as store:
    store.put("k", b"x")
    assert not store._watch.observed(), "an unobserved store makes operations"
    store.subscribe(lambda e: None)()
    assert not store._watch.observed(), "an unsubscribed store still makes operations"
    assert "opentelemetry" not in sys.modules, "objstore imported OpenTelemetry"
print("quiet")
"""


def test_an_unobserved_local_store_does_no_bookkeeping(tmp_path: Path) -> None:
    # in a fresh process: this one may have configured OpenTelemetry for other tests
    for target in ("memory://", f"file://{tmp_path}"):
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(UNOBSERVED), target],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.stdout.strip() == "quiet", result.stderr


# -- secrets ----------------------------------------------------------------------------------

SIGNING_KEY = "planted-signing-key-0123456789"


def test_no_secret_in_events_log_lines_or_spans(
    caplog: pytest.LogCaptureFixture, telemetry: Telemetry
) -> None:
    events: list[objstore.Event] = []
    config = {
        "backend": "memory",
        "memory": {"base_url": "http://127.0.0.1:9/objstore", "signing_key": SIGNING_KEY},
    }
    with objstore.open(config) as store, caplog.at_level(logging.DEBUG, logger="objstore"):
        store.subscribe(events.append)
        store.put("k", b"x")
        urls = [store.presign("k"), store.presign("k", method="PUT", content_type="text/plain")]
        with pytest.raises(objstore.NotFoundError):
            store.get("missing")
    signatures = [parse_qs(urlsplit(url).query)["X-Objstore-Signature"][0] for url in urls]
    logged = "".join(r.getMessage() for r in caplog.records)
    text = repr(events) + logged + telemetry.everything()
    assert [e.op for e in events] == ["put", "presign", "presign", "get"]
    assert "objstore.presign" in telemetry.everything()  # the spans were there to search
    for secret in (SIGNING_KEY, *signatures):
        assert secret not in text
