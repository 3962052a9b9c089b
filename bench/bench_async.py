#!/usr/bin/env python3
"""Benchmark objstore's ``AsyncStore`` on S3 against aioboto3 and obstore: concurrency and lag.

Each contestant runs batches of many concurrent requests (``asyncio.gather``)
on a loopback S3 server (``rclone serve s3`` by default, moto with
``--server moto``), each in a bucket of its own: 256 puts of 64 KiB, then 256
gets of them. While each batch runs, a probe task on the same event loop
sleeps 5 ms again and again and records how late it wakes up: the worst
event-loop lag. Rounds are interleaved (every round runs every batch for every
contestant, in a shuffled order) and medians are reported, as ratios to
aioboto3: ``ratio = aioboto3_time / contestant_time``, above 1 is faster.

aioboto3 pins an older botocore than objstore's boto3, so it runs in the side
virtualenv ``bench/.venv-aioboto3`` (bench/README.md says how to make it), in
a child process driven by ``bench/side_worker.py``, which times its batches
and probes its own event loop the same way; without that virtualenv aioboto3
is skipped with a note.

Run from the repository root:

    .venv/bin/python bench/bench_async.py            # full run (a few minutes)
    .venv/bin/python bench/bench_async.py --quick    # smoke test

bench/README.md explains the options and every column.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import importlib.metadata
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from _harness import (
    KIB,
    MIB,
    Results,
    Row,
    Workload,
    add_options,
    bullets,
    check,
    configure,
    contestant_names,
    flat_keys,
    header,
    importable,
    json_document,
    keep_available,
    load_average,
    make_data,
    make_scratch,
    new_parser,
    pick_seed,
    publish,
    rate_table,
    ratio_table,
    results_json,
    round_done,
    shuffled,
    table,
    wait_for_load,
)
from _loopback import (
    Buckets,
    Server,
    SideProcess,
    bucket_name,
    environment,
    running_server,
    side_available,
)
from side_worker import timed_batch

BASELINE = "aioboto3"


# -- contestants ------------------------------------------------------------------------------


class AsyncAdapter:
    """One library running the batches in its own bucket, on this process's event loop."""

    name = ""
    info_only = False  # a configuration shown for information, not a fair contestant

    def __init__(self, server: Server, bucket: str) -> None:
        self.server = server
        self.bucket = bucket

    async def put(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    async def get(self, key: str) -> int:
        """Read the object; return its length."""
        raise NotImplementedError

    async def content(self, key: str) -> bytes:
        raise NotImplementedError

    async def run(self, kind: str, keys: Sequence[str], data: bytes) -> tuple[float, float, object]:
        """One timed batch (``put`` or ``get`` of every key at once): seconds, worst lag, result."""
        if kind == "put":
            return await timed_batch(lambda: put_all(self, keys, data))
        return await timed_batch(lambda: get_all(self, keys))

    async def digest(self, key: str) -> str:
        return hashlib.sha256(await self.content(key)).hexdigest()

    async def close(self) -> None:
        return None


async def put_all(adapter: AsyncAdapter, keys: Sequence[str], data: bytes) -> None:
    await asyncio.gather(*(adapter.put(key, data) for key in keys))


async def get_all(adapter: AsyncAdapter, keys: Sequence[str]) -> int:
    return sum(await asyncio.gather(*(adapter.get(key) for key in keys)))


class ObjstoreAdapter(AsyncAdapter):
    """objstore's ``AsyncStore`` (``objstore.open_async``) with its default pool (16 workers)."""

    name = "objstore"
    max_workers: int | None = None  # None: the configuration's default
    nested_keys: bool | None = None
    transport: str | None = None  # None: the default (native)

    def __init__(self, server: Server, bucket: str) -> None:
        import objstore

        super().__init__(server, bucket)
        section = server.objstore_section(bucket)
        if self.nested_keys is not None:
            section["nested_keys"] = self.nested_keys
        if self.transport is not None:
            section["transport"] = self.transport
        config: dict[str, Any] = {"backend": "s3", "s3": section}
        if self.max_workers is not None:
            config["max_workers"] = self.max_workers
        self.store = objstore.open_async(config)

    async def put(self, key: str, data: bytes) -> None:
        await self.store.put(key, data)

    async def get(self, key: str) -> int:
        return len(await self.store.get(key))

    async def content(self, key: str) -> bytes:
        return await self.store.get(key)

    async def close(self) -> None:
        await self.store.aclose()


def objstore_with_workers(workers: int) -> type[ObjstoreAdapter]:
    """``objstore-w<workers>``: ``AsyncStore`` with ``max_workers`` set to ``workers``."""

    class SizedObjstoreAdapter(ObjstoreAdapter):
        name = f"objstore-w{workers}"
        max_workers = workers

    return SizedObjstoreAdapter


class ObjstoreBoto3Adapter(ObjstoreAdapter):
    """``transport: boto3``: boto3 in the store's worker pool (before the native transport)."""

    name = "objstore-boto3"
    transport = "boto3"


class ObjstoreNoProbeAdapter(ObjstoreAdapter):
    """``nested_keys=true``: no conflict probe before each put (unsafe on rclone; information)."""

    name = "objstore-noprobe"
    nested_keys = True
    info_only = True


class ObstoreAdapter(AsyncAdapter):
    """obstore's ``S3Store`` with its async functions (``put_async``, ``get_async``)."""

    name = "obstore"

    def __init__(self, server: Server, bucket: str) -> None:
        super().__init__(server, bucket)
        self.store = server.obstore_store(bucket)

    async def put(self, key: str, data: bytes) -> None:
        import obstore

        await obstore.put_async(self.store, key, data)

    async def get(self, key: str) -> int:
        return len(await self._bytes(key))

    async def _bytes(self, key: str) -> Any:
        import obstore

        result = await obstore.get_async(self.store, key)
        return await result.bytes_async()  # obstore.Bytes: a zero-copy buffer

    async def content(self, key: str) -> bytes:
        return bytes(await self._bytes(key))


class Aioboto3Adapter(AsyncAdapter):
    """aioboto3 in the side process, aiobotocore's default pool (10 connections)."""

    name = "aioboto3"
    pool: int | None = None  # None: aiobotocore's default max_pool_connections (10)

    def __init__(self, server: Server, bucket: str, side: SideProcess, seed: int) -> None:
        super().__init__(server, bucket)
        self.side = side
        self.seed = seed  # the side process makes the same bytes from the same seed
        self.handle = side.call(
            cmd="open", contestant="aioboto3", server=server.describe(), bucket=bucket,
            pool=self.pool,
        )["handle"]  # fmt: skip

    async def run(self, kind: str, keys: Sequence[str], data: bytes) -> tuple[float, float, object]:
        answer = self.side.call(
            cmd="run", handle=self.handle, job=f"a{kind}", keys=list(keys), size=len(data),
            seed=self.seed,
        )  # fmt: skip
        return float(answer["seconds"]), float(answer["lag"]), answer["result"]

    async def digest(self, key: str) -> str:
        digest: str = self.side.call(cmd="digest", handle=self.handle, key=key)["digest"]
        return digest

    async def close(self) -> None:
        self.side.call(cmd="close", handle=self.handle)


class Aioboto3Pool64Adapter(Aioboto3Adapter):
    name = "aioboto3-p64"
    pool = 64


ADAPTERS: dict[str, type[AsyncAdapter]] = {
    cls.name: cls
    for cls in (
        Aioboto3Adapter,
        Aioboto3Pool64Adapter,
        ObjstoreAdapter,
        ObjstoreBoto3Adapter,
        objstore_with_workers(4),
        objstore_with_workers(8),
        objstore_with_workers(32),
        objstore_with_workers(64),
        ObjstoreNoProbeAdapter,
        ObstoreAdapter,
    )
}
SIDE = ("aioboto3", "aioboto3-p64")
DEFAULT_CONTESTANTS = (
    "objstore",
    "objstore-boto3",
    "objstore-noprobe",
    "obstore",
)


# -- configuration and results ----------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """What to run: batch shape, the server, who competes (the baseline always runs)."""

    rounds: int = 10
    concurrency: int = 256
    object_size: int = 64 * KIB
    server: str = "rclone"
    contestants: tuple[str, ...] = DEFAULT_CONTESTANTS
    seed: int = 0


@dataclass
class LagResults(Results):
    """Seconds and worst lags per batch, by workload id and contestant name."""

    lags: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def add_batch(self, workload: Workload, contestant: str, seconds: float, lag: float) -> None:
        self.add(workload, contestant, seconds)
        self.lags.setdefault(workload.id, {}).setdefault(contestant, []).append(lag)

    def lag(self, workload_id: str, contestant: str) -> tuple[float, float] | None:
        """The median and the maximum of the batches' worst lags."""
        runs = self.lags.get(workload_id, {}).get(contestant)
        return (statistics.median(runs), max(runs)) if runs else None


def workloads(cfg: Config) -> dict[str, Workload]:
    n, size = cfg.concurrency, cfg.object_size
    what = f"{n} x {size // KIB} KiB at once"
    return {
        "put": Workload("put", f"put {what}", n, n * size),
        "get": Workload("get", f"get {what}", n, n * size),
    }


# -- running ----------------------------------------------------------------------------------


@dataclass
class Session:
    cfg: Config
    rng: random.Random
    keys: tuple[str, ...]
    data: bytes
    adapters: dict[str, AsyncAdapter]
    results: LagResults | None = None  # None in the warm-up round


async def run_phase(session: Session, workload: Workload, kind: str) -> None:
    """One batch per contestant, in a fresh shuffled order, each checked outside the timing."""
    expect = workload.nbytes if kind == "get" else None
    for name in shuffled(session.rng, session.adapters):
        os.sync()  # the server's earlier writes must not be flushed during the timing
        gc.collect()
        seconds, lag, out = await session.adapters[name].run(kind, session.keys, session.data)
        check(name, workload, out, expect)
        if session.results is not None:
            session.results.add_batch(workload, name, seconds, lag)


async def run_round(session: Session) -> None:
    work = workloads(session.cfg)
    await run_phase(session, work["put"], "put")
    if session.results is None:  # warm-up: every contestant stored what it was given
        want = hashlib.sha256(session.data).hexdigest()
        for name, adapter in session.adapters.items():
            if await adapter.digest(session.keys[-1]) != want:
                raise AssertionError(f"{name} returned other bytes than it was given")
    await run_phase(session, work["get"], "get")


def open_adapter(
    name: str, server: Server, buckets: Buckets, side: Callable[[], SideProcess], seed: int
) -> AsyncAdapter:
    bucket = buckets.new(bucket_name(f"async-{seed % 10_000}", name))
    cls = ADAPTERS[name]
    if issubclass(cls, Aioboto3Adapter):
        return cls(server, bucket, side(), seed)
    return cls(server, bucket)


async def run(cfg: Config, scratch: Path) -> tuple[LagResults, dict[str, Any]]:
    results = LagResults()
    side: list[SideProcess] = []

    def side_process() -> SideProcess:
        if not side:
            side.append(SideProcess())
        return side[0]

    try:
        with running_server(cfg.server, scratch) as server:
            hello = side_process().hello if set(SIDE) & set(cfg.contestants) else None
            env = environment(server, scratch, library_versions(cfg, hello))
            print(header("objstore async benchmark", env, settings_line(cfg)), flush=True)
            buckets = Buckets(server)
            session = Session(
                cfg=cfg,
                rng=random.Random(cfg.seed),
                keys=tuple(flat_keys(cfg.concurrency)),
                data=make_data(cfg.seed, cfg.object_size),
                adapters={},
            )
            try:
                for name in cfg.contestants:
                    session.adapters[name] = open_adapter(
                        name, server, buckets, side_process, cfg.seed
                    )
                started = time.perf_counter()
                await run_round(session)  # warm-up: connections, pools, imports, checks
                session.results = results
                for number in range(1, cfg.rounds + 1):
                    await run_round(session)
                    round_done(number, cfg.rounds, started)
            finally:
                for adapter in session.adapters.values():
                    await adapter.close()
                buckets.remove_all()
    finally:
        if side:
            side[0].close()
    return results, env


# -- report -----------------------------------------------------------------------------------


def mark(name: str) -> str:
    return " ‡" if ADAPTERS[name].info_only else ""


def info_mark(_workload_id: str, name: str) -> str:
    return mark(name)


def others(cfg: Config) -> tuple[str, ...]:
    return tuple(n for n in cfg.contestants if n != BASELINE)


def fmt_rates(workload: Workload, seconds: float) -> str:
    return f"{workload.ops / seconds:.0f} ops/s, {workload.nbytes / MIB / seconds:.1f} MiB/s"


def fmt_lag(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def lag_table(results: LagResults, cfg: Config) -> str:
    body = []
    for wid, workload in results.workloads.items():
        cells = [workload.label]
        for name in cfg.contestants:
            lag = results.lag(wid, name)
            cells.append(f"{fmt_lag(lag[0])} (max {fmt_lag(lag[1])})" if lag else "n/a")
        body.append(cells)
    return table(["workload", *cfg.contestants], body)


def target_table(results: LagResults, cfg: Config) -> str:
    """Issue 10's targets: objstore at least 1.5x aioboto3's throughput and 0.7x obstore's,
    with a worst loop lag of at most 15 ms."""
    names = [n for n in cfg.contestants if n.startswith("objstore")]
    if not names or BASELINE not in cfg.contestants:
        return ""
    body = []
    for wid, workload in results.workloads.items():
        base, peer = results.median(wid, BASELINE), results.median(wid, "obstore")
        for name in names:
            median, lag = results.median(wid, name), results.lag(wid, name)
            if not (base and median and lag):
                continue
            ratio, versus_peer = base / median, (peer / median if peer else None)
            met = ratio >= 1.5 and (versus_peer or 0) >= 0.7 and lag[1] <= 0.015
            body.append(
                [
                    workload.label,
                    f"{name}{mark(name)}",
                    f"{ratio:.2f}x",
                    f"{versus_peer:.2f}x" if versus_peer else "n/a",
                    f"{fmt_lag(lag[0])} (max {fmt_lag(lag[1])})",
                    "yes" if met else "no",
                ]
            )
    head = [
        "workload",
        "objstore configuration",
        "vs aioboto3 (≥ 1.5x)",
        "vs obstore (≥ 0.7x)",
        "worst lag (≤ 15 ms)",
        "met",
    ]
    return table(head, body, "llrrrl")


def footnotes(cfg: Config) -> str:
    notes = [
        f"Ratios: {BASELINE} median time / contestant median time (>1 = more throughput "
        f"than {BASELINE}), then the contestant's median time for the whole batch.",
        "Lag: the worst lateness of a task that sleeps 5 ms in a loop on the same event loop "
        "during a batch; the median over the rounds, and the maximum of all rounds.",
    ]
    if any(ADAPTERS[n].info_only for n in cfg.contestants):
        notes.append(
            "‡ (information only): nested_keys=true, which skips the listing the rclone preset "
            "sends before each put to detect keys rclone cannot hold side by side (a and a/b). "
            "Not safe on rclone; it is what objstore costs on servers that need no probes."
        )
    return bullets(notes)


def library_versions(cfg: Config, side: dict[str, Any] | None) -> dict[str, str]:
    versions = {name: importlib.metadata.version(name) for name in ("objstore", "boto3")}
    if any(n.startswith("obstore") for n in cfg.contestants):
        versions["obstore"] = importlib.metadata.version("obstore")
    if side is not None:
        for name in ("aioboto3", "aiobotocore", "botocore", "aiohttp"):
            if name in side["libraries"]:
                versions[f"{name} (side venv)"] = side["libraries"][name]
    return versions


def settings_line(cfg: Config) -> str:
    return (
        f"rounds: {cfg.rounds} (median reported), batches of {cfg.concurrency} concurrent "
        f"requests of {cfg.object_size // KIB} KiB, lag probe: 5 ms sleeps, seed: {cfg.seed}"
    )


def to_json(results: LagResults, cfg: Config, env: dict[str, Any]) -> dict[str, Any]:
    def lags(wid: str, name: str, _median: float) -> dict[str, Any]:
        runs = results.lags[wid][name]
        return {
            "worst_lag_s": runs,
            "worst_lag_median_s": statistics.median(runs),
            "worst_lag_max_s": max(runs),
            "info_only": ADAPTERS[name].info_only,
        }

    out = results_json(results, BASELINE, "ratio_to_baseline", lags)
    return json_document(cfg, {**env, "load_at_end": load_average()}, out, baseline=BASELINE)


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path | None, float | None]:
    parser = new_parser(__doc__)
    parser.add_argument("--rounds", type=int, help="counted rounds (default 10; 2 with --quick)")
    parser.add_argument(
        "--concurrency", type=int, help="requests per batch (default 256; 32 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 2 rounds of 32")
    add_options(parser, "--server")
    parser.add_argument(
        "--contestants",
        default=",".join(DEFAULT_CONTESTANTS),
        help=f"comma-separated, from {', '.join(n for n in ADAPTERS if n != BASELINE)} "
        f"({BASELINE} always runs)",
    )
    add_options(parser, "--dir", "--seed", "--wait-load")
    args = parser.parse_args(argv)

    names = contestant_names(parser, args.contestants, ADAPTERS)
    cfg = Config(
        server=args.server,
        contestants=tuple(dict.fromkeys([BASELINE, *names])),
        seed=pick_seed(args.seed),
    )
    quick = {"rounds": 2, "concurrency": 32}
    cfg = configure(parser, args, cfg, quick, ("rounds", "concurrency"))
    return cfg, args.dir, args.wait_load


def available(cfg: Config) -> Config:
    """Drop contestants that cannot run here, saying why."""

    def why_not(name: str) -> str | None:
        if name in SIDE and (why := side_available("aioboto3")):
            return f"{why}; see bench/README.md"
        if name.endswith("noprobe") and cfg.server != "rclone":
            return "only differs on rclone"
        if name == "obstore" and not importable("obstore"):
            return "not installed"
        return None

    return replace(cfg, contestants=keep_available(cfg.contestants, why_not))


def main(argv: Sequence[str] | None = None) -> int:
    cfg, parent, load_limit = parse_args(argv)
    cfg = available(cfg)
    if load_limit is not None:
        wait_for_load(load_limit)
    scratch = make_scratch(parent, "objstore-bench-async-")
    try:
        results, env = asyncio.run(run(cfg, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows = [Row(wid, workload.label, BASELINE) for wid, workload in results.workloads.items()]
    ratios = ratio_table(results, rows, others(cfg), info_mark, BASELINE)
    sections = [
        (f"Time, as a ratio to {BASELINE}", ratios + "\n\n" + footnotes(cfg)),
        (
            "Throughput (medians)",
            rate_table(results, results.workloads, cfg.contestants, fmt_rates),
        ),
        ("Worst event-loop lag during a batch", lag_table(results, cfg)),
        ("objstore against the target", target_table(results, cfg)),
    ]
    publish(sections, to_json(results, cfg, env), f"async-{cfg.server}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
