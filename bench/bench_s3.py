#!/usr/bin/env python3
"""Benchmark objstore's S3 backend against raw boto3, s3fs, obstore and opendal on loopback S3.

Every contestant does the same jobs against one loopback server (``rclone serve
s3``, or moto's server with ``--server moto``), each in a bucket of its own:
many small puts, gets, stats, deletes and presigns, a listing, then a big upload
from a file and a big download to a file, reported as ratios to plain boto3
(``raw``; for the big transfers, boto3's transfer manager). s3fs runs in the
side virtualenv (``side_worker.py``). Run from the repository root (``--quick``
for a smoke test); bench/README.md explains the options and every column.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _harness import (
    KIB,
    MIB,
    RAW,
    Results,
    Row,
    Runner,
    Workload,
    bullets,
    flat_keys,
    make_data,
    make_source_file,
    rate_table,
    ratio_table,
    table,
)
from _loopback import LoopbackBench, bucket_name
from _peers import Adapter, Listing, ObjstoreCalls, ObstoreCalls, OpendalCalls, check_stored

from objstore._defaults import MAX_CONCURRENCY, MULTIPART_THRESHOLD, PART_SIZE

OBJECT_SIZE = 4 * KIB
RAW_TM = "raw (TM, objstore's sizes)"  # the transfer manager with objstore's part sizes
# the second transfer-manager baseline: objstore's own S3 defaults
OBJSTORE_SIZES = {
    "multipart_threshold": MULTIPART_THRESHOLD,
    "multipart_chunksize": PART_SIZE,
    "max_concurrency": MAX_CONCURRENCY,
}
SMALL = ("put", "get", "stat", "delete", "list", "presign")
TM_NOTES = {
    RAW: "raw = TransferManager, defaults (8 MiB parts, 10 threads)",
    RAW_TM: f"raw = TransferManager, objstore's sizes ({PART_SIZE // MIB} MiB parts, "
    f"{MAX_CONCURRENCY} threads, {MULTIPART_THRESHOLD // MIB} MiB threshold)",
}
# issue 10's targets for objstore: (workload, baseline, minimum ratio, the baseline's name)
TARGETS = [
    *((wid, RAW, minimum, "boto3 client") for wid, minimum in
      (("put", 1.5), ("get", 3.0), ("stat", 3.0), ("delete", 1.5))),
    *((wid, "obstore", 0.8, "obstore") for wid in ("put", "get", "stat", "delete")),
    ("list", "obstore", 1.0, "obstore"),
    ("presign", RAW, 20.0, "boto3 client"),
    *((wid, base, 1.0, which) for wid in ("put-file", "get-file")
      for base, which in ((RAW, "TM defaults"), (RAW_TM, "TM, objstore's sizes"))),
]  # fmt: skip
NOTES = (
    "Cells: ratio = raw median / contestant median (>1 = faster than raw), then the "
    "contestant's median time. raw is plain boto3 client calls for the small objects, "
    "and boto3's transfer manager (upload_file / download_file) for the big transfers.",
    "‡ (information only): objstore with nested_keys=true, which skips the probes the rclone "
    "preset makes before each put (a listing) and delete (a HEAD) to detect keys rclone cannot "
    "hold side by side (a and a/b). Not safe on rclone; it is what objstore costs on servers "
    "that need no probes (AWS, MinIO, ...).",
)


class Boto3Calls(Adapter):
    """Plain boto3 client calls; the big transfers by its transfer manager, with ``transfer``."""

    def __init__(self, client: Any, bucket: str, transfer: Any) -> None:
        self.client, self.bucket, self.transfer = client, bucket, transfer

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

    def list(self) -> Listing:
        found = total = 0
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                found += bool(item["Key"])
                total += item["Size"]
        return found, total

    def presign(self, key: str) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        url: str = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=3600)
        return url

    def put_file(self, key: str, src: Path) -> None:
        self.client.upload_file(str(src), self.bucket, key, Config=self.transfer)

    def get_file(self, key: str, dst: Path) -> None:
        self.client.download_file(self.bucket, key, str(dst), Config=self.transfer)

    def close(self) -> None:
        self.client.close()


def file_digest(path: Path) -> str:
    with open(path, "rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


class S3Bench(LoopbackBench):
    title = "objstore S3 benchmark"
    stem = "s3-{server}"
    counts = (
        ("rounds", 5, 1, "counted rounds"),
        ("objects", 500, 50, "small objects per workload"),
        ("file_mib", 256, 32, "MiB of the big file"),
    )
    contestants = ("objstore", "objstore-boto3", "objstore-noprobe", "s3fs", "obstore", "opendal")
    defaults = contestants
    side_peers = ("s3fs",)
    setting = f"objects of {OBJECT_SIZE // KIB} KiB; "

    @contextlib.contextmanager
    def setup(self) -> Iterator[None]:
        self.data = make_data(self.args.seed, OBJECT_SIZE)
        self.source = make_source_file(self.scratch, self.args.file_mib * MIB)
        self.source_digest = file_digest(self.source)
        with super().setup():
            yield

    def open(self, name: str, prefix: str) -> Adapter:
        """``name``'s contestant in a new bucket (bench/README.md: the setup of each)."""
        bucket, server = self.buckets.new(bucket_name(prefix, name)), self.loopback
        if name in (RAW, RAW_TM):
            from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]

            sizes = OBJSTORE_SIZES if name == RAW_TM else {}
            return Boto3Calls(server.boto3_client(), bucket, TransferConfig(**sizes))
        if name.startswith("objstore"):
            import objstore

            return ObjstoreCalls(objstore.open(server.objstore_config(bucket, name)))
        if name == "s3fs":
            return self.side_adapter(name, bucket)
        if name == "obstore":
            return ObstoreCalls(server.obstore_store(bucket), reader=False)
        import opendal

        keys = {
            "access_key_id": server.access_key_id,
            "region": server.region,
            "secret_access_key": server.secret_access_key,
        }
        return OpendalCalls(
            opendal.Operator(
                "s3",
                bucket=bucket,
                endpoint=server.endpoint_url,
                disable_config_load="true",
                disable_ec2_metadata="true",
                **keys,
            )
        )

    def round(self, runner: Runner, number: int) -> None:
        prefix = f"r{number}-{self.args.seed % 10_000}"
        self.small(runner, number, f"{prefix}-small")
        self.big(runner, number, f"{prefix}-big")

    def small(self, runner: Runner, number: int, prefix: str) -> None:
        """put, get, stat, list, presign, delete of small objects, one request after another."""
        n = self.args.objects if number else min(self.args.objects, 50)
        keys, nbytes, what = flat_keys(n), n * OBJECT_SIZE, f"{n} x {OBJECT_SIZE // KIB} KiB"
        adapters: dict[str, Adapter] = {}

        def phase(kind: str, label: str, expect: object = None, memory: int = 0) -> None:
            names = [n for n in adapters if kind != "presign" or n == RAW or "objstore" in n]
            jobs = {name: adapters[name].job(kind, keys, self.data) for name in names}
            runner.phase(Workload(kind, label, n, fresh_memory=memory), jobs, expect)

        try:
            for name in (RAW, *self.names):
                adapters[name] = self.open(name, prefix)
            phase("put", f"put {what}", memory=2 * nbytes)
            if number == 0:
                check_stored(adapters, keys[-1], self.data)
            phase("get", f"get {what}", nbytes)
            phase("stat", f"stat {n}", nbytes)
            phase("list", f"list {n}", (n, nbytes))
            phase("presign", f"presign {n} GET URLs")
            phase("delete", f"delete {n}")
            for name in adapters:
                if left := self.buckets.count(bucket_name(prefix, name)):
                    raise AssertionError(f"{name} left {left} objects after deleting every key")
        finally:
            for name, adapter in adapters.items():
                adapter.close()
                with contextlib.suppress(Exception):
                    self.buckets.remove(bucket_name(prefix, name))

    def big(self, runner: Runner, number: int, prefix: str) -> None:
        """Upload, then download, one contestant after another in a shuffled order."""
        size = self.args.file_mib * MIB
        # rclone keeps the parts, then writes the object: twice the size in new pages
        up = Workload("put-file", f"put {size // MIB} MiB from a file", 0, size, 2 * size)
        down = Workload("get-file", f"get {size // MIB} MiB to a file", 0, size, size)
        for name in runner.shuffled([RAW, RAW_TM, *self.names]):
            adapter = self.open(name, prefix)
            dst = self.scratch / f"download-{bucket_name(prefix, name)}.bin"
            try:
                runner.run(up, name, adapter.job("put_file", ["big-file"], path=self.source))
                runner.run(down, name, adapter.job("get_file", ["big-file"], path=dst), size)
                if number == 0 and file_digest(dst) != self.source_digest:
                    raise AssertionError(f"{name} downloaded other bytes than it uploaded")
            finally:
                dst.unlink(missing_ok=True)
                adapter.close()
                self.buckets.remove(bucket_name(prefix, name))  # frees the server's copy at once

    def report(self, results: Results) -> list[tuple[str, str]]:
        rows = [Row(wid, results.workloads[wid].label) for wid in SMALL if wid in results.workloads]
        for wid in ("put-file", "get-file"):
            if wid in results.workloads:
                rows += [
                    Row(wid, f"{results.workloads[wid].label}, {TM_NOTES[base]}", base)
                    for base in (RAW, RAW_TM)
                ]
        notes = NOTES if self.info_only in self.names else NOTES[:1]
        ratios = ratio_table(results, rows, self.names, self.mark) + "\n\n" + bullets(notes)
        everyone = (RAW, RAW_TM, *self.names)
        return [
            ("Time, as a ratio to raw boto3", ratios),
            ("Throughput (medians)", rate_table(results, results.workloads, everyone, missing="—")),
            ("objstore against the targets", self.targets(results)),
        ]

    def targets(self, results: Results) -> str:
        names = [name for name in ("objstore", self.info_only) if name in self.names]
        body = []
        for wid, baseline, minimum, which in TARGETS if names else ():
            if not (base := results.median(wid, baseline)):
                continue
            cells = [results.workloads[wid].label, which, f"≥ {minimum:.1f}x"]
            for name in names:
                ratio = base / median if (median := results.median(wid, name)) else 0.0
                verdict = "met" if ratio >= minimum else "missed"
                cells.append(f"{ratio:.2f}x {verdict}{self.mark(wid, name)}" if ratio else "n/a")
            body.append(cells)
        return table(["workload", "baseline", "target", *names], body, "llr" + "r" * len(names))


if __name__ == "__main__":
    sys.exit(S3Bench().main())
