#!/usr/bin/env python3
"""The benchmarks' side process: s3fs and aioboto3, which pin an older botocore than objstore's.

It runs in ``bench/.venv-aioboto3`` (bench/README.md), started by
``_loopback.SideProcess``: one JSON request per line on stdin, one answer per
line on stdout. Requests (``cmd``): ``hello`` (versions); ``open`` a client for
``contestant`` on ``server`` and ``bucket`` (answers a ``handle``); ``run`` one
``job`` (``_peers.Adapter.job``: kind, keys, data size, path), timed here, on
data made here from the ``seed`` given at ``open``, the same bytes as the main
script's (answers ``seconds``, ``result``, ``extra``); ``digest`` of an object;
``close`` a handle; ``quit``. An error answers ``{"error": ...}``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from _harness import make_data, package_version, timed
from _peers import BOTOCORE, Adapter, AsyncCalls, FsspecCalls


def open_s3fs(server: dict[str, str], bucket: str) -> Adapter:
    """s3fs with the settings of every botocore-based contestant."""
    import s3fs  # type: ignore[import-not-found]

    fs = s3fs.S3FileSystem(
        key=server["access_key_id"],
        secret=server["secret_access_key"],
        endpoint_url=server["endpoint_url"],
        client_kwargs={"region_name": server["region"]},
        config_kwargs=dict(BOTOCORE),
        skip_instance_cache=True,  # a fresh instance per bucket
        use_listings_cache=False,  # stat must ask the server, not a listing seen before
    )
    return FsspecCalls(fs, bucket)


def open_aioboto3(
    loop: asyncio.AbstractEventLoop, server: dict[str, str], bucket: str, pool: int | None
) -> Adapter:
    """An aioboto3 client; ``pool`` is aiobotocore's ``max_pool_connections`` (default 10)."""
    import aioboto3  # type: ignore[import-not-found]
    from aiobotocore.config import AioConfig  # type: ignore[import-not-found]

    extra = {"max_pool_connections": pool} if pool else {}
    context = aioboto3.Session().client(
        "s3",
        endpoint_url=server["endpoint_url"],
        region_name=server["region"],
        aws_access_key_id=server["access_key_id"],
        aws_secret_access_key=server["secret_access_key"],
        config=AioConfig(**BOTOCORE, **extra),
    )
    client = loop.run_until_complete(context.__aenter__())

    async def put(key: str, data: bytes) -> object:
        return await client.put_object(Bucket=bucket, Key=key, Body=data)

    async def get(key: str) -> bytes:
        answer = await client.get_object(Bucket=bucket, Key=key)
        async with answer["Body"] as body:
            data: bytes = await body.read()
            return data

    return AsyncCalls(loop, put, get, lambda: context.__aexit__(None, None, None))


class Worker:
    """The open handles, and the answer to each request."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.handles: dict[str, Adapter] = {}
        self.numbers = itertools.count(1)
        self.seeds: dict[str, int] = {}  # a handle's object bytes come from its seed

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request["cmd"]
        if cmd == "hello":
            names = ("s3fs", "aioboto3", "aiobotocore", "botocore", "aiohttp")
            found = {name: v for name in names if (v := package_version(name))}
            return {"python": sys.version.split()[0], "libraries": found}
        if cmd == "open":
            server, bucket, name = request["server"], request["bucket"], request["contestant"]
            handle = f"{name}-{next(self.numbers)}"
            self.seeds[handle] = request["seed"]
            if name == "s3fs":
                self.handles[handle] = open_s3fs(server, bucket)
            elif name == "aioboto3":
                self.handles[handle] = open_aioboto3(self.loop, server, bucket, request.get("pool"))
            else:
                raise ValueError(f"unknown contestant {name!r}")
            return {"handle": handle}
        adapter = self.handles[request["handle"]]
        if cmd == "run":
            kind, keys, size, path = request["job"]
            data = make_data(self.seeds[request["handle"]], size)
            run = timed(adapter.job(kind, keys, data, Path(path)))
            return {"seconds": run.seconds, "result": run.out, "extra": run.extra}
        if cmd == "digest":
            return {"digest": adapter.digest(request["key"])}
        if cmd == "close":
            self.handles.pop(request["handle"]).close()
            return {}
        raise ValueError(f"unknown request {cmd!r}")


def main() -> int:
    answers, sys.stdout = sys.stdout, sys.stderr  # nothing a library prints may reach the pipe
    worker = Worker()
    try:
        for line in sys.stdin:
            request = json.loads(line)
            if request.get("cmd") == "quit":
                break
            try:
                answer = worker.answer(request)
            except Exception as exc:
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            answers.write(json.dumps(answer) + "\n")
            answers.flush()
    finally:
        for adapter in worker.handles.values():
            adapter.close()
        worker.loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
