"""The async kit on the built-in backends (memory natively, file through the pool)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import objstore
from objstore.testing import AsyncConformanceSuite


class TestAsyncMemory(AsyncConformanceSuite):
    @pytest.fixture
    def async_store(self) -> Iterator[objstore.AsyncStore]:
        yield objstore.open_async("memory://")


class TestAsyncFile(AsyncConformanceSuite):
    @pytest.fixture
    def async_store(self, tmp_path: Path) -> Iterator[objstore.AsyncStore]:
        yield objstore.open_async(
            {"backend": "file", "file": {"root": str(tmp_path)}, "max_workers": 4}
        )


# -- the built-in backends' async specifics --------------------------------------------------


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[objstore.AsyncStore]:
    """A file store with a single worker: any call that waits for another would hang."""
    yield objstore.open_async(
        {"backend": "file", "file": {"root": str(tmp_path)}, "max_workers": 1}
    )


def test_streaming_into_the_same_store_with_one_worker(one_worker: objstore.AsyncStore) -> None:
    async def body() -> None:
        async with one_worker as store:
            await store.put("src", b"x" * (3 << 20))
            await asyncio.wait_for(store.put("dst", store.get_stream("src")), timeout=60)
            assert await store.get("dst") == b"x" * (3 << 20)

    asyncio.run(body())


def test_presign_never_waits_for_a_worker(one_worker: objstore.AsyncStore) -> None:
    """The only worker is busy with a put whose source stalls; presign does no I/O."""

    async def body() -> None:
        release = threading.Event()

        class Stalls:
            def read(self, n: int = -1) -> bytes:
                release.wait(60)
                return b""

        async with one_worker as store:
            busy = asyncio.ensure_future(store.put("k", Stalls()))
            await asyncio.sleep(0.05)  # let the worker take the put
            try:
                with pytest.raises(objstore.UnsupportedOperationError):
                    await asyncio.wait_for(store.presign("k"), timeout=30)
            finally:
                release.set()
            await busy

    asyncio.run(body())


@pytest.mark.parametrize("url", ["memory://", "file"])
def test_get_stream_opens_at_the_call_like_its_twin(url: str, tmp_path: Path) -> None:
    """``Store.get_stream`` opens the object at the call; so does ``AsyncStore``'s, so a
    delete that comes after the call does not take the object from under it."""
    target = url if url != "file" else {"backend": "file", "file": {"root": str(tmp_path)},
                                        "max_workers": 1}

    async def body() -> None:
        async with objstore.open_async(target) as store:
            await store.put("k", b"data")
            stream = store.get_stream("k")
            await store.stat("k")  # queued behind the open (one worker, or the loop's order)
            await store.delete("k")
            assert [chunk async for chunk in stream] == [b"data"]
            assert stream.info is not None and stream.info.size == 4

    asyncio.run(body())
    with objstore.open(url if url != "file" else f"file://{tmp_path}") as sync:
        sync.put("k", b"data")
        stream = sync.get_stream("k")
        sync.delete("k")
        assert list(stream) == [b"data"]


def test_uploads_from_async_sources_use_a_bounded_number_of_threads(
    one_worker: objstore.AsyncStore,
) -> None:
    """Each such upload runs on a thread of its own; with one worker, at most four run
    at once, the others wait on the loop holding nothing, and a cancelled waiter gives
    its turn away."""

    async def body() -> None:
        gate = asyncio.Event()

        async def stalls(i: int) -> AsyncIterator[bytes]:
            yield f"upload {i}".encode()
            await gate.wait()

        def running() -> int:
            return sum(t.name == "objstore-upload" for t in threading.enumerate())

        async with one_worker as store:
            uploads = [asyncio.ensure_future(store.put(f"u/{i}", stalls(i))) for i in range(7)]
            for _ in range(200):
                await asyncio.sleep(0.01)
                if running() == 4:
                    break
            assert running() == 4
            uploads[6].cancel()  # waiting for a slot: it must not keep one
            gate.set()
            await asyncio.wait_for(asyncio.gather(*uploads[:6]), timeout=60)
            assert [i.key async for i in store.list("u/")] == [f"u/{i}" for i in range(6)]
            with pytest.raises(asyncio.CancelledError):
                await uploads[6]

    asyncio.run(body())
