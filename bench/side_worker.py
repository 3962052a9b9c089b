#!/usr/bin/env python3
"""The benchmarks' side process: runs s3fs and aioboto3, which cannot share the dev virtualenv.

aioboto3 and s3fs (through aiobotocore) pin an older botocore than the boto3
objstore is developed with, so they live in their own virtualenv,
``bench/.venv-aioboto3`` (bench/README.md says how to make it).
``bench_s3.py`` and ``bench_async.py`` start this script with that
virtualenv's Python and speak a tiny protocol over its stdin and stdout: one
JSON object per line each way.

Requests (``cmd``):

- ``hello``: the Python and library versions here.
- ``open``: a client for ``contestant`` (``s3fs`` or ``aioboto3``) on ``server``
  and ``bucket``; answers a ``handle``.
- ``run``: one timed job on a handle. The job's data is made here from
  ``seed`` and ``size`` (the same bytes as the main script's), so only keys
  travel. The answer has ``seconds`` (measured here, around the job only),
  ``result`` (for the checks) and, for the async jobs, ``lag``: the worst
  event-loop lag seen during the job (see :class:`LagProbe`).
- ``digest``: SHA-256 of one object's content (checks, not timed).
- ``close``: drop a handle; ``quit``: exit.

An error answers ``{"error": "..."}`` and the process stays up. Only the
standard library (and ``_harness.py``, which only uses the standard library)
is imported at the top, so ``bench_async.py`` can import :class:`LagProbe`
from here and measure the same way; the object bytes come from
``_harness.make_data`` in both processes.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import importlib.metadata
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from _harness import botocore_settings, make_data, timed_call


class LagProbe:
    """Measures how late the event loop wakes a task that sleeps ``interval`` in a loop.

    While the probe runs, it sleeps 5 ms again and again and records the worst
    overshoot: how much later than asked it was woken. Work that holds the loop
    (a blocking call, a long stretch of Python without an ``await``) shows up
    as lag.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.worst = 0.0
        self.wakeups = 0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        clock, interval = time.perf_counter, self.interval
        while True:
            start = clock()
            await asyncio.sleep(interval)
            late = clock() - start - interval
            self.wakeups += 1
            self.worst = max(self.worst, late)

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        await asyncio.sleep(0)  # let it take its first timestamp

    async def stop(self) -> float:
        """Stop probing; return the worst lag in seconds."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        return self.worst


async def timed_batch(batch: Callable[[], Awaitable[object]]) -> tuple[float, float, object]:
    """Run one batch with the lag probe on; return seconds, worst lag and its result."""
    gc.collect()
    probe = LagProbe()
    await probe.start()
    start = time.perf_counter()
    out = await batch()
    seconds = time.perf_counter() - start
    return seconds, await probe.stop(), out


# -- s3fs (synchronous jobs, as bench_s3.py times them) ----------------------------------------


class S3fsContestant:
    """s3fs with the same botocore settings as every boto3-based contestant."""

    def __init__(self, server: dict[str, str], bucket: str) -> None:
        import s3fs  # type: ignore[import-not-found]

        self.bucket = bucket
        self.fs = s3fs.S3FileSystem(
            key=server["access_key_id"],
            secret=server["secret_access_key"],
            endpoint_url=server["endpoint_url"],
            client_kwargs={"region_name": server["region"]},
            config_kwargs=botocore_settings(),
            skip_instance_cache=True,  # a fresh instance per bucket
            use_listings_cache=False,  # stat must ask the server, not a listing seen before
        )

    def _path(self, key: str) -> str:
        return f"{self.bucket}/{key}"

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        seconds, out = timed_call(self._job(request))
        return {"seconds": seconds, "result": out}

    def _job(self, request: dict[str, Any]) -> Callable[[], object]:
        kind, keys = request["job"], request["keys"]
        paths = [self._path(key) for key in keys]
        if kind == "put_all":
            data = make_data(request["seed"], request["size"])
            return lambda: self._put_all(paths, data)
        if kind == "get_all":
            return lambda: sum(len(self.fs.cat_file(path)) for path in paths)
        if kind == "stat_all":
            return lambda: sum(int(self.fs.info(path)["size"]) for path in paths)
        if kind == "delete_all":
            return lambda: self._delete_all(paths)
        if kind == "list":
            return self._list
        if kind == "put_file":
            return lambda: self.fs.put_file(request["path"], self._path(request["key"]))
        if kind == "get_file":
            return lambda: self._get_file(request["key"], request["path"])
        raise ValueError(f"unknown job {kind!r}")

    def _put_all(self, paths: list[str], data: bytes) -> None:
        for path in paths:
            self.fs.pipe_file(path, data)

    def _delete_all(self, paths: list[str]) -> None:
        for path in paths:
            self.fs.rm_file(path)

    def _list(self) -> list[int]:
        found = total = 0
        for path, info in self.fs.find(self.bucket, detail=True).items():
            found += bool(path)
            total += int(info["size"])
        return [found, total]

    def _get_file(self, key: str, dst: str) -> int:
        import os

        self.fs.get_file(self._path(key), dst)
        return os.path.getsize(dst)

    def digest(self, key: str) -> str:
        return hashlib.sha256(self.fs.cat_file(self._path(key))).hexdigest()

    def close(self) -> None:
        return None


# -- aioboto3 (concurrent batches, as bench_async.py times them) -------------------------------


class Aioboto3Contestant:
    """An aioboto3 client; ``pool`` is aiobotocore's ``max_pool_connections`` (default 10)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, server: dict[str, str], bucket: str,
                 pool: int | None) -> None:  # fmt: skip
        self.loop = loop
        self.bucket = bucket
        self.client: Any = loop.run_until_complete(self._open(server, pool))

    async def _open(self, server: dict[str, str], pool: int | None) -> Any:
        import aioboto3  # type: ignore[import-not-found]
        from aiobotocore.config import AioConfig  # type: ignore[import-not-found]

        extra = {"max_pool_connections": pool} if pool else {}
        self._context = aioboto3.Session().client(
            "s3",
            endpoint_url=server["endpoint_url"],
            region_name=server["region"],
            aws_access_key_id=server["access_key_id"],
            aws_secret_access_key=server["secret_access_key"],
            config=AioConfig(**botocore_settings(), **extra),
        )
        return await self._context.__aenter__()

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        kind, keys = request["job"], request["keys"]
        if kind == "aput":
            data = make_data(request["seed"], request["size"])
            seconds, lag, out = self.loop.run_until_complete(
                timed_batch(lambda: self._put_all(keys, data))
            )
        elif kind == "aget":
            seconds, lag, out = self.loop.run_until_complete(
                timed_batch(lambda: self._get_all(keys))
            )
        else:
            raise ValueError(f"unknown job {kind!r}")
        return {"seconds": seconds, "lag": lag, "result": out}

    async def _put_all(self, keys: list[str], data: bytes) -> None:
        put = self.client.put_object
        await asyncio.gather(*(put(Bucket=self.bucket, Key=key, Body=data) for key in keys))

    async def _get_all(self, keys: list[str]) -> int:
        sizes = await asyncio.gather(*(self._get(key) for key in keys))
        return sum(sizes)

    async def _get(self, key: str) -> int:
        answer = await self.client.get_object(Bucket=self.bucket, Key=key)
        async with answer["Body"] as body:
            return len(await body.read())

    def digest(self, key: str) -> str:
        async def content() -> bytes:
            answer = await self.client.get_object(Bucket=self.bucket, Key=key)
            async with answer["Body"] as body:
                data: bytes = await body.read()
                return data

        return hashlib.sha256(self.loop.run_until_complete(content())).hexdigest()

    def close(self) -> None:
        self.loop.run_until_complete(self._context.__aexit__(None, None, None))


# -- the protocol ------------------------------------------------------------------------------


class Worker:
    """Answers one request per line until ``quit`` or the end of its input."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.handles: dict[str, S3fsContestant | Aioboto3Contestant] = {}
        self._next = 0

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.get("cmd")
        if cmd == "hello":
            return {"python": sys.version.split()[0], "libraries": versions()}
        if cmd == "open":
            return {"handle": self._open(request)}
        if cmd == "run":
            return self.handles[request["handle"]].run(request)
        if cmd == "digest":
            return {"digest": self.handles[request["handle"]].digest(request["key"])}
        if cmd == "close":
            self.handles.pop(request["handle"]).close()
            return {}
        raise ValueError(f"unknown request {cmd!r}")

    def _open(self, request: dict[str, Any]) -> str:
        contestant, server, bucket = request["contestant"], request["server"], request["bucket"]
        opened: S3fsContestant | Aioboto3Contestant
        if contestant == "s3fs":
            opened = S3fsContestant(server, bucket)
        elif contestant == "aioboto3":
            opened = Aioboto3Contestant(self.loop, server, bucket, request.get("pool"))
        else:
            raise ValueError(f"unknown contestant {contestant!r}")
        self._next += 1
        handle = f"{contestant}-{self._next}"
        self.handles[handle] = opened
        return handle

    def close(self) -> None:
        for opened in self.handles.values():
            opened.close()
        self.loop.close()


def versions() -> dict[str, str]:
    found = {}
    for name in ("s3fs", "aioboto3", "aiobotocore", "botocore", "aiohttp"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def serve(requests: TextIO, answers: TextIO) -> None:
    worker = Worker()
    try:
        for line in requests:
            request = json.loads(line)
            if request.get("cmd") == "quit":
                break
            try:
                answer = worker.handle(request)
            except Exception as exc:
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            answers.write(json.dumps(answer) + "\n")
            answers.flush()
    finally:
        worker.close()


def main() -> int:
    answers = sys.stdout
    sys.stdout = sys.stderr  # nothing a library prints may corrupt the protocol
    serve(sys.stdin, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
