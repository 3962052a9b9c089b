"""Conformance tests for conditional writes, ``copy``, concurrency and the store's lifecycle."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from .._models import Capabilities
from .._store import Store
from ..errors import (
    KeyConflictError,
    NotFoundError,
    PreconditionFailedError,
    StoreClosedError,
    UnsupportedOperationError,
)
from ._helpers import keys_of, pattern, require


def _conditional(store: Store) -> None:
    require(store, "conditional_put", lambda: store.put("probe", b"x", if_none_match="*"))


class ConditionalTests:
    """``if_none_match="*"`` and ``if_match=etag``: race-free or refused, never ignored."""

    def test_conditional_unsupported_is_refused_not_ignored(self, store: Store) -> None:
        if store.capabilities.conditional_put:
            pytest.skip("the store supports conditional writes")
        info = store.put("k", b"v1")
        conditions: list[dict[str, Any]] = [{"if_none_match": "*"}, {"if_match": info.etag}]
        for kwargs in conditions:
            with pytest.raises(UnsupportedOperationError):
                store.put("k", b"v2", **kwargs)
        with pytest.raises(UnsupportedOperationError):
            store.copy("k", "other", if_none_match="*")
        assert store.get("k") == b"v1"
        assert not store.exists("other")

    def test_if_none_match_creates_an_absent_key(self, store: Store) -> None:
        _conditional(store)
        info = store.put("k", b"first", if_none_match="*")
        assert store.stat("k").etag == info.etag

    def test_if_none_match_refuses_an_existing_key(self, store: Store) -> None:
        _conditional(store)
        store.put("k", b"first", metadata={"v": "1"})
        with pytest.raises(PreconditionFailedError) as caught:
            store.put("k", b"second", if_none_match="*", metadata={"v": "2"})
        assert caught.value.key == "k"
        assert store.get("k") == b"first"
        assert dict(store.stat("k").metadata or {}) == {"v": "1"}

    def test_if_match_replaces_the_matching_version(self, store: Store) -> None:
        _conditional(store)
        first = store.put("k", b"v1")
        second = store.put("k", b"v2", if_match=first.etag)
        assert store.get("k") == b"v2"
        assert second.etag != first.etag

    def test_if_match_accepts_a_quoted_etag(self, store: Store) -> None:
        _conditional(store)
        first = store.put("k", b"v1")
        store.put("k", b"v2", if_match=f'"{first.etag}"')
        assert store.get("k") == b"v2"

    def test_if_match_refuses_a_stale_etag(self, store: Store) -> None:
        _conditional(store)
        stale = store.put("k", b"v1")
        store.put("k", b"v2")
        with pytest.raises(PreconditionFailedError):
            store.put("k", b"v3", if_match=stale.etag)
        assert store.get("k") == b"v2"

    def test_if_match_on_a_missing_key_fails(self, store: Store) -> None:
        _conditional(store)
        gone = store.put("k", b"v1")
        store.delete("k")
        with pytest.raises(PreconditionFailedError):
            store.put("k", b"v2", if_match=gone.etag)
        assert not store.exists("k")

    def test_conditional_failure_with_a_stream_leaves_nothing(self, store: Store) -> None:
        _conditional(store)
        store.put("k", b"v1")
        with pytest.raises(PreconditionFailedError):
            store.put("k", iter([pattern(200_000)] * 3), if_none_match="*")
        assert store.get("k") == b"v1"
        assert keys_of(store.list()) == ["k"]

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"if_none_match": "etag"},
            {"if_none_match": ""},
            {"if_match": ""},
            {"if_match": "*"},
            {"if_match": "e", "if_none_match": "*"},
            {"if_match": 5},
        ],
    )
    def test_conditional_arguments_are_checked(self, store: Store, kwargs: Any) -> None:
        with pytest.raises((ValueError, TypeError)):
            store.put("k", b"x", **kwargs)
        assert not store.exists("k")

    def test_create_if_absent_race_has_exactly_one_winner(self, store: Store) -> None:
        _conditional(store)
        for round_ in range(5):
            key = f"race/{round_}"

            def create(writer: int, key: str = key) -> object:
                return store.put(key, f"writer {writer}".encode(), if_none_match="*")

            winners = _race(16, create)
            assert len(winners) == 1, f"round {round_}: {len(winners)} writers won"
            assert store.get(key) == f"writer {winners[0]}".encode()

    def test_compare_and_swap_loses_no_update(self, store: Store) -> None:
        _conditional(store)
        store.put("counter", b"0")

        def increment(_: int) -> None:
            for _ in range(10):
                while True:
                    with store.open("counter") as reader:
                        value, etag = int(reader.read()), reader.info.etag
                    try:
                        store.put("counter", str(value + 1).encode(), if_match=etag)
                        break
                    except PreconditionFailedError:
                        continue

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(increment, range(4)))
        assert store.get("counter") == b"40"


def _race(writers: int, write: Callable[[int], object]) -> list[int]:
    barrier = threading.Barrier(writers)
    winners: list[int] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            write(i)
        except PreconditionFailedError:
            return
        with lock:
            winners.append(i)

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(attempt, range(writers)))
    return winners


class CopyTests:
    """``copy``: content, content type and metadata; independent afterwards."""

    def test_copy_keeps_content_type_and_metadata(self, store: Store) -> None:
        store.put("src.bin", b"payload", content_type="text/x-special", metadata={"a": "ü"})
        info = store.copy("src.bin", "dst/copy.json")
        assert info.key == "dst/copy.json"
        assert store.get("dst/copy.json") == b"payload"
        copied = store.stat("dst/copy.json")
        assert copied.content_type == "text/x-special"
        assert dict(copied.metadata or {}) == {"a": "ü"}
        assert copied.etag == info.etag and copied.size == 7

    def test_copy_is_not_an_alias(self, store: Store) -> None:
        store.put("src", b"original", metadata={"v": "1"})
        store.copy("src", "dst")
        store.put("src", b"changed", metadata={"v": "2"})
        assert store.get("dst") == b"original"
        assert dict(store.stat("dst").metadata or {}) == {"v": "1"}
        store.delete("src")
        assert store.get("dst") == b"original"

    def test_copy_overwrites_the_target(self, store: Store) -> None:
        store.put("src", b"new")
        store.put("dst", b"old", metadata={"old": "yes"})
        store.copy("src", "dst")
        assert store.get("dst") == b"new"
        assert dict(store.stat("dst").metadata or {}) == {}

    def test_copy_of_a_missing_source_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError):
            store.copy("missing", "dst")
        assert not store.exists("dst")

    def test_copy_onto_itself_keeps_the_object(self, store: Store) -> None:
        store.put("k", b"same", metadata={"m": "1"})
        store.copy("k", "k")
        assert store.get("k") == b"same"
        assert dict(store.stat("k").metadata or {}) == {"m": "1"}

    def test_copy_large_object(self, store: Store) -> None:
        content = pattern(3_000_017)
        store.put("big", content)
        store.copy("big", "big-copy")
        assert store.get("big-copy") == content

    def test_copy_if_none_match_refuses_an_existing_target(self, store: Store) -> None:
        store.put("src", b"new")
        store.put("dst", b"old")
        require(store, "conditional_put", lambda: store.copy("src", "dst", if_none_match="*"))
        with pytest.raises(PreconditionFailedError):
            store.copy("src", "dst", if_none_match="*")
        assert store.get("dst") == b"old"
        store.copy("src", "fresh", if_none_match="*")
        assert store.get("fresh") == b"new"


class ConcurrencyTests:
    """Atomic overwrite: readers see one whole version, never a mix."""

    def test_readers_see_whole_versions_during_overwrites(self, store: Store) -> None:
        size = 256 * 1024
        versions = {bytes([65 + i]) * size for i in range(4)}
        first = store.put("hot", b"A" * size, metadata={"letter": "A"})
        written = {first.etag: b"A"}  # etag -> the letter its data is made of
        stop = threading.Event()
        failures: list[str] = []
        reads = [0]

        def write() -> None:
            # at least 40 overwrites, and on until the readers have overlapped a few
            deadline = time.monotonic() + 30
            i = 0
            try:
                while i < 40 or (reads[0] < 12 and time.monotonic() < deadline):
                    i += 1
                    letter = bytes([65 + i % 4])
                    info = store.put("hot", letter * size, metadata={"letter": letter.decode()})
                    written[info.etag] = letter
            finally:
                stop.set()

        def read() -> None:
            while not stop.is_set():
                data = store.get("hot")
                if data not in versions:
                    failures.append(f"torn get: {len(data)} bytes of {sorted(set(data))}")
                with store.open("hot") as reader:
                    data, info = reader.read(), reader.info
                letter = (info.metadata or {}).get("letter", "?").encode()
                if data != letter * size:
                    failures.append(f"metadata {letter!r} came with data {data[:1]!r}")
                if info.etag in written and written[info.etag] != data[:1]:
                    failures.append(f"etag of {written[info.etag]!r} came with {data[:1]!r}")
                reads[0] += 1

        threads = [threading.Thread(target=write)]
        threads += [threading.Thread(target=read) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, failures[:3]
        assert reads[0] > 0

    def test_open_reader_keeps_its_version(self, store: Store) -> None:
        store.put("k", b"A" * 100_000)
        with store.open("k") as reader:
            first = reader.read(10)
            store.put("k", b"B" * 100_000)
            rest = reader.read()
        assert first + rest == b"A" * 100_000

    def test_parallel_puts_to_distinct_keys(self, store: Store) -> None:
        def write(i: int) -> None:
            store.put(f"p/{i:03d}/obj", pattern(10_000, seed=i))

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(64)))
        assert keys_of(store.list("p/")) == [f"p/{i:03d}/obj" for i in range(64)]
        assert store.get("p/007/obj") == pattern(10_000, seed=7)


class ConflictTests:
    """A key and keys below it (``a`` and ``a/b``): both, or ``KeyConflictError``."""

    @pytest.mark.parametrize("order", ["file-first", "dir-first"])
    def test_key_and_keys_below_it(self, store: Store, order: str) -> None:
        first, second = ("a", "a/b") if order == "file-first" else ("a/b", "a")
        store.put(first, b"first")
        if store.capabilities.nested_keys:
            store.put(second, b"second")
            assert store.get(first) == b"first"
            assert store.get(second) == b"second"
            return
        with pytest.raises(KeyConflictError) as caught:
            store.put(second, b"second")
        assert caught.value.key == second
        assert store.get(first) == b"first"
        assert not store.exists(second)
        assert keys_of(store.list()) == [first]

    def test_key_conflict_also_applies_to_copy(self, store: Store) -> None:
        if store.capabilities.nested_keys:
            pytest.skip("the store can hold a key and keys below it")
        store.put("a/b", b"x")
        store.put("src", b"y")
        with pytest.raises(KeyConflictError):
            store.copy("src", "a")
        assert keys_of(store.list()) == ["a/b", "src"]


class LifecycleTests:
    """``close``, context management, capabilities and ``presign``'s arguments."""

    def test_closed_store_refuses_every_call(self, store: Store) -> None:
        store.put("k", b"x")
        store.close()
        store.close()  # closing twice is fine
        calls: list[Callable[[], object]] = [
            lambda: store.put("k", b"y"),
            lambda: store.get("k"),
            lambda: store.get_stream("k"),
            lambda: store.open("k"),
            lambda: store.stat("k"),
            lambda: store.exists("k"),
            lambda: store.delete("k"),
            lambda: store.delete_many(["k"]),
            store.list,
            lambda: store.copy("k", "j"),
            lambda: store.presign("k"),
        ]
        for call in calls:
            with pytest.raises(StoreClosedError):
                call()

    def test_store_is_a_context_manager(self, store: Store) -> None:
        with store as same:
            assert same is store
            same.put("k", b"x")
        with pytest.raises(StoreClosedError):
            store.get("k")

    def test_capabilities_are_declared_as_booleans(self, store: Store) -> None:
        caps = store.capabilities
        assert isinstance(caps, Capabilities)
        for name in (
            "presign",
            "conditional_put",
            "server_side_copy",
            "batch_delete",
            "multipart",
            "nested_keys",
        ):
            assert isinstance(getattr(caps, name), bool)

    def test_presign_gives_a_url_or_says_it_cannot(self, store: Store) -> None:
        store.put("k", b"x")
        if not store.capabilities.presign:
            with pytest.raises(UnsupportedOperationError):
                store.presign("k")
            return
        for kwargs in (
            {},
            {"method": "PUT", "content_type": "text/plain"},
            {"expires": timedelta(minutes=5)},
        ):
            url = store.presign("k", **kwargs)
            assert url.startswith(("http://", "https://"))

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"expires": 0},
            {"expires": 7 * 24 * 3600 + 1},
            {"expires": timedelta(days=8)},
            {"expires": -1},
            {"method": "DELETE"},
            {"expires": "1h"},
            {"method": "PUT", "content_type": "bad\ntype"},
        ],
    )
    def test_presign_arguments_are_checked(self, store: Store, kwargs: Any) -> None:
        with pytest.raises((ValueError, TypeError)):
            store.presign("k", **kwargs)
