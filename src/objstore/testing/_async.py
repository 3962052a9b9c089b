"""``AsyncConformanceSuite``: the whole kit on an ``AsyncStore``, plus what is async only."""

from __future__ import annotations

import asyncio
import gc
import io
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from .._async_store import AsyncStore
from ..errors import NotFoundError, StoreClosedError
from . import ConformanceSuite
from ._budget import KeyBudget
from ._helpers import keys_of, pattern
from ._portal import BlockingStore, Portal

MIB = 1 << 20


class AsyncConformanceSuite(ConformanceSuite):
    """Every ``ConformanceSuite`` test, run through the ``AsyncStore`` API, and the
    async-only behaviour: async sources, cancellation, a loop that never blocks.

    Override the ``async_store`` fixture (a plain fixture: building an
    ``AsyncStore`` needs no event loop) to yield a fresh, empty store; the kit
    closes it.
    """

    #: the most CPU time (seconds) the store may spend on the event loop at a stretch
    max_loop_lag = 0.050

    @pytest.fixture
    def async_store(self) -> Iterator[AsyncStore]:
        raise NotImplementedError("override 'async_store' to yield a fresh, empty AsyncStore")
        yield  # pragma: no cover

    @pytest.fixture
    def portal(self, async_store: AsyncStore) -> Iterator[Portal]:
        portal = Portal()
        yield portal
        portal.run(async_store.aclose())
        portal.close()

    @pytest.fixture
    def store(self, async_store: AsyncStore, portal: Portal) -> BlockingStore:
        return BlockingStore(async_store, portal)

    @pytest.fixture
    def key_budget(self, async_store: AsyncStore) -> KeyBudget:
        return KeyBudget.of(async_store)

    # -- async sources -------------------------------------------------------------------

    def test_async_put_from_an_async_iterable(
        self, async_store: AsyncStore, portal: Portal
    ) -> None:
        async def body() -> None:
            async def chunks() -> AsyncIterator[bytes]:
                for i in range(7):
                    await asyncio.sleep(0)
                    yield pattern(300_001, seed=i)

            seen: list[tuple[int, int | None]] = []
            info = await async_store.put("up", chunks(), progress=lambda d, t: seen.append((d, t)))
            expected = b"".join([pattern(300_001, seed=i) for i in range(7)])
            assert info.size == len(expected)
            assert await async_store.get("up") == expected
            assert seen[-1] == (len(expected), None)

        portal.run(body())

    def test_async_put_from_an_async_reader(self, async_store: AsyncStore, portal: Portal) -> None:
        class Upload:  # what an ASGI framework's UploadFile offers
            def __init__(self, data: bytes):
                self._file = io.BytesIO(data)

            async def read(self, size: int = -1) -> bytes:
                await asyncio.sleep(0)
                return self._file.read(size)

        async def body() -> None:
            data = pattern(2 * MIB + 17)
            await async_store.put("upload.bin", Upload(data), content_type="image/png")
            assert await async_store.get("upload.bin") == data
            assert (await async_store.stat("upload.bin")).content_type == "image/png"

        portal.run(body())

    def test_async_source_failure_keeps_the_old_object(
        self, async_store: AsyncStore, portal: Portal
    ) -> None:
        class ClientWentAwayError(Exception):
            pass

        async def body() -> None:
            await async_store.put("k", b"old")

            async def failing() -> AsyncIterator[bytes]:
                yield b"new" * 100_000
                raise ClientWentAwayError

            with pytest.raises(ClientWentAwayError):
                await async_store.put("k", failing())
            assert await async_store.get("k") == b"old"
            with pytest.raises(ClientWentAwayError):
                await async_store.put("fresh/key", failing())
            assert keys_of([i async for i in async_store.list()]) == ["k"]

        portal.run(body())

    def test_cancelled_upload_leaves_nothing(self, async_store: AsyncStore, portal: Portal) -> None:
        async def body() -> None:
            await async_store.put("k", b"old")
            started = asyncio.Event()

            async def stalls() -> AsyncIterator[bytes]:
                yield pattern(MIB)
                started.set()
                await asyncio.sleep(3600)  # the client stops sending
                yield b"never"

            for key in ("k", "new/key"):
                started.clear()
                task = asyncio.create_task(async_store.put(key, stalls()))
                await started.wait()
                task.cancel()
                began = time.monotonic()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert time.monotonic() - began < 10, "cancellation waited for the source"
            assert await async_store.get("k") == b"old"
            assert keys_of([i async for i in async_store.list()]) == ["k"]

        portal.run(body())

    def test_cancelled_put_commits_nothing_before_its_commit(
        self, async_store: AsyncStore, portal: Portal
    ) -> None:
        """A put cancelled while its data is still being read commits nothing, whether
        the backend runs on the loop or in a worker (SPEC §5)."""

        async def body() -> None:
            await async_store.put("k", b"old")
            loop = asyncio.get_running_loop()
            tasks: list[asyncio.Task[object]] = []

            class Source:  # a file object, read in a worker thread
                def __init__(self) -> None:
                    self.reads = 0

                def read(self, n: int = -1) -> bytes:
                    self.reads += 1
                    if self.reads == 2:
                        # The caller cancels now; wait until the loop has delivered it.
                        loop.call_soon_threadsafe(tasks[0].cancel)
                        for _ in range(3):  # each round trip runs what the loop had queued
                            turned = threading.Event()
                            loop.call_soon_threadsafe(turned.set)
                            turned.wait(30)
                    return b"n" * MIB if self.reads <= 3 else b""

            for key in ("k", "fresh"):
                tasks[:] = [asyncio.ensure_future(async_store.put(key, Source()))]
                with pytest.raises(asyncio.CancelledError):
                    await tasks[0]
            assert await async_store.get("k") == b"old"
            assert keys_of([i async for i in async_store.list()]) == ["k"]

        portal.run(body())

    def test_cancelled_put_of_bytes_leaves_old_or_new_whole(
        self, async_store: AsyncStore, portal: Portal
    ) -> None:
        async def body() -> None:
            old, new = b"o" * MIB, pattern(6 * MIB)
            await async_store.put("k", old)
            for delay in (0, 0, 0.001, 0.005, 0.02):
                task = asyncio.ensure_future(async_store.put("k", new))
                await asyncio.sleep(delay)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                assert await async_store.get("k") in (old, new)
            assert keys_of([i async for i in async_store.list()]) == ["k"]

        portal.run(body())

    def test_streaming_within_one_store_never_deadlocks(
        self, async_store: AsyncStore, portal: Portal
    ) -> None:
        """Copies of one object into others of the same store, through ``get_stream``,
        among other calls: an upload must not hold a worker while it waits for chunks
        that another worker of the same pool must read (SPEC §5)."""

        async def body() -> None:
            data = pattern(3 * MIB + 5)
            await async_store.put("src", data)
            copies = [
                async_store.put(f"copy/{i}", async_store.get_stream("src", chunk_size=MIB))
                for i in range(8)
            ]
            others = [async_store.stat("src") for _ in range(100)]
            # A guard against a hang, not a time limit: it takes well under a second.
            await asyncio.wait_for(asyncio.gather(*copies, *others), timeout=120)
            for i in range(8):
                assert await async_store.get(f"copy/{i}") == data

        portal.run(body())

    # -- reads ---------------------------------------------------------------------------

    def test_async_get_stream_is_an_async_iterator(
        self, async_store: AsyncStore, portal: Portal
    ) -> None:
        async def body() -> None:
            data = pattern(100_000)
            await async_store.put("k", data)
            stream = async_store.get_stream("k", offset=10, chunk_size=30_000)
            chunks = [chunk async for chunk in stream]
            assert all(len(c) <= 30_000 for c in chunks)
            assert b"".join(chunks) == data[10:]
            assert stream.info is not None and stream.info.size == len(data)
            async with async_store.get_stream("k", chunk_size=10) as early:
                assert await early.__anext__() == data[:10]
            with pytest.raises(NotFoundError):
                async for _ in async_store.get_stream("missing"):
                    pass

        portal.run(body())

    def test_async_open_reads_like_a_file(self, async_store: AsyncStore, portal: Portal) -> None:
        async def body() -> None:
            await async_store.put("k", b"first line\nsecond line\n" + pattern(5000))
            async with await async_store.open("k") as reader:
                assert reader.info.size == 23 + 5000
                assert await reader.readline() == b"first line\n"
                assert await reader.read(6) == b"second"
                assert reader.tell() == 17
                await reader.seek(-4, io.SEEK_END)
                assert await reader.read() == pattern(5000)[-4:]
            assert reader.closed

        portal.run(body())

    # -- the event loop ------------------------------------------------------------------

    def test_event_loop_is_never_blocked(self, async_store: AsyncStore, portal: Portal) -> None:
        """A task sleeping 5 ms in a loop measures, between two of its wake-ups, how much
        CPU time the loop's thread spent, while 64 MiB stream in and out and 200 small
        operations run concurrently: the work the store did *on the loop* at a stretch.

        CPU time, not wall time: a busy machine (other processes, the S3 server under
        test on the same cores, the store's own worker threads holding the GIL) makes
        the loop wait without the store's doing, and must not fail the test; work run
        on the loop instead of in a worker shows whatever the load. The wall-clock lag
        is measured side by side with the peers in ``bench/bench_async.py``.
        """
        gc.collect()
        gc.freeze()  # the collector's passes over the runner's heap are not the store's
        try:
            cpu, wall = portal.run(self._loop_work(async_store))
        finally:
            gc.unfreeze()
        assert cpu <= self.max_loop_lag, (
            f"the event loop ran {cpu * 1000:.1f} ms of CPU at a stretch "
            f"(worst wall-clock lag {wall * 1000:.1f} ms)"
        )

    async def _loop_work(self, async_store: AsyncStore) -> tuple[float, float]:
        worst_cpu = worst_wall = 0.0
        stop = asyncio.Event()

        async def probe() -> None:
            nonlocal worst_cpu, worst_wall
            while not stop.is_set():
                wall, cpu = time.perf_counter(), time.thread_time()
                await asyncio.sleep(0.005)
                worst_cpu = max(worst_cpu, time.thread_time() - cpu)
                worst_wall = max(worst_wall, time.perf_counter() - wall - 0.005)

        async def big() -> AsyncIterator[bytes]:
            for i in range(64):
                yield pattern(MIB, seed=i)

        async def small(i: int) -> None:
            await async_store.put(f"small/{i}", b"x" * 1000, metadata={"i": str(i)})
            assert (await async_store.stat(f"small/{i}")).size == 1000
            assert await async_store.get(f"small/{i}") == b"x" * 1000

        async def stream_in_and_out() -> int:
            await async_store.put("big", big())
            total = 0
            async for chunk in async_store.get_stream("big"):
                total += len(chunk)
            return total

        probing = asyncio.create_task(probe())
        await asyncio.sleep(0.02)
        total, *_ = await asyncio.gather(stream_in_and_out(), *(small(i) for i in range(200)))
        stop.set()
        await probing
        assert total == 64 * MIB
        return worst_cpu, worst_wall

    def test_the_loops_default_executor_is_never_used(
        self, async_store: AsyncStore, portal: Portal
    ) -> None:
        class Refusing(ThreadPoolExecutor):
            def submit(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
                raise AssertionError("the loop's default executor was used")

        async def body() -> None:
            asyncio.get_running_loop().set_default_executor(Refusing())
            await async_store.put("k", io.BytesIO(b"file object"))
            await async_store.copy("k", "c")
            assert [i.key async for i in async_store.list()] == ["c", "k"]
            assert await async_store.get("c") == b"file object"
            await async_store.delete_many(["k", "c"])

        portal.run(body())

    def test_aclose_refuses_further_calls(self, async_store: AsyncStore, portal: Portal) -> None:
        async def body() -> None:
            await async_store.put("k", b"x")
            await async_store.aclose()
            await async_store.aclose()
            with pytest.raises(StoreClosedError):
                await async_store.get("k")
            with pytest.raises(StoreClosedError):
                async_store.list()

        portal.run(body())
