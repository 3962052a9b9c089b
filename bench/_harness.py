"""The benchmarks' harness: timing, statistics, the report and the command line.

A script subclasses :class:`Bench` (options, contestants, one round, the report)
and times its runs through a :class:`Runner` (interleaved in a shuffled order,
settled, checked). ``side_worker.py`` imports this module in the side
virtualenv, so only the standard library is imported here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.metadata
import importlib.util
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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

KIB, MIB = 1 << 10, 1 << 20
CHUNK = MIB  # the read/write unit of every streamed file transfer
RAW = "raw"  # the usual baseline: plain Python, plain boto3
BENCH_DIR = Path(__file__).resolve().parent
Job = Callable[[], object]


def make_data(seed: int, size: int) -> bytes:
    """An object's content: the same bytes in every process for the same seed and size."""
    return random.Random(seed).randbytes(size)


def flat_keys(n: int) -> list[str]:
    """``obj-00001`` ... ``obj-<n>``."""
    return [f"obj-{i:05d}" for i in range(1, n + 1)]


def make_source_file(directory: Path, size: int) -> Path:
    """The big file the contestants upload, created once."""
    path = directory / f"source-{size}.bin"
    chunk = os.urandom(CHUNK)
    with open(path, "wb") as out:
        for _ in range(size // CHUNK):
            out.write(chunk)
        out.write(chunk[: size % CHUNK])
    return path


# -- timing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One timed run: its seconds, what it returned, and other figures (``lag``...)."""

    seconds: float
    out: object = None
    extra: dict[str, float] = field(default_factory=dict)


def timed(job: Job) -> Measured:
    """Collect garbage, then run ``job`` once; a job that timed itself returns a Measured."""
    gc.collect()
    start = time.perf_counter()
    out = job()
    seconds = time.perf_counter() - start
    return out if isinstance(out, Measured) else Measured(seconds, out)


async def timed_batch(batch: Callable[[], Awaitable[object]], interval: float = 0.005) -> Measured:
    """Run one batch of coroutines while a probe task on the same loop sleeps ``interval``
    again and again: its worst overshoot is ``extra["lag"]`` (work holding the loop shows)."""
    worst = 0.0

    async def probe() -> None:
        nonlocal worst
        while True:
            start = time.perf_counter()
            await asyncio.sleep(interval)
            worst = max(worst, time.perf_counter() - start - interval)

    gc.collect()
    task = asyncio.get_running_loop().create_task(probe())
    await asyncio.sleep(0)  # let it take its first timestamp
    try:
        start = time.perf_counter()
        out = await batch()
        seconds = time.perf_counter() - start
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return Measured(seconds, out, {"lag": worst})


def prime_memory(directory: Path, size: int) -> None:
    """Write and delete a throwaway file of ``size`` bytes: the kernel reuses the pages freed
    last first, so the next timed run gets pages the host backs (bench/README.md, "Why the
    memory priming": free page reporting makes the others ~10x slower to touch)."""
    path = directory / "prime.bin"
    zeros = bytes(CHUNK)
    with open(path, "wb") as out:
        for _ in range(-(-size // CHUNK)):
            out.write(zeros)
    path.unlink()


@dataclass(frozen=True)
class Workload:
    """One row of the report: what was timed, and how to express it as a rate."""

    id: str
    label: str
    ops: int = 0  # operations per run, for ops/s
    nbytes: int = 0  # bytes per run, for MiB/s (big transfers)
    fresh_memory: int = 0  # bytes of new pages (page cache, buffers) one run needs


@dataclass
class Results:
    """Every counted run, by workload id and contestant."""

    workloads: dict[str, Workload] = field(default_factory=dict)
    runs: dict[str, dict[str, list[Measured]]] = field(default_factory=dict)

    def add(self, workload: Workload, name: str, run: Measured) -> None:
        self.workloads[workload.id] = workload
        self.runs.setdefault(workload.id, {}).setdefault(name, []).append(run)

    def values(self, wid: str, name: str, key: str = "") -> list[float]:
        """The seconds of every run (or its ``extra[key]``)."""
        runs = self.runs.get(wid, {}).get(name, [])
        if not key:
            return [run.seconds for run in runs]
        return [run.extra[key] for run in runs if key in run.extra]

    def median(self, wid: str, name: str, key: str = "") -> float | None:
        values = self.values(wid, name, key)
        return statistics.median(values) if values else None


@dataclass
class Runner:
    """Times the runs of one benchmark, in a shuffled order, and keeps those that count."""

    rng: random.Random
    scratch: Path
    settle: bool  # os.sync() and memory priming before each timed run
    results: Results = field(default_factory=Results)
    counted: bool = False  # False in the warm-up round

    def shuffled(self, names: Iterable[str]) -> list[str]:
        order = list(names)
        self.rng.shuffle(order)
        return order

    def run(self, workload: Workload, name: str, job: Job, expect: object = None) -> None:
        """Time ``job``, then check what it returned (equal to ``expect``, or a predicate)."""
        if self.settle:
            os.sync()  # earlier writes' writeback must not land in this timing
            if workload.fresh_memory:
                prime_memory(self.scratch, workload.fresh_memory)
        run = timed(job)
        good = expect(run.out) if callable(expect) else expect in (None, run.out)
        if not good:
            raise AssertionError(f"{name} / {workload.label}: got {run.out!r}, not {expect!r}")
        if self.counted:
            self.results.add(workload, name, run)

    def phase(self, workload: Workload, jobs: dict[str, Job], expect: object = None) -> None:
        """Run every contestant's job once, in a fresh shuffled order."""
        for name in self.shuffled(jobs):
            self.run(workload, name, jobs[name], expect)


# -- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A row of a ratio table: a workload against one baseline."""

    workload: str
    label: str
    baseline: str = RAW


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_rate(workload: Workload, seconds: float, kilo: bool = False) -> str:
    """Operations per second (in thousands with ``kilo``), or MiB/s for the big transfers."""
    if not workload.ops:
        return f"{workload.nbytes / MIB / seconds:.0f} MiB/s"
    if kilo:
        return f"{workload.ops / seconds / 1000:.1f}k ops/s"
    return f"{workload.ops / seconds:.0f} ops/s"


def table(head: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> str:
    """A Markdown table (empty without rows); ``align``: ``l`` or ``r`` per column (``lrr...``)."""
    align = align or "l" + "r" * (len(head) - 1)
    lines = ["| " + " | ".join(cells) + " |" for cells in rows]
    if not lines:
        return ""
    rule = "|" + "".join(f"---{':' * (a == 'r')}|" for a in align)
    return "\n".join(["| " + " | ".join(head) + " |", rule, *lines])


def ratio_table(
    results: Results,
    rows: Iterable[Row],
    names: Sequence[str],
    mark: Callable[[str, str], str],
    baseline: str = RAW,
) -> str:
    """Per row: the baseline's median, then each contestant's ``ratio (median)`` and mark."""
    body = []
    for row in rows:
        base = results.median(row.workload, row.baseline)
        cells = [row.label, fmt_time(base) if base else "n/a"]
        for name in names:
            median = results.median(row.workload, name)
            if median is None or not base:
                cells.append("n/a")
                continue
            cells.append(f"{base / median:.2f}x ({fmt_time(median)}){mark(row.workload, name)}")
        body.append(cells)
    return table(["workload", baseline, *names], body)


def rate_table(
    results: Results,
    wids: Iterable[str],
    names: Sequence[str],
    rate: Callable[[Workload, float], str] = fmt_rate,
    missing: str = "n/a",
) -> str:
    """Per workload: each contestant's median as a rate (``missing`` where it did not run)."""
    body = []
    for wid in wids:
        workload = results.workloads[wid]
        medians = [results.median(wid, name) for name in names]
        body.append([workload.label, *(rate(workload, m) if m else missing for m in medians)])
    return table(["workload", *names], body)


def bullets(notes: Iterable[str]) -> str:
    return "\n".join(f"- {note}" for note in notes)


def header(title: str, env: dict[str, Any], settings: str) -> str:
    """The report's title and setting: the machine, the load, the libraries, the options."""
    load = "/".join(f"{x:.2f}" for x in env["load_at_start"])
    lines = [
        f"# {title}",
        "",
        f"- Python {env['python']} ({env['implementation']}) on {env['platform']}",
        f"- machine: {env['machine']}, {env['cpu_count']} CPUs; load average at start {load}; "
        f"scratch directory {env['base_dir']} ({env['filesystem']})",
    ]
    if "server" in env:
        lines.append(f"- server: {env['server']} on 127.0.0.1")
    libs = ", ".join(f"{k} {v}" for k, v in env["libraries"].items())
    lines += [f"- libraries: {libs}; objstore checkout {env['objstore_revision']}", f"- {settings}"]
    return "\n".join(lines)


def results_json(results: Results) -> dict[str, Any]:
    """Every counted run's seconds and figures, and the medians, by workload and contestant."""
    return {
        wid: {
            "workload": asdict(workload),
            "contestants": {
                name: {
                    "times_s": results.values(wid, name),
                    "median_s": results.median(wid, name),
                    **{f"{key}_s": results.values(wid, name, key) for key in runs[0].extra},
                }
                for name, runs in results.runs[wid].items()
            },
        }
        for wid, workload in results.workloads.items()
    }


# -- the machine ------------------------------------------------------------------------------


def wait_for_load(limit: float, timeout: float = 300.0) -> None:
    """Wait (up to ``timeout`` s) until the 1-minute load average is below ``limit``."""
    deadline = time.monotonic() + timeout
    while (load := os.getloadavg()[0]) >= limit and time.monotonic() < deadline:
        print(f"waiting: 1-minute load {load:.2f} >= {limit}", file=sys.stderr, flush=True)
        time.sleep(15)


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding ``path``, from /proc/mounts (Linux)."""
    target, best, kind = os.path.realpath(path), "", "unknown"
    with contextlib.suppress(OSError), open("/proc/mounts") as mounts:
        for line in mounts:
            point, fstype = line.split()[1:3]
            inside = target == point or target.startswith(point.rstrip("/") + "/")
            if inside and len(point) > len(best):
                best, kind = point, fstype
    return kind


def source_revision() -> str:
    """The objstore checkout being measured: ``git describe``, ``-dirty`` if edited."""
    command = ["git", "-C", str(BENCH_DIR.parent), "describe", "--always", "--dirty"]
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


# -- a benchmark script -----------------------------------------------------------------------


class Bench:
    """A benchmark script: subclasses declare the options, contestants, rounds and report."""

    title = ""  # the report's title
    stem = ""  # bench/results/<stem>-<time>.json, formatted with the options ({server})
    #: count options: (name, default, value with --quick, help)
    counts: tuple[tuple[str, int, int, str], ...] = (("rounds", 5, 1, "counted rounds"),)
    contestants: tuple[str, ...] = ()  # the names --only accepts
    defaults: tuple[str, ...] = ()  # those that run without --only
    always: tuple[str, ...] = ()  # those that run whatever --only says (where they can)
    setting = ""  # the header's setting after the counts, formatted with the options
    baseline = RAW  # the ratios are to it
    packages: tuple[str, ...] = ("objstore",)  # always in the header's libraries
    server = False  # whether --server picks a loopback S3 server
    args: argparse.Namespace
    names: tuple[str, ...]  # the contestants that run
    scratch: Path

    def options(self, parser: argparse.ArgumentParser) -> None:
        """Add the script's own options."""

    def mark(self, wid: str, name: str) -> str:
        """A footnote sign for ``name``'s cell in the ratio table's row ``wid``."""
        return ""

    def why_not(self, name: str) -> str | None:
        """Why ``name`` cannot run here (it is skipped with a note), or None."""
        module = package(name)
        return None if importable(module) else f"{module} is not installed"

    def setup(self) -> contextlib.AbstractContextManager[object]:
        """What the rounds need around them (a server...)."""
        return contextlib.nullcontext()

    def libraries(self) -> dict[str, str]:
        packages = dict.fromkeys([*self.packages, *map(package, self.names)])
        return {name: found for name in packages if (found := package_version(name))}

    def environment(self) -> dict[str, Any]:
        return {
            "python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "base_dir": str(self.scratch),
            "filesystem": filesystem_type(self.scratch),
            "libraries": self.libraries(),
            "objstore_revision": source_revision(),
            "load_at_start": os.getloadavg(),
        }

    def settings(self) -> str:
        """The header's last line: the options that shape the figures, and the setting."""
        args = self.args
        counts = " ".join(f"{flag(name)} {getattr(args, name)}" for name, *_ in self.counts)
        settle = "no (--no-settle)" if args.no_settle else "yes"
        setting = self.setting.format(**vars(args))
        return f"medians of the rounds; {counts} --seed {args.seed}; {setting}settle: {settle}"

    def round(self, runner: Runner, number: int) -> None:
        """Run every workload for every contestant once (round 0 is the warm-up)."""
        raise NotImplementedError

    def report(self, results: Results) -> list[tuple[str, str]]:
        """The report's sections: (title, Markdown body); those without a body are left out."""
        raise NotImplementedError

    def parse(self, argv: Sequence[str] | None) -> argparse.Namespace:
        doc = sys.modules[type(self).__module__].__doc__ or ""
        parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
        quick = " ".join(f"{flag(name)} {fast}" for name, _, fast, _ in self.counts)
        parser.add_argument("--quick", action="store_true", help=f"smoke test: {quick}")
        for name, full, fast, text in self.counts:
            parser.add_argument(flag(name), type=int, help=f"{text} ({full}; {fast} with --quick)")
        if self.contestants:
            parser.add_argument(
                "--only",
                "--contestants",
                metavar="NAMES",
                default=",".join(self.defaults),
                help=f"comma-separated, from {', '.join(self.contestants)} "
                f"({self.baseline} always runs)",
            )
        if self.server:
            parser.add_argument(
                "--server",
                choices=("rclone", "moto"),
                default="rclone",
                help="the loopback S3 server",
            )
        parser.add_argument("--dir", type=Path, help="where to make the scratch directory (/tmp)")
        settle = "skip os.sync() and memory priming before each timed run"
        parser.add_argument("--no-settle", action="store_true", help=settle)
        parser.add_argument("--seed", type=int, help="shuffle seed (random by default)")
        wait = "first wait (up to 5 min) until the 1-minute load average is below LIMIT"
        parser.add_argument("--wait-load", type=float, metavar="LIMIT", help=wait)
        self.options(parser)
        args = parser.parse_args(argv)
        for name, full, fast, _ in self.counts:
            if getattr(args, name) is None:
                setattr(args, name, fast if args.quick else full)
            if getattr(args, name) < 1:
                parser.error(f"{flag(name)} must be at least 1")
        args.only = [n.strip() for n in getattr(args, "only", "").split(",") if n.strip()]
        if unknown := set(args.only) - set(self.contestants):
            parser.error(f"unknown contestants: {', '.join(sorted(unknown))}")
        args.seed = args.seed if args.seed is not None else random.randrange(1 << 30)
        return args

    def main(self, argv: Sequence[str] | None = None) -> int:
        """Parse the command line, run the warm-up and the counted rounds, print the report."""
        self.args = args = self.parse(argv)
        self.names = keep_available(dict.fromkeys([*self.always, *args.only]), self.why_not)
        if args.wait_load is not None:
            wait_for_load(args.wait_load)
        if args.dir is not None:
            args.dir.mkdir(parents=True, exist_ok=True)
        self.scratch = Path(tempfile.mkdtemp(prefix="objstore-bench-", dir=args.dir))
        runner = Runner(random.Random(args.seed), self.scratch, not args.no_settle)
        try:
            with self.setup():
                env = self.environment()
                print(header(self.title, env, self.settings()), flush=True)
                started = time.perf_counter()
                for number in range(args.rounds + 1):
                    runner.counted = number > 0  # round 0 warms up
                    self.round(runner, number)
                    elapsed = time.perf_counter() - started
                    print(f"round {number}/{args.rounds} done ({elapsed:.0f} s)", file=sys.stderr)
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)
        self.publish(runner.results, {**env, "load_at_end": os.getloadavg()})
        return 0

    def publish(self, results: Results, env: dict[str, Any]) -> None:
        """Print the report's sections, then save the JSON document and say where."""
        for title, body in self.report(results):
            if body:
                print(f"\n## {title}\n\n{body}")
        created = datetime.now().astimezone()
        path = (
            BENCH_DIR
            / "results"
            / f"{self.stem.format(**vars(self.args))}-{created:%Y%m%d-%H%M%S}.json"
        )
        path.parent.mkdir(exist_ok=True)
        config = {**vars(self.args), "contestants": self.names, "baseline": self.baseline}
        document = {
            "created": created.isoformat(timespec="seconds"),
            "environment": env,
            "config": config,
            "results": results_json(results),
        }
        path.write_text(json.dumps(document, indent=2, default=str) + "\n")
        print(f"\nJSON: {path.relative_to(BENCH_DIR.parent)}", flush=True)


def flag(name: str) -> str:
    """The option of a count: ``file_mib`` is ``--file-mib``."""
    return "--" + name.replace("_", "-")


def package(name: str) -> str:
    """The distribution a contestant needs (``opendal-inplace``: ``opendal``)."""
    return name.split("-", maxsplit=1)[0]


def importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def keep_available(names: Iterable[str], why_not: Callable[[str], str | None]) -> tuple[str, ...]:
    """The contestants that can run here; a note on stderr for each other."""
    keep = []
    for name in names:
        if why := why_not(name):
            print(f"note: {name} skipped ({why})", file=sys.stderr)
        else:
            keep.append(name)
    return tuple(keep)
