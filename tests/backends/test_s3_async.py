"""The native transport's asyncio methods (``AsyncBackend``), called directly on the backend:
no thread, bounded memory, cancellation, a second event loop, a forked child."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from faultproxy import FaultProxy, matching
from servers import S3Server

import objstore
from objstore._payload import AsyncPayload
from objstore.backend import CREATE, OVERWRITE, AsyncBackend, Update
from objstore.backends.s3 import S3Backend
from objstore.testing._helpers import pattern

MiB = 1 << 20
SMALL_PARTS: dict[str, Any] = {"multipart_threshold": 5 * MiB, "part_size": 5 * MiB}


@pytest.fixture(params=["moto_http", "rclone_s3"])
def server(request: pytest.FixtureRequest) -> S3Server:
    found: S3Server = request.getfixturevalue(request.param)
    return found


@pytest.fixture
def backend(server: S3Server) -> Iterator[S3Backend]:
    with server.bucket() as bucket:
        made = server.backend(bucket, **SMALL_PARTS)
        yield made
        made.close()


def payload(*chunks: bytes) -> AsyncPayload:
    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk
            await asyncio.sleep(0)

    return AsyncPayload(source(), None)


async def read_all(backend: S3Backend, key: str, **range_: Any) -> bytes:
    stream = await backend.aget(key, offset=range_.get("offset", 0), length=range_.get("length"))
    parts = []
    while chunk := await stream.read(1 << 20):
        parts.append(chunk)
    await stream.aclose()
    return b"".join(parts)


def put_args(**more: Any) -> dict[str, Any]:
    return {"content_type": "application/x-test", "metadata": {"m": "é"}, "mode": OVERWRITE, **more}


def test_the_native_backend_is_an_async_backend(backend: S3Backend) -> None:
    assert backend.native_async and isinstance(backend, AsyncBackend)


def test_every_async_method_without_a_thread(backend: S3Backend) -> None:
    async def main() -> None:
        threads = threading.active_count()
        info = await backend.aput("a/k", payload(b"hello ", b"world"), **put_args())
        assert (await backend.astat("a/k")).etag == info.etag
        assert await read_all(backend, "a/k") == b"hello world"
        assert await read_all(backend, "a/k", offset=6, length=3) == b"wor"
        copied = await backend.acopy("a/k", "b", mode=OVERWRITE)
        assert copied.content_type == "application/x-test" and copied.metadata == {"m": "é"}
        keys = [item.key async for item in backend.alist("", delimiter="/", start_after=None)]
        assert keys == ["a/", "b"]
        await backend.adelete("b")
        await backend.adelete_many(["a/k", "gone"])
        assert [item async for item in backend.alist("", delimiter=None, start_after=None)] == []
        with pytest.raises(objstore.NotFoundError):
            await backend.astat("a/k")
        assert threading.active_count() == threads  # everything ran on the loop

    asyncio.run(main())


def test_async_multipart_upload_in_bounded_memory(backend: S3Backend, server: S3Server) -> None:
    held: list[int] = []

    async def source() -> AsyncIterator[bytes]:
        for i in range(23):
            held.append(i)
            yield pattern(MiB, seed=i)

    async def main() -> None:
        info = await backend.aput("big", AsyncPayload(source(), None), **put_args())
        assert info.size == 23 * MiB
        assert (await backend.astat("big")).etag == info.etag
        assert await read_all(backend, "big") == b"".join(pattern(MiB, seed=i) for i in range(23))

    asyncio.run(main())
    assert server.pending_uploads(backend.bucket) == []


def test_a_failing_async_source_aborts_the_upload(backend: S3Backend, server: S3Server) -> None:
    class SourceBrokeError(Exception):
        pass

    async def failing() -> AsyncIterator[bytes]:
        yield pattern(11 * MiB)
        raise SourceBrokeError

    async def main() -> None:
        with pytest.raises(SourceBrokeError):
            await backend.aput("k", AsyncPayload(failing(), None), **put_args())

    asyncio.run(main())
    assert server.pending_uploads(backend.bucket) == []


def test_a_cancelled_upload_leaves_the_old_object_and_no_upload(
    backend: S3Backend, server: S3Server
) -> None:
    async def slow() -> AsyncIterator[bytes]:
        yield pattern(6 * MiB)
        await asyncio.sleep(30)
        yield b"never"

    async def main() -> None:
        await backend.aput("k", payload(b"old"), **put_args())
        task = asyncio.create_task(backend.aput("k", AsyncPayload(slow(), None), **put_args()))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await read_all(backend, "k") == b"old"

    asyncio.run(main())
    assert server.pending_uploads(backend.bucket) == []


def test_conditional_async_writes(moto_http: S3Server) -> None:
    with moto_http.bucket() as bucket:
        backend = moto_http.backend(bucket)

        async def main() -> None:
            first = await backend.aput("k", payload(b"1"), **put_args(mode=CREATE))
            with pytest.raises(objstore.PreconditionFailedError):
                await backend.aput("k", payload(b"2"), **put_args(mode=CREATE))
            second = await backend.aput("k", payload(b"2"), **put_args(mode=Update(first.etag)))
            with pytest.raises(objstore.PreconditionFailedError):
                await backend.aput("k", payload(b"3"), **put_args(mode=Update(first.etag)))
            assert (await backend.astat("k")).etag == second.etag

        asyncio.run(main())
        backend.close()


def test_a_second_event_loop_gets_its_own_session(backend: S3Backend) -> None:
    asyncio.run(backend.aput("k", payload(b"first loop"), **put_args()))
    assert asyncio.run(read_all(backend, "k")) == b"first loop"  # another asyncio.run
    result: list[bytes] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(read_all(backend, "k"))))
    thread.start()
    thread.join()
    assert result == [b"first loop"]


def test_async_reads_resume_through_a_dropped_connection(moto_http: S3Server) -> None:
    content = pattern(3 * MiB)
    port = int(moto_http.endpoint_url.rsplit(":", 1)[1])
    with moto_http.bucket() as bucket, FaultProxy(port) as proxy:
        backend = moto_http.backend(bucket, endpoint_url=proxy.url)

        async def main() -> None:
            info = await backend.aput("k", payload(content), **put_args())
            proxy.arm("status", matching("GET"), times=2)  # a 503 storm, retried
            assert await read_all(backend, "k") == content
            proxy.arm("reset_answer", matching("GET"), after=MiB)
            stream = await backend.aget("k", offset=0, length=None)
            with pytest.raises(objstore.UnavailableError):
                while await stream.read(MiB):
                    pass
            resumed = await backend.aget("k", offset=MiB, length=None, if_match=info.etag)
            assert len(await resumed.read(4 * MiB)) > 0
            await resumed.aclose()

        asyncio.run(main())
        backend.close()


@pytest.mark.skipif(sys.platform == "win32", reason="needs os.fork")
def test_a_store_made_before_fork_works_in_the_child(moto_http: S3Server) -> None:
    with moto_http.bucket() as bucket, objstore.Store(moto_http.backend(bucket)) as store:
        store.put("k", b"parent")
        backend: S3Backend = store._backend  # type: ignore[assignment]
        asyncio.run(backend.aput("a", payload(b"parent async"), **put_args()))
        pid = os.fork()
        if pid == 0:  # the child: pools and sessions are rebuilt, not shared
            code = 1
            try:
                store.put("child", b"from the child")
                async_ok = asyncio.run(read_all(backend, "a")) == b"parent async"
                code = 0 if store.get("k") == b"parent" and async_ok else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert store.get("child") == b"from the child"  # the parent's pool still works
        assert asyncio.run(read_all(backend, "a")) == b"parent async"


# -- parallel ranged reads -----------------------------------------------------------------------


def test_big_reads_go_in_parallel_ranges_pinned_to_the_etag(moto_http: S3Server) -> None:
    content = pattern(23 * MiB)
    port = int(moto_http.endpoint_url.rsplit(":", 1)[1])
    gets = iter(range(100))
    third_range = lambda method, path: method == "GET" and next(gets) == 2  # noqa: E731
    with moto_http.bucket() as bucket, FaultProxy(port) as proxy:
        backend = moto_http.backend(bucket, endpoint_url=proxy.url, **SMALL_PARTS)
        with objstore.Store(backend) as store:
            info = store.put("big", content)
            proxy.seen.clear()
            assert store.get("big") == content
            ranged = [s.headers for s in proxy.seen if s.method == "GET"]
            assert len(ranged) == 5  # 5 MiB parts
            assert all(h.get("if-match") == f'"{info.etag}"' for h in ranged[1:])
            assert b"".join(store.get_stream("big", offset=3, chunk_size=MiB)) == content[3:]
            proxy.arm("reset_answer", third_range, after=1000)  # a range fails: resumed
            assert store.get("big") == content
            assert asyncio.run(read_all(backend, "big")) == content
            assert (
                asyncio.run(read_all(backend, "big", offset=MiB, length=20 * MiB))
                == (content[MiB : 21 * MiB])
            )
        assert proxy.fired


def test_a_small_range_is_one_request(moto_http: S3Server) -> None:
    port = int(moto_http.endpoint_url.rsplit(":", 1)[1])
    with moto_http.bucket() as bucket, FaultProxy(port) as proxy:
        backend = moto_http.backend(bucket, endpoint_url=proxy.url, **SMALL_PARTS)
        with objstore.Store(backend) as store:
            store.put("big", pattern(23 * MiB))
            proxy.seen.clear()
            assert len(store.get("big", offset=MiB, length=12 * MiB)) == 12 * MiB
            assert [s.method for s in proxy.seen] == ["GET"]


def test_holding_more_streams_than_connections_never_blocks(moto_http: S3Server) -> None:
    with moto_http.bucket() as bucket:
        backend = moto_http.backend(bucket, max_connections=2)
        with objstore.Store(backend) as store:
            for i in range(5):
                store.put(f"k{i}", b"x" * 100)
            held = [store.get_stream(f"k{i}", chunk_size=10) for i in range(5)]  # 5 open
            assert [next(stream) for stream in held] == [b"x" * 10] * 5
            for stream in held:
                stream.close()

        async def main() -> None:
            streams = [await backend.aget(f"k{i}", offset=0, length=None) for i in range(5)]
            assert [await s.read(10) for s in streams] == [b"x" * 10] * 5
            for stream in streams:
                await stream.aclose()
            await backend.aclose()

        asyncio.run(main())


def test_host_names_are_resolved_without_the_loops_default_executor(
    moto_http: S3Server,
) -> None:
    """aiohttp's resolver would call the loop's getaddrinfo, in its default executor,
    which objstore never uses: lookups go to threads of the transport's own."""
    from concurrent.futures import ThreadPoolExecutor

    class Refusing(ThreadPoolExecutor):
        def submit(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            raise AssertionError("the loop's default executor was used")

    endpoint = moto_http.endpoint_url.replace("127.0.0.1", "localhost")
    with moto_http.bucket() as bucket:
        backend = moto_http.backend(bucket, endpoint_url=endpoint)

        async def main() -> None:
            asyncio.get_running_loop().set_default_executor(Refusing())
            store = objstore.AsyncStore(backend)
            await store.put("named", b"looked up")
            assert await store.get("named") == b"looked up"
            assert any(t.name.startswith("objstore-dns") for t in threading.enumerate())
            await store.aclose()

        asyncio.run(main())
