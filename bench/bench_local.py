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

import argparse
import builtins
import gc
import importlib.metadata
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import partial
from itertools import count
from pathlib import Path
from typing import Any, BinaryIO

KIB = 1 << 10
MIB = 1 << 20
CHUNK = MIB  # the read/write unit for every streamed file transfer
NESTED_DIRS = 20
RAW = "raw"
RAW_WALK_STAT = "raw (os.walk+stat)"
BENCH_DIR = Path(__file__).resolve().parent

Buffer = Any  # bytes, or a library's own buffer type (obstore.Bytes)


@dataclass(frozen=True)
class ListSummary:
    """What a listing saw: how many objects, and their total size (None if not asked for)."""

    count: int
    total_size: int | None


# -- contestants ------------------------------------------------------------------------------


class Adapter:
    """One library doing the benchmark's jobs in its own directory ``root``.

    Subclasses implement every job the most natural way their library documents.
    """

    name = ""
    atomic_put = True  # whether puts replace the target atomically (temp file + rename)

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

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
        """List every object (recursively), touching each entry's key and size."""
        raise NotImplementedError

    def put_file(self, key: str, src: Path) -> None:
        raise NotImplementedError

    def get_file(self, key: str, dst: Path) -> None:
        raise NotImplementedError

    def close(self) -> None:
        return None


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


class ObjstoreAdapter(Adapter):
    """objstore's file backend, through the public ``Store`` API."""

    name = "objstore"

    def __init__(self, root: Path) -> None:
        import objstore

        super().__init__(root)
        self.store = objstore.open(f"file://{root}")

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
        with open(dst, "wb") as out:
            for chunk in self.store.get_stream(key, chunk_size=CHUNK):
                out.write(chunk)

    def close(self) -> None:
        self.store.close()


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


class OpendalAdapter(Adapter):
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
            if meta.is_file:  # the recursive listing also yields directories
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


class OpendalInPlaceAdapter(OpendalAdapter):
    """opendal's ``fs`` service as configured by default: files are written in place."""

    name = "opendal-inplace"
    atomic_put = False

    def _operator(self, root: Path) -> Any:
        import opendal

        return opendal.Operator("fs", root=str(root))


class ObstoreAdapter(Adapter):
    """obstore's ``LocalStore`` (object_store in Rust); puts go to a temp file + rename."""

    name = "obstore"

    def __init__(self, root: Path) -> None:
        from obstore.store import LocalStore

        super().__init__(root)
        self.store = LocalStore(prefix=str(root), mkdir=True)

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

        obstore.put(self.store, key, src)  # a Path: about twice as fast as a file object

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
        return [f"obj-{i:05d}" for i in range(1, n + 1)]
    return [f"d{i % NESTED_DIRS:02d}/obj-{i:05d}" for i in range(1, n + 1)]


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
    """What every round shares: settings, the shuffle, the inputs and the results."""

    cfg: Config
    scratch: Path
    rng: random.Random
    blob: bytes  # the big object put from memory
    source: Path  # the big file put from disk
    results: Results | None  # None in the warm-up round: nothing is recorded


Job = Callable[[], object]


def settle(session: Session, fresh_memory: int) -> None:
    """Quiet the system before a timed run: flush dirty pages, then ready the memory."""
    if not session.cfg.settle:
        return
    os.sync()  # earlier writes' writeback must not land in this timing
    if fresh_memory:
        prime_memory(session.scratch, fresh_memory)


def prime_memory(directory: Path, size: int) -> None:
    """Write and delete a throwaway file of ``size`` bytes, so ``size`` bytes of pages are ready.

    On a virtual machine with free page reporting (virtio-balloon), pages the
    guest freed a while ago are handed back to the host, and touching them again
    costs a fault in the host: writes into the page cache then run ~10x slower,
    at random. The kernel reuses the pages freed most recently first, so the
    timed run that follows gets pages that are backed, whoever runs it.
    """
    path = directory / "prime.bin"
    zeros = bytes(CHUNK)
    with open(path, "wb") as out:
        for _ in range(-(-size // CHUNK)):
            out.write(zeros)
    path.unlink()


def measure(session: Session, workload: Workload, name: str, job: Job, expect: object) -> None:
    """Time one run of ``job``, check what it returned and record the time."""
    settle(session, workload.fresh_memory)
    gc.collect()
    start = time.perf_counter()
    out = job()
    seconds = time.perf_counter() - start
    if expect is not None and out != expect:
        raise AssertionError(f"{name} / {workload.label}: got {out!r}, expected {expect!r}")
    if session.results is not None:
        session.results.add(workload, name, seconds)


def run_jobs(session: Session, workload: Workload, jobs: dict[str, Job], expect: object) -> None:
    """Time every contestant's job, in a fresh shuffled order."""
    names = list(jobs)
    session.rng.shuffle(names)
    for name in names:
        measure(session, workload, name, jobs[name], expect)


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


def get_length(adapter: Adapter, key: str) -> int:
    return len(adapter.get(key))


def download(adapter: Adapter, key: str, dst: Path) -> int:
    adapter.get_file(key, dst)
    return dst.stat().st_size


def files_under(root: Path) -> int:
    return sum(len(names) for _dir, _subdirs, names in os.walk(root))


def small_workloads(cfg: Config, layout: str) -> dict[str, Workload]:
    n, size = cfg.objects, cfg.object_size
    what = f"{n} x {size // KIB} KiB ({layout})"
    return {
        "put": Workload(f"put-{layout}", f"put {what}", ops=n, fresh_memory=2 * n * size),
        "get": Workload(f"get-{layout}", f"get {what}", ops=n),
        "stat": Workload(f"stat-{layout}", f"stat {n} ({layout})", ops=n),
        "delete": Workload(f"delete-{layout}", f"delete {n} ({layout})", ops=n),
        "list": Workload(f"list-{layout}", f"list {n} ({layout})", ops=n),
    }


def big_workloads(cfg: Config) -> dict[str, Workload]:
    mem, big = cfg.memory_size, cfg.file_size
    return {
        "put_mem": Workload(
            "put-mem", f"put {mem // MIB} MiB from memory", nbytes=mem, fresh_memory=mem
        ),
        "get_mem": Workload(
            "get-mem", f"get {mem // MIB} MiB into memory", nbytes=mem, fresh_memory=mem
        ),
        "put_file": Workload(
            "put-file", f"put {big // MIB} MiB from a file", nbytes=big, fresh_memory=big
        ),
        "get_file": Workload(
            "get-file", f"get {big // MIB} MiB to a file", nbytes=big, fresh_memory=big
        ),
    }


def open_adapters(cfg: Config, base: Path) -> dict[str, Adapter]:
    return {name: ADAPTERS[name](base / name) for name in (RAW, *cfg.contestants)}


def run_small(session: Session, layout: str, base: Path) -> None:
    """put, get, stat, list, delete of many small objects, each phase over all contestants."""
    cfg = session.cfg
    keys = make_keys(cfg.objects, layout)
    data = random.Random(cfg.seed).randbytes(cfg.object_size)
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
    names = [RAW, *session.cfg.contestants]
    session.rng.shuffle(names)
    work = big_workloads(session.cfg)
    for name in names:
        adapter = ADAPTERS[name](base / name)
        try:
            run_big_for(session, work, name, adapter, base / f"download-{name}.bin")
        finally:
            adapter.close()


def run_big_for(
    session: Session, work: dict[str, Workload], name: str, adapter: Adapter, dst: Path
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


def make_source_file(directory: Path, size: int) -> Path:
    """The file every contestant uploads, created once."""
    path = directory / f"source-{size}.bin"
    chunk = os.urandom(CHUNK)
    with open(path, "wb") as out:
        for _ in range(size // CHUNK):
            out.write(chunk)
        out.write(chunk[: size % CHUNK])
    return path


# -- report -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A table row: a workload, measured against one raw baseline."""

    workload: str
    label: str
    baseline: str = RAW


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


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_rate(workload: Workload, seconds: float) -> str:
    if workload.ops:
        return f"{workload.ops / seconds / 1000:.1f}k ops/s"
    return f"{workload.nbytes / MIB / seconds:.0f} MiB/s"


def is_put(workload_id: str) -> bool:
    return workload_id.startswith("put")


def ratio_table(results: Results, cfg: Config) -> str:
    names = cfg.contestants
    lines = [
        "| workload | raw | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for row in report_rows(results, cfg):
        base = results.median(row.workload, row.baseline)
        cells = [row.label, fmt_time(base) if base else "n/a"]
        for name in names:
            median = results.median(row.workload, name)
            if median is None or not base:
                cells.append("n/a")
                continue
            mark = " †" if is_put(row.workload) and not ADAPTERS[name].atomic_put else ""
            cells.append(f"{base / median:.2f}x ({fmt_time(median)}){mark}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rate_table(results: Results, cfg: Config) -> str:
    names = (RAW, *cfg.contestants)
    lines = [
        "| workload | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for row in report_rows(results, cfg):
        if row.baseline != RAW:
            continue
        workload = results.workloads[row.workload]
        cells = [workload.label]
        for name in names:
            median = results.median(row.workload, name)
            cells.append(fmt_rate(workload, median) if median else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    walk_stat = [
        f"{results.workloads[w].label}: {fmt_rate(results.workloads[w], m)}"
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
    return "\n".join(f"- {n}" for n in notes)


def library_versions(cfg: Config) -> dict[str, str]:
    versions = {}
    for name in cfg.contestants:
        package = package_of(name)
        try:
            versions[package] = importlib.metadata.version(package)
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


def environment(cfg: Config, base: Path) -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "base_dir": str(base),
        "filesystem": filesystem_type(base),
        "libraries": library_versions(cfg),
        "objstore_revision": source_revision(),
    }


def header(env: dict[str, Any], cfg: Config) -> str:
    libs = ", ".join(f"{k} {v}" for k, v in env["libraries"].items())
    return "\n".join(
        [
            "# objstore local benchmark",
            "",
            f"- Python {env['python']} ({env['implementation']}) on {env['platform']}",
            f"- machine: {env['machine']}, {env['cpu_count']} CPUs; "
            f"directory {env['base_dir']} ({env['filesystem']})",
            f"- libraries: {libs}; objstore checkout {env['objstore_revision']}",
            f"- rounds: {cfg.rounds} (median reported), objects: {cfg.objects} x "
            f"{cfg.object_size // KIB} KiB, big: {cfg.memory_size // MIB} MiB in memory, "
            f"{cfg.file_size // MIB} MiB files, layouts: {', '.join(cfg.layouts)}, "
            f"settle before each run: {'yes' if cfg.settle else 'no'}, seed: {cfg.seed}",
        ]
    )


def to_json(results: Results, cfg: Config, env: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for wid, workload in results.workloads.items():
        raw = results.median(wid, RAW)
        entries: dict[str, dict[str, Any]] = {}
        for name, runs in results.times[wid].items():
            median = statistics.median(runs)
            entries[name] = {
                "times_s": runs,
                "median_s": median,
                "ratio_to_raw": raw / median if raw else None,
                "ops_per_s": workload.ops / median if workload.ops else None,
                "mib_per_s": workload.nbytes / MIB / median if workload.nbytes else None,
                "atomic_put": ADAPTERS[name].atomic_put if name in ADAPTERS else True,
            }
        if wid.startswith("list") and (walk := results.median(wid, RAW_WALK_STAT)):
            for entry in entries.values():
                entry["ratio_to_os_walk_stat"] = walk / entry["median_s"]
        out[wid] = {"workload": asdict(workload), "contestants": entries}
    return {
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "environment": env,
        "config": asdict(cfg),
        "results": out,
    }


def save_json(document: dict[str, Any]) -> Path:
    folder = BENCH_DIR / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"local-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, help="counted rounds (default 5; 1 with --quick)")
    parser.add_argument(
        "--layout", choices=("flat", "nested", "both"), default="both", help="small-object keys"
    )
    parser.add_argument("--dir", type=Path, help="where to make the scratch directory (/tmp)")
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
    parser.add_argument(
        "--no-settle",
        action="store_true",
        help="skip os.sync() and memory priming before each timed run",
    )
    parser.add_argument("--seed", type=int, help="shuffle seed (random by default)")
    args = parser.parse_args(argv)

    contestants = tuple(n.strip() for n in args.contestants.split(",") if n.strip())
    unknown = [n for n in contestants if n not in ADAPTERS or n == RAW]
    if unknown:
        parser.error(f"unknown contestants: {', '.join(unknown)}")
    cfg = Config(
        layouts=("flat", "nested") if args.layout == "both" else (args.layout,),
        contestants=contestants,
        settle=not args.no_settle,
        seed=args.seed if args.seed is not None else random.randrange(1 << 30),
    )
    if args.quick:
        cfg = replace(cfg, rounds=1, objects=200, memory_size=16 * MIB, file_size=32 * MIB)
    if args.rounds is not None:
        cfg = replace(cfg, rounds=args.rounds)
    if args.objects is not None:
        cfg = replace(cfg, objects=args.objects)
    if cfg.rounds < 1 or cfg.objects < 1:
        parser.error("--rounds and --objects must be at least 1")
    return cfg, args.dir


def available(cfg: Config) -> Config:
    """Drop contestants whose library is not installed, saying so."""
    keep = []
    for name in cfg.contestants:
        module = package_of(name)
        try:
            __import__(module)
        except ImportError:
            print(f"note: {name} skipped ({module} is not installed)", file=sys.stderr)
            continue
        keep.append(name)
    return replace(cfg, contestants=tuple(keep))


def main(argv: Sequence[str] | None = None) -> int:
    cfg, parent = parse_args(argv)
    cfg = available(cfg)
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="objstore-bench-", dir=parent))
    env = environment(cfg, scratch)
    print(header(env, cfg), flush=True)
    results = Results()
    try:
        session = Session(
            cfg=warmup_config(cfg),
            scratch=scratch,
            rng=random.Random(cfg.seed),
            blob=random.Random(cfg.seed).randbytes(cfg.memory_size),
            source=make_source_file(scratch, cfg.file_size),
            results=None,
        )
        started = time.perf_counter()
        run_round(session, scratch / "warmup")
        session = replace(session, cfg=cfg, results=results)
        for number in range(1, cfg.rounds + 1):
            run_round(session, scratch / f"round-{number}")
            elapsed = time.perf_counter() - started
            print(f"round {number}/{cfg.rounds} done ({elapsed:.0f} s)", file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print()
    print("## Time, as a ratio to raw")
    print()
    print(ratio_table(results, cfg))
    print()
    print(footnotes(cfg))
    print()
    print("## Throughput (medians)")
    print()
    print(rate_table(results, cfg))
    path = save_json(to_json(results, cfg, env))
    print()
    print(f"JSON: {path.relative_to(BENCH_DIR.parent)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
