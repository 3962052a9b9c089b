#!/usr/bin/env python3
"""Benchmark objstore's file backend against plain ``os`` calls, fsspec, opendal and obstore.

Every contestant does the same jobs on the local filesystem, each in a fresh
directory of its own: many small puts, gets, stats, deletes and a listing, then
a few big transfers. Rounds are interleaved (every round runs every job for
every contestant, in a shuffled order), the median of the rounds is reported,
and every figure is also given as a ratio to plain Python (``raw``):
``ratio = raw_time / contestant_time``, so above 1 is faster than raw.

Run from the repository root:

    .venv/bin/python bench/bench_local.py            # full run (several minutes)
    .venv/bin/python bench/bench_local.py --quick    # smoke test

bench/README.md explains the options and every column.
"""

from __future__ import annotations

import builtins
import importlib.metadata
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from itertools import count
from pathlib import Path
from typing import Any, BinaryIO

from _harness import (
    CHUNK,
    KIB,
    MIB,
    RAW,
    ListSummary,
    ObjstoreCalls,
    ObstoreCalls,
    OpendalCalls,
    PrimedWorkload,
    Results,
    Row,
    SyncAdapter,
    Workload,
    add_options,
    bullets,
    check,
    configure,
    contestant_names,
    delete_all,
    download,
    flat_keys,
    fmt_rate,
    get_all,
    header,
    importable,
    json_document,
    keep_available,
    machine_info,
    make_data,
    make_scratch,
    make_source_file,
    new_parser,
    pick_seed,
    publish,
    put_all,
    rate_table,
    ratio_table,
    results_json,
    round_done,
    settle,
    shuffled,
    source_revision,
    stat_all,
    timed_call,
)

NESTED_DIRS = 20
RAW_WALK_STAT = "raw (os.walk+stat)"


# -- contestants ------------------------------------------------------------------------------


class Adapter(SyncAdapter):
    """One library doing the benchmark's jobs in its own directory ``root``."""

    atomic_put = True  # whether puts replace the target atomically (temp file + rename)

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)


class RawAdapter(Adapter):
    """Plain Python: builtins ``open`` and ``os``; atomic puts by temp file + ``os.replace``."""

    name = RAW

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._top = str(root)
        self._seq = count()

    def _path(self, key: str) -> str:
        return f"{self._top}/{key}"

    def _temp_beside(self, path: str) -> str:
        head, _, tail = path.rpartition("/")
        return f"{head}/.{tail}.{next(self._seq)}.tmp"

    def _create(self, tmp: str) -> BinaryIO:
        try:
            return open(tmp, "wb")
        except FileNotFoundError:  # first object in a new directory
            os.makedirs(os.path.dirname(tmp), exist_ok=True)
            return open(tmp, "wb")

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = self._temp_beside(path)
        with self._create(tmp) as out:
            out.write(data)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        with open(self._path(key), "rb") as f:
            return f.read()

    def stat(self, key: str) -> int:
        return os.stat(self._path(key)).st_size

    def delete(self, key: str) -> None:
        os.unlink(self._path(key))

    def list(self) -> ListSummary:
        found = 0
        for prefix, _dir, names in self._walk():
            for name in names:
                key = prefix + name
                found += bool(key)
        return ListSummary(found, None)

    def list_with_stat(self) -> ListSummary:
        """``os.walk`` plus an ``os.stat`` per file: the key, size and mtime a store lists."""
        found = total = 0
        for prefix, directory, names in self._walk():
            for name in names:
                key = prefix + name
                st = os.stat(f"{directory}/{name}")
                found += bool(key) and st.st_mtime_ns > 0
                total += st.st_size
        return ListSummary(found, total)

    def _walk(self) -> Iterable[tuple[str, str, builtins.list[str]]]:
        cut = len(self._top) + 1
        for directory, _subdirs, names in os.walk(self._top):
            prefix = directory[cut:] + "/" if len(directory) >= cut else ""
            yield prefix, directory, names

    def put_file(self, key: str, src: Path) -> None:
        path = self._path(key)
        tmp = self._temp_beside(path)
        with open(src, "rb") as source, self._create(tmp) as out:
            while chunk := source.read(CHUNK):
                out.write(chunk)
        os.replace(tmp, path)

    def get_file(self, key: str, dst: Path) -> None:
        with open(self._path(key), "rb") as source, open(dst, "wb") as out:
            while chunk := source.read(CHUNK):
                out.write(chunk)


class ObjstoreAdapter(ObjstoreCalls, Adapter):
    """objstore's file backend, through the public ``Store`` API."""

    name = "objstore"

    def __init__(self, root: Path) -> None:
        import objstore

        super().__init__(root)
        self.store = objstore.open(f"file://{root}")

    def get_file(self, key: str, dst: Path) -> None:
        with open(dst, "wb") as out:
            for chunk in self.store.get_stream(key, chunk_size=CHUNK):
                out.write(chunk)


class FsspecAdapter(Adapter):
    """fsspec's ``LocalFileSystem``; it writes files in place, so its puts are not atomic."""

    name = "fsspec"
    atomic_put = False

    def __init__(self, root: Path) -> None:
        import fsspec  # type: ignore[import-untyped]

        super().__init__(root)
        self.fs = fsspec.filesystem("file", auto_mkdir=True)
        self._top = str(root)

    def _path(self, key: str) -> str:
        return f"{self._top}/{key}"

    def put(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(self._path(key), data)

    def get(self, key: str) -> bytes:
        data: bytes = self.fs.cat_file(self._path(key))
        return data

    def stat(self, key: str) -> int:
        size: int = self.fs.info(self._path(key))["size"]
        return size

    def delete(self, key: str) -> None:
        self.fs.rm_file(self._path(key))

    def list(self) -> ListSummary:
        found = total = 0
        for path, info in self.fs.find(self._top, detail=True).items():
            found += bool(path)
            total += info["size"]
        return ListSummary(found, total)

    def put_file(self, key: str, src: Path) -> None:
        self.fs.put_file(str(src), self._path(key))

    def get_file(self, key: str, dst: Path) -> None:
        self.fs.get_file(self._path(key), str(dst))


class OpendalAdapter(OpendalCalls, Adapter):
    """opendal's ``fs`` service with ``atomic_write_dir``, so writes are temp file + rename.

    The temp directory is a sibling of the root (same filesystem, outside the listing).
    """

    name = "opendal"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.op = self._operator(root)

    def _operator(self, root: Path) -> Any:
        import opendal

        return opendal.Operator("fs", root=str(root), atomic_write_dir=f"{root}.opendal-tmp")


class OpendalInPlaceAdapter(OpendalAdapter):
    """opendal's ``fs`` service as configured by default: files are written in place."""

    name = "opendal-inplace"
    atomic_put = False

    def _operator(self, root: Path) -> Any:
        import opendal

        return opendal.Operator("fs", root=str(root))


class ObstoreAdapter(ObstoreCalls, Adapter):
    """obstore's ``LocalStore`` (object_store in Rust); puts go to a temp file + rename."""

    name = "obstore"

    def __init__(self, root: Path) -> None:
        from obstore.store import LocalStore

        super().__init__(root)
        self.store = LocalStore(prefix=str(root), mkdir=True)

    def get_file(self, key: str, dst: Path) -> None:
        import obstore

        # open_reader is ~5x faster locally than streaming a GetResult (README: caveats)
        source = obstore.open_reader(self.store, key, buffer_size=CHUNK)
        try:
            with open(dst, "wb") as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
        finally:
            source.close()


ADAPTERS: dict[str, type[Adapter]] = {
    cls.name: cls
    for cls in (
        RawAdapter,
        ObjstoreAdapter,
        FsspecAdapter,
        OpendalAdapter,
        ObstoreAdapter,
        OpendalInPlaceAdapter,
    )
}
DEFAULT_CONTESTANTS = ("objstore", "fsspec", "opendal", "obstore")


def package_of(contestant: str) -> str:
    """The distribution a contestant needs (``opendal-inplace`` -> ``opendal``)."""
    return contestant.split("-", maxsplit=1)[0]


# -- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """What to run: sizes in bytes, layouts of the small-object keys, who competes."""

    rounds: int = 5
    objects: int = 2000
    object_size: int = 4 * KIB
    memory_size: int = 64 * MIB
    file_size: int = 256 * MIB
    layouts: tuple[str, ...] = ("flat", "nested")
    contestants: tuple[str, ...] = DEFAULT_CONTESTANTS
    settle: bool = True  # os.sync() and memory priming before each timed run
    seed: int = 0


def warmup_config(cfg: Config) -> Config:
    """A round, not counted, that runs every code path once (imports, runtimes, caches)."""
    return replace(cfg, objects=min(cfg.objects, 100))


def make_keys(n: int, layout: str) -> list[str]:
    if layout == "flat":
        return flat_keys(n)
    return [f"d{i % NESTED_DIRS:02d}/obj-{i:05d}" for i in range(1, n + 1)]


# -- workloads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """What every round shares: settings, the shuffle, the inputs and the results."""

    cfg: Config
    scratch: Path
    rng: random.Random
    blob: bytes  # the big object put from memory
    source: Path  # the big file put from disk
    results: Results | None  # None in the warm-up round: nothing is recorded


Job = Callable[[], object]


def measure(
    session: Session, workload: PrimedWorkload, name: str, job: Job, expect: object
) -> None:
    """Time one run of ``job``, check what it returned and record the time."""
    settle(session.cfg.settle, session.scratch, workload.fresh_memory)
    seconds, out = timed_call(job)
    check(name, workload, out, expect)
    if session.results is not None:
        session.results.add(workload, name, seconds)


def run_jobs(
    session: Session, workload: PrimedWorkload, jobs: dict[str, Job], expect: object
) -> None:
    """Time every contestant's job, in a fresh shuffled order."""
    for name in shuffled(session.rng, jobs):
        measure(session, workload, name, jobs[name], expect)


def get_length(adapter: Adapter, key: str) -> int:
    return len(adapter.get(key))


def files_under(root: Path) -> int:
    return sum(len(names) for _dir, _subdirs, names in os.walk(root))


def small_workloads(cfg: Config, layout: str) -> dict[str, PrimedWorkload]:
    n, size = cfg.objects, cfg.object_size
    what = f"{n} x {size // KIB} KiB ({layout})"
    return {
        "put": PrimedWorkload(f"put-{layout}", f"put {what}", ops=n, fresh_memory=2 * n * size),
        "get": PrimedWorkload(f"get-{layout}", f"get {what}", ops=n),
        "stat": PrimedWorkload(f"stat-{layout}", f"stat {n} ({layout})", ops=n),
        "delete": PrimedWorkload(f"delete-{layout}", f"delete {n} ({layout})", ops=n),
        "list": PrimedWorkload(f"list-{layout}", f"list {n} ({layout})", ops=n),
    }


def big_workloads(cfg: Config) -> dict[str, PrimedWorkload]:
    mem, big = cfg.memory_size, cfg.file_size
    return {
        "put_mem": PrimedWorkload(
            "put-mem", f"put {mem // MIB} MiB from memory", nbytes=mem, fresh_memory=mem
        ),
        "get_mem": PrimedWorkload(
            "get-mem", f"get {mem // MIB} MiB into memory", nbytes=mem, fresh_memory=mem
        ),
        "put_file": PrimedWorkload(
            "put-file", f"put {big // MIB} MiB from a file", nbytes=big, fresh_memory=big
        ),
        "get_file": PrimedWorkload(
            "get-file", f"get {big // MIB} MiB to a file", nbytes=big, fresh_memory=big
        ),
    }


def open_adapters(cfg: Config, base: Path) -> dict[str, Adapter]:
    return {name: ADAPTERS[name](base / name) for name in (RAW, *cfg.contestants)}


def run_small(session: Session, layout: str, base: Path) -> None:
    """put, get, stat, list, delete of many small objects, each phase over all contestants."""
    cfg = session.cfg
    keys = make_keys(cfg.objects, layout)
    data = make_data(cfg.seed, cfg.object_size)
    nbytes = cfg.objects * cfg.object_size
    work = small_workloads(cfg, layout)
    adapters = open_adapters(cfg, base)
    raw = adapters[RAW]
    assert isinstance(raw, RawAdapter)

    def each(fn: Callable[[Adapter], object]) -> dict[str, Job]:
        return {name: partial(fn, adapter) for name, adapter in adapters.items()}

    try:
        run_jobs(session, work["put"], each(partial(put_all, keys=keys, data=data)), None)
        if session.results is None:  # warm-up: check every contestant stored the data
            for name, adapter in adapters.items():
                if bytes(adapter.get(keys[-1])) != data:
                    raise AssertionError(f"{name} returned other bytes than it was given")
        run_jobs(session, work["get"], each(partial(get_all, keys=keys)), nbytes)
        run_jobs(session, work["stat"], each(partial(stat_all, keys=keys)), nbytes)
        list_jobs: dict[str, Job] = {name: adapter.list for name, adapter in adapters.items()}
        list_jobs[RAW_WALK_STAT] = raw.list_with_stat
        run_jobs(session, work["list"], list_jobs, None)
        check_listings(adapters, cfg.objects, nbytes)
        run_jobs(session, work["delete"], each(partial(delete_all, keys=keys)), None)
        for name, adapter in adapters.items():
            if files_under(adapter.root):
                raise AssertionError(f"{name} left files behind after deleting every key")
    finally:
        for adapter in adapters.values():
            adapter.close()


def check_listings(adapters: dict[str, Adapter], n: int, nbytes: int) -> None:
    for name, adapter in adapters.items():
        summary = adapter.list()
        if summary.count != n or summary.total_size not in (None, nbytes):
            raise AssertionError(f"{name} listed {summary}, expected {n} objects of {nbytes} B")
    raw = adapters[RAW]
    assert isinstance(raw, RawAdapter)
    if raw.list_with_stat() != ListSummary(n, nbytes):
        raise AssertionError("os.walk+stat listed the wrong objects")


def run_big(session: Session, base: Path) -> None:
    """Big transfers (flat keys), one contestant after another in a shuffled order."""
    work = big_workloads(session.cfg)
    for name in shuffled(session.rng, [RAW, *session.cfg.contestants]):
        adapter = ADAPTERS[name](base / name)
        try:
            run_big_for(session, work, name, adapter, base / f"download-{name}.bin")
        finally:
            adapter.close()


def run_big_for(
    session: Session, work: dict[str, PrimedWorkload], name: str, adapter: Adapter, dst: Path
) -> None:
    """One contestant's big transfers: bytes in memory both ways, then a file up and down.

    Each object is deleted once read back, so the page cache stays small and its
    memory is recycled from one contestant to the next.
    """
    blob, source = session.blob, session.source
    measure(session, work["put_mem"], name, partial(adapter.put, "big-mem", blob), None)
    measure(session, work["get_mem"], name, partial(get_length, adapter, "big-mem"), len(blob))
    adapter.delete("big-mem")
    measure(session, work["put_file"], name, partial(adapter.put_file, "big-file", source), None)
    size = session.cfg.file_size
    measure(session, work["get_file"], name, partial(download, adapter, "big-file", dst), size)
    dst.unlink()
    adapter.delete("big-file")


def run_round(session: Session, base: Path) -> None:
    """One round: every workload for every contestant, each in fresh directories."""
    base.mkdir(parents=True)
    try:
        for layout in session.cfg.layouts:
            run_small(session, layout, base / f"small-{layout}")
        run_big(session, base / "big")
    finally:
        shutil.rmtree(base, ignore_errors=True)


# -- report -----------------------------------------------------------------------------------


def report_rows(results: Results, cfg: Config) -> list[Row]:
    rows: list[Row] = []
    for kind in ("put", "get", "stat", "delete", "list"):
        for layout in cfg.layouts:
            wid = f"{kind}-{layout}"
            if wid not in results.workloads:
                continue
            label = results.workloads[wid].label
            if kind == "list":
                rows.append(Row(wid, f"{label}, raw = os.walk names only"))
                rows.append(Row(wid, f"{label}, raw = os.walk+stat", RAW_WALK_STAT))
            else:
                rows.append(Row(wid, label))
    rows += [
        Row(wid, results.workloads[wid].label)
        for wid in ("put-mem", "get-mem", "put-file", "get-file")
        if wid in results.workloads
    ]
    return rows


def is_put(workload_id: str) -> bool:
    return workload_id.startswith("put")


def not_atomic_mark(workload_id: str, name: str) -> str:
    return " †" if is_put(workload_id) and not ADAPTERS[name].atomic_put else ""


def fmt_kilo_rate(workload: Workload, seconds: float) -> str:
    return fmt_rate(workload, seconds, kilo=True)


def rate_tables(results: Results, cfg: Config) -> str:
    """Throughput against the raw rows, then a line for os.walk+stat."""
    rows = [row.workload for row in report_rows(results, cfg) if row.baseline == RAW]
    lines = [rate_table(results, rows, (RAW, *cfg.contestants), fmt_kilo_rate)]
    walk_stat = [
        f"{results.workloads[w].label}: {fmt_kilo_rate(results.workloads[w], m)}"
        for w in results.workloads
        if (m := results.median(w, RAW_WALK_STAT)) is not None
    ]
    if walk_stat:
        lines.append("")
        lines.append("os.walk+stat: " + "; ".join(walk_stat))
    return "\n".join(lines)


def footnotes(cfg: Config) -> str:
    notes = [
        "Cells: ratio = raw median / contestant median (>1 = faster than raw), then the "
        "contestant's median time.",
    ]
    if any(not ADAPTERS[n].atomic_put for n in cfg.contestants):
        notes.append(
            "† (not atomic; information only): this contestant writes the target file in "
            "place, so a reader can see a partial object; the others write a temp file and "
            "rename it."
        )
    return bullets(notes)


def library_versions(cfg: Config) -> dict[str, str]:
    versions = {}
    for name in cfg.contestants:
        package = package_of(name)
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def environment(cfg: Config, base: Path) -> dict[str, Any]:
    return {
        **machine_info(base),
        "libraries": library_versions(cfg),
        "objstore_revision": source_revision(),
    }


def settings_line(cfg: Config) -> str:
    return (
        f"rounds: {cfg.rounds} (median reported), objects: {cfg.objects} x "
        f"{cfg.object_size // KIB} KiB, big: {cfg.memory_size // MIB} MiB in memory, "
        f"{cfg.file_size // MIB} MiB files, layouts: {', '.join(cfg.layouts)}, "
        f"settle before each run: {'yes' if cfg.settle else 'no'}, seed: {cfg.seed}"
    )


def to_json(results: Results, cfg: Config, env: dict[str, Any]) -> dict[str, Any]:
    def atomic(_wid: str, name: str, _median: float) -> dict[str, Any]:
        return {"atomic_put": ADAPTERS[name].atomic_put if name in ADAPTERS else True}

    out = results_json(results, RAW, "ratio_to_raw", atomic)
    for wid, item in out.items():
        if wid.startswith("list") and (walk := results.median(wid, RAW_WALK_STAT)):
            for entry in item["contestants"].values():
                entry["ratio_to_os_walk_stat"] = walk / entry["median_s"]
    return json_document(cfg, env, out)


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path | None]:
    parser = new_parser(__doc__)
    parser.add_argument("--rounds", type=int, help="counted rounds (default 5; 1 with --quick)")
    parser.add_argument(
        "--layout", choices=("flat", "nested", "both"), default="both", help="small-object keys"
    )
    add_options(parser, "--dir")
    parser.add_argument(
        "--objects", type=int, help="small objects per workload (default 2000; 200 with --quick)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 1 round, 200 objects, 16/32 MiB"
    )
    parser.add_argument(
        "--contestants",
        default=",".join(DEFAULT_CONTESTANTS),
        help=f"comma-separated, from {', '.join(n for n in ADAPTERS if n != RAW)} "
        "(raw always runs)",
    )
    add_options(parser, "--no-settle", "--seed")
    args = parser.parse_args(argv)

    cfg = Config(
        layouts=("flat", "nested") if args.layout == "both" else (args.layout,),
        contestants=contestant_names(parser, args.contestants, (n for n in ADAPTERS if n != RAW)),
        settle=not args.no_settle,
        seed=pick_seed(args.seed),
    )
    quick = {"rounds": 1, "objects": 200, "memory_size": 16 * MIB, "file_size": 32 * MIB}
    return configure(parser, args, cfg, quick, ("rounds", "objects")), args.dir


def available(cfg: Config) -> Config:
    """Drop contestants whose library is not installed, saying so."""

    def why_not(name: str) -> str | None:
        module = package_of(name)
        return None if importable(module) else f"{module} is not installed"

    return replace(cfg, contestants=keep_available(cfg.contestants, why_not))


def main(argv: Sequence[str] | None = None) -> int:
    cfg, parent = parse_args(argv)
    cfg = available(cfg)
    scratch = make_scratch(parent, "objstore-bench-")
    env = environment(cfg, scratch)
    print(header("objstore local benchmark", env, settings_line(cfg)), flush=True)
    results = Results()
    try:
        session = Session(
            cfg=warmup_config(cfg),
            scratch=scratch,
            rng=random.Random(cfg.seed),
            blob=make_data(cfg.seed, cfg.memory_size),
            source=make_source_file(scratch, cfg.file_size),
            results=None,
        )
        started = time.perf_counter()
        run_round(session, scratch / "warmup")
        session = replace(session, cfg=cfg, results=results)
        for number in range(1, cfg.rounds + 1):
            run_round(session, scratch / f"round-{number}")
            round_done(number, cfg.rounds, started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    sections = [
        (
            "Time, as a ratio to raw",
            ratio_table(results, report_rows(results, cfg), cfg.contestants, not_atomic_mark)
            + "\n\n"
            + footnotes(cfg),
        ),
        ("Throughput (medians)", rate_tables(results, cfg)),
    ]
    publish(sections, to_json(results, cfg, env), "local")
    return 0


if __name__ == "__main__":
    sys.exit(main())
