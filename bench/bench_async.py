#!/usr/bin/env python3
"""Benchmark objstore's ``AsyncStore`` on S3 against aioboto3 and obstore: concurrency and lag.

Each contestant runs batches of concurrent requests (``asyncio.gather``: 256
puts of 64 KiB, then 256 gets) on one loopback S3 server, each in a bucket of
its own, while a probe task on the same event loop records how late it wakes
up: the worst event-loop lag. Ratios are to aioboto3, which runs in the side
virtualenv (``side_worker.py``, which probes its own loop the same way). Run
from the repository root (``--quick`` for a smoke test); bench/README.md
explains the options and every column.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from _harness import (
    KIB,
    MIB,
    Results,
    Row,
    Runner,
    Workload,
    bullets,
    flat_keys,
    make_data,
    rate_table,
    ratio_table,
    table,
)
from _loopback import LoopbackBench, bucket_name
from _peers import Adapter, AsyncCalls, check_stored

BASELINE = "aioboto3"
OBJECT_SIZE = 64 * KIB
NOTES = (
    f"Ratios: {BASELINE} median time / contestant median time (>1 = more throughput than "
    f"{BASELINE}), then the contestant's median time for the whole batch.",
    "Lag: the worst lateness of a task that sleeps 5 ms in a loop on the same event loop during "
    "a batch; the median over the rounds, and the maximum of all rounds.",
    "‡ (information only): nested_keys=true, which skips the listing the rclone preset sends "
    "before each put to detect keys rclone cannot hold side by side (a and a/b). Not safe on "
    "rclone; it is what objstore costs on servers that need no probes.",
)
TARGET_HEAD = (
    "workload",
    "objstore configuration",
    "vs aioboto3 (≥ 1.5x)",
    "vs obstore (≥ 0.7x)",
    "worst lag (≤ 15 ms)",
    "met",
)


def fmt_rates(workload: Workload, seconds: float) -> str:
    return f"{workload.ops / seconds:.0f} ops/s, {workload.nbytes / MIB / seconds:.1f} MiB/s"


class AsyncBench(LoopbackBench):
    title = "objstore async benchmark"
    stem = "async-{server}"
    counts = (
        ("rounds", 10, 2, "counted rounds"),
        ("concurrency", 256, 32, "requests per batch"),
    )
    contestants = ("aioboto3-p64", "objstore", "objstore-boto3", "objstore-w4", "objstore-w8",
                   "objstore-w32", "objstore-w64", "objstore-noprobe", "obstore")  # fmt: skip
    defaults = ("objstore", "objstore-boto3", "objstore-noprobe", "obstore")
    baseline = BASELINE
    always = (BASELINE,)
    setting = f"objects of {OBJECT_SIZE // KIB} KiB; lag probe: 5 ms sleeps; "
    packages = ("objstore", "boto3")
    side_peers = (BASELINE, "aioboto3-p64")
    adapters: dict[str, Adapter]

    @contextlib.contextmanager
    def setup(self) -> Iterator[None]:
        """The server, then one bucket and one client per contestant for the whole run."""
        self.loop = asyncio.new_event_loop()
        self.keys = flat_keys(self.args.concurrency)
        self.data = make_data(self.args.seed, OBJECT_SIZE)
        self.adapters = {}
        try:
            with super().setup():
                try:
                    for name in self.names:
                        self.adapters[name] = self.open(name)
                    yield
                finally:
                    for adapter in self.adapters.values():
                        adapter.close()
        finally:
            self.loop.close()

    def open(self, name: str) -> Adapter:
        """``name``'s contestant in a new bucket (bench/README.md: the setup of each)."""
        bucket = self.buckets.new(bucket_name(f"async-{self.args.seed % 10_000}", name))
        if name in self.side_peers:
            return self.side_adapter(name, bucket, pool=64 if name.endswith("-p64") else None)
        if name.startswith("objstore"):
            import objstore

            store = objstore.open_async(self.loopback.objstore_config(bucket, name))
            return AsyncCalls(self.loop, store.put, store.get, store.aclose)
        import obstore

        store = self.loopback.obstore_store(bucket)

        async def get(key: str) -> Any:
            result = await obstore.get_async(store, key)
            return await result.bytes_async()  # obstore.Bytes: a zero-copy buffer

        return AsyncCalls(self.loop, lambda key, data: obstore.put_async(store, key, data), get)

    def round(self, runner: Runner, number: int) -> None:
        """A put phase, then a get phase: one batch per contestant, in a shuffled order."""
        self.phase(runner, "put")
        if number == 0:
            check_stored(self.adapters, self.keys[-1], self.data)
        self.phase(runner, "get", self.args.concurrency * OBJECT_SIZE)

    def phase(self, runner: Runner, kind: str, expect: int | None = None) -> None:
        n = self.args.concurrency
        label = f"{kind} {n} x {OBJECT_SIZE // KIB} KiB at once"
        jobs = {name: a.job(kind, self.keys, self.data) for name, a in self.adapters.items()}
        runner.phase(Workload(kind, label, n, n * OBJECT_SIZE), jobs, expect)

    def lag(self, results: Results, wid: str, name: str) -> str:
        """The median of the batches' worst lags, and their maximum."""
        if not (lags := results.values(wid, name, "lag")):
            return "n/a"
        return f"{statistics.median(lags) * 1e3:.1f} ms (max {max(lags) * 1e3:.1f} ms)"

    def report(self, results: Results) -> list[tuple[str, str]]:
        others = [name for name in self.names if name != BASELINE]
        rows = [Row(wid, workload.label, BASELINE) for wid, workload in results.workloads.items()]
        notes = NOTES if self.info_only in self.names else NOTES[:2]
        ratios = ratio_table(results, rows, others, self.mark, BASELINE) + "\n\n" + bullets(notes)
        lags = [
            [w.label, *(self.lag(results, wid, name) for name in self.names)]
            for wid, w in results.workloads.items()
        ]
        return [
            (f"Time, as a ratio to {BASELINE}", ratios),
            ("Throughput (medians)", rate_table(results, results.workloads, self.names, fmt_rates)),
            ("Worst event-loop lag during a batch", table(["workload", *self.names], lags)),
            ("objstore against the target", self.targets(results, others)),
        ]

    def targets(self, results: Results, others: Sequence[str]) -> str:
        """Issue 10's targets: at least 1.5x aioboto3's throughput and 0.7x obstore's, with a
        worst loop lag of at most 15 ms."""
        body = []
        for wid, workload in results.workloads.items():
            base, peer = results.median(wid, BASELINE), results.median(wid, "obstore")
            for name in (n for n in others if n.startswith("objstore")):
                if not (base and (median := results.median(wid, name))):
                    continue
                ratio, versus_peer = base / median, (peer / median if peer else 0.0)
                worst = max(results.values(wid, name, "lag"))
                met = ratio >= 1.5 and versus_peer >= 0.7 and worst <= 0.015
                cells = [f"{ratio:.2f}x", f"{versus_peer:.2f}x" if peer else "n/a"]
                cells += [self.lag(results, wid, name), "yes" if met else "no"]
                body.append([workload.label, name + self.mark(wid, name), *cells])
        return table(TARGET_HEAD, body, "llrrrl")


if __name__ == "__main__":
    sys.exit(AsyncBench().main())
