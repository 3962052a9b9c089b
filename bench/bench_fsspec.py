#!/usr/bin/env python3
"""Benchmark objstore's fsspec adapter against s3fs, reading from one loopback S3 server.

One bucket is filled once with plain boto3 (500 objects of 4 KiB, one of 256
MiB), and both filesystems read them: ``cat_file`` of every small object,
``get_file`` of the big one to a local file, and ``open`` + ``read(1 MiB)`` to
its end. s3fs runs in the side virtualenv (``side_worker.py``). The report gives
``s3fs time / objstore time`` (above 1: the adapter is faster) against the 1.2x
target; bench/README.md explains the options.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from _harness import KIB, MIB, Results, Runner, Workload, make_data, make_source_file, table
from _loopback import LoopbackBench
from _peers import Adapter, FsspecCalls

TARGET = 1.2
BASELINE = "s3fs"
OBJECT_SIZE = 4 * KIB


class FsspecBench(LoopbackBench):
    title = "objstore's fsspec adapter vs s3fs"
    stem = "fsspec-{server}"
    counts = (
        ("rounds", 5, 1, "counted rounds"),
        ("objects", 500, 500, "small objects"),
        ("big_mib", 256, 64, "MiB of the big object"),
    )
    baseline = BASELINE
    always = (BASELINE,)  # beside objstore's adapter, which runs in this process
    setting = f"small objects of {OBJECT_SIZE // KIB} KiB; "
    packages = ("objstore", "fsspec")
    side_peers = (BASELINE,)
    adapters: dict[str, Adapter]

    @contextlib.contextmanager
    def setup(self) -> Iterator[None]:
        """The server, the bucket filled once (not timed), both filesystems on it."""
        if BASELINE not in self.names:
            raise SystemExit("s3fs is needed: bench/README.md, the side virtualenv")
        with super().setup():
            import fsspec

            bucket = self.buckets.new(f"fsspec-{self.args.seed % 10_000}")
            client = self.buckets.client
            self.keys = [f"small/obj-{i:05d}" for i in range(1, self.args.objects + 1)]
            data = make_data(self.args.seed, OBJECT_SIZE)
            for key in self.keys:
                client.put_object(Bucket=bucket, Key=key, Body=data)
            source = make_source_file(self.scratch, self.args.big_mib * MIB)
            client.upload_file(str(source), bucket, "big.bin")
            source.unlink()
            target = {"backend": "s3", "s3": self.loopback.objstore_section(bucket)}
            self.adapters = {
                "objstore": FsspecCalls(fsspec.filesystem("objstore", target=target), ""),
                BASELINE: self.side_adapter(BASELINE, bucket),
            }
            try:
                yield
            finally:
                self.adapters.pop(BASELINE).close()

    def round(self, runner: Runner, _number: int) -> None:
        small, big, dst = len(self.keys), self.args.big_mib * MIB, self.scratch / "down.bin"
        cat = Workload("cat", f"cat {small} x {OBJECT_SIZE // KIB} KiB", small)
        get_file = Workload("get_file", f"get_file {big // MIB} MiB", nbytes=big, fresh_memory=big)
        read = Workload("read", f"read {big // MIB} MiB", nbytes=big)
        big_keys = ["big.bin"]
        for workload, kind, keys, expect in (
            (cat, "get", self.keys, small * OBJECT_SIZE),
            (get_file, "get_file", big_keys, big),
            (read, "read", big_keys, big),
        ):
            jobs = {name: a.job(kind, keys, path=dst) for name, a in self.adapters.items()}
            runner.phase(workload, jobs, expect)
            dst.unlink(missing_ok=True)

    def report(self, results: Results) -> list[tuple[str, str]]:
        body = []
        for wid, workload in results.workloads.items():
            ours, theirs = results.median(wid, "objstore"), results.median(wid, BASELINE)
            if ours and theirs:
                ratio = theirs / ours
                verdict = "met" if ratio >= TARGET else "missed"
                cells = [f"{ours:.3f} s", f"{theirs:.3f} s", f"{ratio:.2f}x"]
                body.append([workload.label, *cells, f"≥ {TARGET}x: {verdict}"])
        head = ["job", "objstore (median)", "s3fs (median)", "s3fs / objstore", "target"]
        return [("objstore's adapter against s3fs", table(head, body, "lllll"))]


if __name__ == "__main__":
    sys.exit(FsspecBench().main())
