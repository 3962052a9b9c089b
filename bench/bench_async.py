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

import argparse
import asyncio
import gc
import hashlib
import importlib.metadata
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bench_s3 import (
    KIB,
    MIB,
    Buckets,
    Server,
    SideProcess,
    bucket_name,
    environment,
    fmt_time,
    header,
    load_average,
    running_server,
    save_json,
    side_available,
    wait_for_load,
)
from side_worker import make_data, timed_batch

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

    def __init__(self, server: Server, bucket: str) -> None:
        import objstore

        super().__init__(server, bucket)
        section: dict[str, Any] = {
            "bucket": bucket,
            "endpoint_url": server.endpoint_url,
            "region": server.region,
            "access_key_id": server.access_key_id,
            "secret_access_key": server.secret_access_key,
            "provider": server.objstore_provider,
        }
        if self.nested_keys is not None:
            section["nested_keys"] = self.nested_keys
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


class Objstore4Adapter(ObjstoreAdapter):
    name = "objstore-w4"
    max_workers = 4


class Objstore8Adapter(ObjstoreAdapter):
    name = "objstore-w8"
    max_workers = 8


class Objstore32Adapter(ObjstoreAdapter):
    name = "objstore-w32"
    max_workers = 32


class Objstore64Adapter(ObjstoreAdapter):
    name = "objstore-w64"
    max_workers = 64


class ObjstoreNoProbeAdapter(ObjstoreAdapter):
    """``nested_keys=true``: no conflict probe before each put (unsafe on rclone; information)."""

    name = "objstore-noprobe"
    nested_keys = True
    info_only = True


class ObstoreAdapter(AsyncAdapter):
    """obstore's ``S3Store`` with its async functions (``put_async``, ``get_async``)."""

    name = "obstore"

    def __init__(self, server: Server, bucket: str) -> None:
        from obstore.store import S3Store

        super().__init__(server, bucket)
        self.store = S3Store(
            bucket,
            endpoint=server.endpoint_url,
            region=server.region,
            access_key_id=server.access_key_id,
            secret_access_key=server.secret_access_key,
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )

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
        Objstore4Adapter,
        Objstore8Adapter,
        Objstore32Adapter,
        Objstore64Adapter,
        ObjstoreNoProbeAdapter,
        ObstoreAdapter,
    )
}
SIDE = ("aioboto3", "aioboto3-p64")
DEFAULT_CONTESTANTS = (
    "aioboto3-p64",
    "objstore",
    "objstore-w32",
    "objstore-w64",
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


@dataclass(frozen=True)
class Workload:
    id: str
    label: str
    ops: int
    nbytes: int


@dataclass
class Results:
    """Seconds and worst lags per batch, by workload id and contestant name."""

    workloads: dict[str, Workload] = field(default_factory=dict)
    times: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    lags: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def add(self, workload: Workload, contestant: str, seconds: float, lag: float) -> None:
        self.workloads.setdefault(workload.id, workload)
        self.times.setdefault(workload.id, {}).setdefault(contestant, []).append(seconds)
        self.lags.setdefault(workload.id, {}).setdefault(contestant, []).append(lag)

    def median(self, workload_id: str, contestant: str) -> float | None:
        runs = self.times.get(workload_id, {}).get(contestant)
        return statistics.median(runs) if runs else None

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
    results: Results | None = None  # None in the warm-up round


async def run_phase(session: Session, workload: Workload, kind: str) -> None:
    """One batch per contestant, in a fresh shuffled order, each checked outside the timing."""
    names = list(session.adapters)
    session.rng.shuffle(names)
    expect = workload.nbytes if kind == "get" else None
    for name in names:
        os.sync()  # the server's earlier writes must not be flushed during the timing
        gc.collect()
        seconds, lag, out = await session.adapters[name].run(kind, session.keys, session.data)
        if expect is not None and out != expect:
            raise AssertionError(f"{name} / {workload.label}: got {out!r}, expected {expect!r}")
        if session.results is not None:
            session.results.add(workload, name, seconds, lag)


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


async def run(cfg: Config, scratch: Path) -> tuple[Results, dict[str, Any]]:
    results = Results()
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
                keys=tuple(f"obj-{i:05d}" for i in range(1, cfg.concurrency + 1)),
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
                    elapsed = time.perf_counter() - started
                    print(f"round {number}/{cfg.rounds} done ({elapsed:.0f} s)", file=sys.stderr)
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


def others(cfg: Config) -> tuple[str, ...]:
    return tuple(n for n in cfg.contestants if n != BASELINE)


def ratio_table(results: Results, cfg: Config) -> str:
    names = others(cfg)
    lines = [
        f"| workload | {BASELINE} | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for wid, workload in results.workloads.items():
        base = results.median(wid, BASELINE)
        cells = [workload.label, fmt_time(base) if base else "n/a"]
        for name in names:
            median = results.median(wid, name)
            if median is None or not base:
                cells.append("n/a")
                continue
            cells.append(f"{base / median:.2f}x ({fmt_time(median)}){mark(name)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rate_table(results: Results, cfg: Config) -> str:
    names = cfg.contestants
    lines = [
        "| workload | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for wid, workload in results.workloads.items():
        cells = [workload.label]
        for name in names:
            median = results.median(wid, name)
            if median is None:
                cells.append("n/a")
                continue
            cells.append(
                f"{workload.ops / median:.0f} ops/s, {workload.nbytes / MIB / median:.1f} MiB/s"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fmt_lag(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def lag_table(results: Results, cfg: Config) -> str:
    names = cfg.contestants
    lines = [
        "| workload | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for wid, workload in results.workloads.items():
        cells = [workload.label]
        for name in names:
            lag = results.lag(wid, name)
            cells.append(f"{fmt_lag(lag[0])} (max {fmt_lag(lag[1])})" if lag else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def target_table(results: Results, cfg: Config) -> str:
    """The issue's target: objstore at least 0.9x aioboto3's throughput, with lower lag."""
    names = [n for n in cfg.contestants if n.startswith("objstore")]
    if not names or BASELINE not in cfg.contestants:
        return ""
    lines = [
        "| workload | objstore configuration | throughput vs aioboto3 (≥ 0.9x) | worst lag "
        "(median of batches) vs aioboto3's | met |",
        "|---|---|---:|---:|---|",
    ]
    for wid, workload in results.workloads.items():
        base, base_lag = results.median(wid, BASELINE), results.lag(wid, BASELINE)
        for name in names:
            median, lag = results.median(wid, name), results.lag(wid, name)
            if not (base and base_lag and median and lag):
                continue
            ratio = base / median
            met = ratio >= 0.9 and lag[0] < base_lag[0]
            lines.append(
                f"| {workload.label} | {name}{mark(name)} | {ratio:.2f}x | {fmt_lag(lag[0])} vs "
                f"{fmt_lag(base_lag[0])} | {'yes' if met else 'no'} |"
            )
    return "\n".join(lines)


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
    return "\n".join(f"- {n}" for n in notes)


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


def to_json(results: Results, cfg: Config, env: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for wid, workload in results.workloads.items():
        base = results.median(wid, BASELINE)
        entries = {}
        for name, runs in results.times[wid].items():
            median = statistics.median(runs)
            lags = results.lags[wid][name]
            entries[name] = {
                "times_s": runs,
                "median_s": median,
                "ratio_to_baseline": base / median if base else None,
                "ops_per_s": workload.ops / median,
                "mib_per_s": workload.nbytes / MIB / median,
                "worst_lag_s": lags,
                "worst_lag_median_s": statistics.median(lags),
                "worst_lag_max_s": max(lags),
                "info_only": ADAPTERS[name].info_only,
            }
        out[wid] = {"workload": asdict(workload), "contestants": entries}
    return {
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "environment": {**env, "load_at_end": load_average()},
        "config": asdict(cfg),
        "baseline": BASELINE,
        "results": out,
    }


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path | None, float | None]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, help="counted rounds (default 10; 2 with --quick)")
    parser.add_argument(
        "--concurrency", type=int, help="requests per batch (default 256; 32 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 2 rounds of 32")
    parser.add_argument(
        "--server", choices=("rclone", "moto"), default="rclone", help="the loopback S3 server"
    )
    parser.add_argument(
        "--contestants",
        default=",".join(DEFAULT_CONTESTANTS),
        help=f"comma-separated, from {', '.join(n for n in ADAPTERS if n != BASELINE)} "
        f"({BASELINE} always runs)",
    )
    parser.add_argument("--dir", type=Path, help="where to make the scratch directory (/tmp)")
    parser.add_argument("--seed", type=int, help="shuffle seed (random by default)")
    parser.add_argument(
        "--wait-load",
        type=float,
        metavar="LIMIT",
        help="first wait (up to 5 min) until the 1-minute load average is below LIMIT",
    )
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.contestants.split(",") if n.strip()]
    unknown = [n for n in names if n not in ADAPTERS]
    if unknown:
        parser.error(f"unknown contestants: {', '.join(unknown)}")
    cfg = Config(
        server=args.server,
        contestants=tuple(dict.fromkeys([BASELINE, *names])),
        seed=args.seed if args.seed is not None else random.randrange(1 << 30),
    )
    if args.quick:
        cfg = replace(cfg, rounds=2, concurrency=32)
    if args.rounds is not None:
        cfg = replace(cfg, rounds=args.rounds)
    if args.concurrency is not None:
        cfg = replace(cfg, concurrency=args.concurrency)
    if cfg.rounds < 1 or cfg.concurrency < 1:
        parser.error("--rounds and --concurrency must be at least 1")
    return cfg, args.dir, args.wait_load


def available(cfg: Config) -> Config:
    """Drop contestants that cannot run here, saying why."""
    keep = []
    for name in cfg.contestants:
        if name in SIDE and (why := side_available("aioboto3")):
            print(f"note: {name} skipped ({why}; see bench/README.md)", file=sys.stderr)
            continue
        if name.endswith("noprobe") and cfg.server != "rclone":
            print(f"note: {name} skipped (only differs on rclone)", file=sys.stderr)
            continue
        if name == "obstore":
            try:
                import obstore  # noqa: F401
            except ImportError:
                print("note: obstore skipped (not installed)", file=sys.stderr)
                continue
        keep.append(name)
    return replace(cfg, contestants=tuple(keep))


def main(argv: Sequence[str] | None = None) -> int:
    cfg, parent, load_limit = parse_args(argv)
    cfg = available(cfg)
    if load_limit is not None:
        wait_for_load(load_limit)
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="objstore-bench-async-", dir=parent))
    try:
        results, env = asyncio.run(run(cfg, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    sections = [
        (f"Time, as a ratio to {BASELINE}", ratio_table(results, cfg) + "\n\n" + footnotes(cfg)),
        ("Throughput (medians)", rate_table(results, cfg)),
        ("Worst event-loop lag during a batch", lag_table(results, cfg)),
        ("objstore against the target", target_table(results, cfg)),
    ]
    for title, body in sections:
        if body:
            print(f"\n## {title}\n\n{body}")
    path = save_json(to_json(results, cfg, env), f"async-{cfg.server}")
    print(f"\nJSON: {path.relative_to(Path(__file__).resolve().parent.parent)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
