#!/usr/bin/env python3
"""Benchmark objstore's file backend against plain ``os`` calls, fsspec, opendal and obstore.

Every contestant does the same jobs on the local filesystem, each in a fresh
directory of its own: many small puts, gets, stats, deletes and a listing, then
a few big transfers, reported as ratios to plain Python (``raw``). Run from the
repository root (``--quick`` for a smoke test); bench/README.md explains the
options and every column.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import BinaryIO

from _harness import (
    CHUNK,
    KIB,
    MIB,
    RAW,
    Bench,
    Results,
    Row,
    Runner,
    Workload,
    bullets,
    flat_keys,
    fmt_rate,
    make_data,
    make_source_file,
    rate_table,
    ratio_table,
)
from _peers import (
    Adapter,
    FsspecCalls,
    Listing,
    ObjstoreCalls,
    ObstoreCalls,
    OpendalCalls,
    check_stored,
)

OBJECT_SIZE = 4 * KIB
NESTED_DIRS = 20
RAW_WALK_STAT = "raw (os.walk+stat)"
NOT_ATOMIC = ("fsspec", "opendal-inplace")  # they write the target file in place
BIG = ("put-mem", "get-mem", "put-file", "get-file")
NOTES = (
    "Cells: ratio = raw median / contestant median (>1 = faster than raw), then the "
    "contestant's median time.",
    "† (not atomic; information only): this contestant writes the target file in place, so a "
    "reader can see a partial object; the others write a temp file and rename it.",
)


class RawAdapter(Adapter):
    """Plain Python: builtins ``open`` and ``os``; atomic puts by temp file + ``os.replace``."""

    def __init__(self, root: Path) -> None:
        self._top = str(root)
        self._seq = itertools.count()

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

    def list(self) -> Listing:
        found = 0
        for prefix, _dir, names in self._walk():
            for name in names:
                key = prefix + name
                found += bool(key)
        return found, None

    def list_with_stat(self) -> Listing:
        """``os.walk`` plus an ``os.stat`` per file: the key, size and mtime a store lists."""
        found = total = 0
        for prefix, directory, names in self._walk():
            for name in names:
                key = prefix + name
                st = os.stat(f"{directory}/{name}")
                found += bool(key) and st.st_mtime_ns > 0
                total += st.st_size
        return found, total

    def _walk(self) -> Iterator[tuple[str, str, Sequence[str]]]:
        cut = len(self._top) + 1
        for directory, _subdirs, names in os.walk(self._top):
            yield (directory[cut:] + "/" if len(directory) >= cut else ""), directory, names

    def put_file(self, key: str, src: Path) -> None:
        path = self._path(key)
        tmp = self._temp_beside(path)
        with open(src, "rb") as source, self._create(tmp) as out:
            shutil.copyfileobj(source, out, CHUNK)
        os.replace(tmp, path)

    def get_file(self, key: str, dst: Path) -> None:
        with open(self._path(key), "rb") as source, open(dst, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)


def make_keys(n: int, layout: str) -> list[str]:
    if layout == "flat":
        return flat_keys(n)
    return [f"d{i % NESTED_DIRS:02d}/obj-{i:05d}" for i in range(1, n + 1)]


def big_workload(wid: str, label: str, size: int) -> Workload:
    return Workload(wid, label, nbytes=size, fresh_memory=size)


def open_adapter(name: str, root: Path) -> Adapter:
    """``name``'s contestant in the directory ``root`` (bench/README.md: the setup of each)."""
    root.mkdir(parents=True, exist_ok=True)
    if name == RAW:
        return RawAdapter(root)
    if name == "objstore":
        import objstore

        return ObjstoreCalls(objstore.open(f"file://{root}"))
    if name == "fsspec":
        import fsspec

        return FsspecCalls(fsspec.filesystem("file", auto_mkdir=True), str(root))
    if name.startswith("opendal"):
        import opendal

        # a sibling temp directory: same filesystem, outside the listing
        atomic = {} if name in NOT_ATOMIC else {"atomic_write_dir": f"{root}.opendal-tmp"}
        return OpendalCalls(opendal.Operator("fs", root=str(root), **atomic))
    from obstore.store import LocalStore

    return ObstoreCalls(LocalStore(prefix=str(root), mkdir=True), reader=True)


class LocalBench(Bench):
    title = "objstore local benchmark"
    stem = "local"
    counts = (
        ("rounds", 5, 1, "counted rounds"),
        ("objects", 2000, 200, "small objects per workload"),
        ("memory_mib", 64, 16, "MiB of the big object put from memory"),
        ("file_mib", 256, 32, "MiB of the big file"),
    )
    contestants = ("objstore", "fsspec", "opendal", "obstore", "opendal-inplace")
    defaults = contestants[:4]
    setting = f"objects of {OBJECT_SIZE // KIB} KiB, --layout {{layout}}; "

    def options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--layout",
            choices=("flat", "nested", "both"),
            default="both",
            help="keys of the small objects: obj-00001, d07/obj-00001",
        )

    @property
    def layouts(self) -> tuple[str, ...]:
        return ("flat", "nested") if self.args.layout == "both" else (self.args.layout,)

    def setup(self) -> contextlib.AbstractContextManager[object]:
        self.blob = make_data(self.args.seed, self.args.memory_mib * MIB)
        self.source = make_source_file(self.scratch, self.args.file_mib * MIB)
        return super().setup()

    def round(self, runner: Runner, number: int) -> None:
        base = self.scratch / f"round-{number}"
        try:
            for layout in self.layouts:
                self.small(runner, number, layout, base / f"small-{layout}")
            self.big(runner, base / "big")
        finally:
            shutil.rmtree(base, ignore_errors=True)

    def small(self, runner: Runner, number: int, layout: str, base: Path) -> None:
        """put, get, stat, list, delete of many small objects, each phase over all contestants."""
        n = self.args.objects if number else min(self.args.objects, 100)
        keys = make_keys(n, layout)
        data, nbytes = make_data(self.args.seed, OBJECT_SIZE), n * OBJECT_SIZE
        what = f"{n} ({layout})"
        adapters = {name: open_adapter(name, base / name) for name in (RAW, *self.names)}
        raw = adapters[RAW]
        assert isinstance(raw, RawAdapter)

        def phase(kind: str, label: str, expect: object = None, memory: int = 0) -> None:
            jobs = {name: adapter.job(kind, keys, data) for name, adapter in adapters.items()}
            if kind == "list":
                jobs[RAW_WALK_STAT] = raw.list_with_stat
            workload = Workload(f"{kind}-{layout}", label, n, fresh_memory=memory)
            runner.phase(workload, jobs, expect)

        try:
            phase("put", f"put {n} x {OBJECT_SIZE // KIB} KiB ({layout})", None, 2 * nbytes)
            if number == 0:
                check_stored(adapters, keys[-1], data)
            phase("get", f"get {n} x {OBJECT_SIZE // KIB} KiB ({layout})", nbytes)
            phase("stat", f"stat {what}", nbytes)
            phase("list", f"list {what}", lambda out: out[0] == n and out[1] in (None, nbytes))
            phase("delete", f"delete {what}")
            for name in adapters:
                if any(files for _, _, files in os.walk(base / name)):
                    raise AssertionError(f"{name} left files behind after deleting every key")
        finally:
            for adapter in adapters.values():
                adapter.close()

    def big(self, runner: Runner, base: Path) -> None:
        """One contestant after another (shuffled): bytes in memory both ways, then a file up and
        down; each object is deleted once read back, so the page cache stays small."""
        mem, big = self.args.memory_mib * MIB, self.args.file_mib * MIB
        put_mem = big_workload("put-mem", f"put {mem // MIB} MiB from memory", mem)
        get_mem = big_workload("get-mem", f"get {mem // MIB} MiB into memory", mem)
        put_file = big_workload("put-file", f"put {big // MIB} MiB from a file", big)
        get_file = big_workload("get-file", f"get {big // MIB} MiB to a file", big)
        for name in runner.shuffled([RAW, *self.names]):
            adapter, dst = open_adapter(name, base / name), base / f"download-{name}.bin"
            try:
                runner.run(put_mem, name, partial(adapter.put, "big-mem", self.blob))
                runner.run(get_mem, name, adapter.job("get", ["big-mem"]), mem)
                adapter.delete("big-mem")
                runner.run(put_file, name, adapter.job("put_file", ["big-file"], path=self.source))
                runner.run(get_file, name, adapter.job("get_file", ["big-file"], path=dst), big)
                dst.unlink()
                adapter.delete("big-file")
            finally:
                adapter.close()

    def mark(self, wid: str, name: str) -> str:
        return " †" if wid.startswith("put") and name in NOT_ATOMIC else ""

    def report(self, results: Results) -> list[tuple[str, str]]:
        rows: list[Row] = []
        for wid in (
            f"{kind}-{layout}"
            for kind in ("put", "get", "stat", "delete", "list")
            for layout in self.layouts
        ):
            label = results.workloads[wid].label if wid in results.workloads else ""
            if wid.startswith("list") and label:
                rows.append(Row(wid, f"{label}, raw = os.walk names only"))
                rows.append(Row(wid, f"{label}, raw = os.walk+stat", RAW_WALK_STAT))
            elif label:
                rows.append(Row(wid, label))
        rows += [Row(wid, results.workloads[wid].label) for wid in BIG if wid in results.workloads]
        notes = NOTES if set(NOT_ATOMIC) & set(self.names) else NOTES[:1]
        ratios = ratio_table(results, rows, self.names, self.mark) + "\n\n" + bullets(notes)
        kilo = partial(fmt_rate, kilo=True)
        raw_rows = [row.workload for row in rows if row.baseline == RAW]
        rates = rate_table(results, raw_rows, (RAW, *self.names), kilo)
        walk = [
            f"{w.label}: {kilo(w, m)}"
            for wid, w in results.workloads.items()
            if (m := results.median(wid, RAW_WALK_STAT))
        ]
        if walk:
            rates += "\n\nos.walk+stat: " + "; ".join(walk)
        return [("Time, as a ratio to raw", ratios), ("Throughput (medians)", rates)]


if __name__ == "__main__":
    sys.exit(LocalBench().main())
