"""What the benchmark scripts share: inputs, timing, statistics, the report and the command line.

``bench_local.py``, ``bench_s3.py`` and ``bench_async.py`` import this module
(run as ``python bench/bench_x.py``, the script's directory is on
``sys.path``), and so does ``side_worker.py``, which runs in the side
virtualenv: only the standard library is imported here. The calls the
contestants make (``ObjstoreCalls``...) import their library when first used.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    import objstore

    ConfigT = TypeVar("ConfigT", bound=DataclassInstance)

KIB = 1 << 10
MIB = 1 << 20
CHUNK = MIB  # the read/write unit of every streamed file transfer
RAW = "raw"  # the baseline of bench_local.py and bench_s3.py: plain Python, plain boto3
BENCH_DIR = Path(__file__).resolve().parent

Buffer = Any  # bytes, or a library's own buffer type (obstore.Bytes)


# -- inputs -----------------------------------------------------------------------------------


def make_data(seed: int, size: int) -> bytes:
    """An object's content: the same bytes in every process for the same seed and size."""
    return random.Random(seed).randbytes(size)


def flat_keys(n: int) -> list[str]:
    """``obj-00001`` ... ``obj-<n>``."""
    return [f"obj-{i:05d}" for i in range(1, n + 1)]


def make_source_file(directory: Path, size: int) -> Path:
    """The file every contestant uploads, created once."""
    path = directory / f"source-{size}.bin"
    chunk = os.urandom(CHUNK)
    with open(path, "wb") as out:
        for _ in range(size // CHUNK):
            out.write(chunk)
        out.write(chunk[: size % CHUNK])
    return path


def botocore_settings() -> dict[str, Any]:
    """The botocore settings of every botocore-based contestant, for a fair comparison.

    Checksums ``when_required`` (rclone refuses boto3's default trailing
    checksums; objstore's presets for S3-compatibles use the same),
    path-style addressing, SigV4, standard retries. A fresh dict every call.
    """
    return {
        "signature_version": "s3v4",
        "s3": {"addressing_style": "path"},
        "retries": {"mode": "standard", "total_max_attempts": 5},
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
    }


# -- synchronous contestants (bench_local.py, bench_s3.py) ------------------------------------


@dataclass(frozen=True)
class ListSummary:
    """What a listing saw: how many objects, and their total size (None if not asked for)."""

    count: int
    total_size: int | None


class SyncAdapter:
    """One library doing the benchmark's jobs in a store of its own (a directory, a bucket).

    Subclasses implement every job the most natural way their library documents.
    """

    name = ""

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
        """List every object in the store, touching each entry's key and size."""
        raise NotImplementedError

    def put_file(self, key: str, src: Path) -> None:
        raise NotImplementedError

    def get_file(self, key: str, dst: Path) -> None:
        raise NotImplementedError

    def close(self) -> None:
        return None


def put_all(adapter: SyncAdapter, keys: Sequence[str], data: bytes) -> None:
    for key in keys:
        adapter.put(key, data)


def get_all(adapter: SyncAdapter, keys: Sequence[str]) -> int:
    total = 0
    for key in keys:
        total += len(adapter.get(key))
    return total


def stat_all(adapter: SyncAdapter, keys: Sequence[str]) -> int:
    total = 0
    for key in keys:
        total += adapter.stat(key)
    return total


def delete_all(adapter: SyncAdapter, keys: Sequence[str]) -> None:
    for key in keys:
        adapter.delete(key)


def download(adapter: SyncAdapter, key: str, dst: Path) -> int:
    adapter.get_file(key, dst)
    return dst.stat().st_size


class ObjstoreCalls(SyncAdapter):
    """objstore's public ``Store`` API on ``self.store`` (the subclass opens it); not get_file."""

    store: objstore.Store

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

    def close(self) -> None:
        self.store.close()


class ObstoreCalls(SyncAdapter):
    """obstore's functions on ``self.store`` (a ``LocalStore`` or ``S3Store``); not get_file."""

    store: Any

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

        # A Path: locally about twice as fast as a file object; on S3 a multipart
        # upload, 5 MiB parts, 12 at once.
        obstore.put(self.store, key, src)


class OpendalCalls(SyncAdapter):
    """opendal's ``Operator`` on ``self.op`` (the subclass makes it); 1 MiB streamed transfers."""

    op: Any

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


# -- timing and results -----------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """One row of the report: what was timed, and how to express it as a rate."""

    id: str
    label: str
    ops: int = 0  # operations per run, for ops/s (small-object workloads)
    nbytes: int = 0  # bytes per run, for MiB/s (big transfers)


@dataclass(frozen=True)
class PrimedWorkload(Workload):
    """A workload that also says how much memory to prime before each run (see settle)."""

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


def shuffled(rng: random.Random, names: Iterable[str]) -> list[str]:
    """``names`` in a fresh order from ``rng``."""
    order = list(names)
    rng.shuffle(order)
    return order


def settle(enabled: bool, directory: Path, fresh_memory: int) -> None:
    """Quiet the system before a timed run: flush dirty pages, then ready the memory."""
    if not enabled:
        return
    os.sync()  # earlier writes' writeback must not land in this timing
    if fresh_memory:
        prime_memory(directory, fresh_memory)


def prime_memory(directory: Path, size: int) -> None:
    """Write and delete a throwaway file of ``size`` bytes, so ``size`` bytes of pages are ready.

    On a virtual machine with free page reporting (virtio-balloon), pages the
    guest freed a while ago are handed back to the host, and touching them again
    costs a fault in the host: writes into the page cache then run ~10x slower,
    at random. The kernel reuses the pages freed most recently first, so the
    timed run that follows gets pages that are backed, whoever runs it
    (bench/README.md, "Why the memory priming").
    """
    path = directory / "prime.bin"
    zeros = bytes(CHUNK)
    with open(path, "wb") as out:
        for _ in range(-(-size // CHUNK)):
            out.write(zeros)
    path.unlink()


def timed_call(run: Callable[[], object]) -> tuple[float, object]:
    """Collect garbage, then run ``run`` once; return the seconds it took and what it returned."""
    gc.collect()
    start = time.perf_counter()
    out = run()
    return time.perf_counter() - start, out


def check(name: str, workload: Workload, out: object, expect: object) -> None:
    """Fail unless a run returned ``expect`` (None: nothing to check)."""
    if expect is not None and out != expect:
        raise AssertionError(f"{name} / {workload.label}: got {out!r}, expected {expect!r}")


def round_done(number: int, rounds: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    print(f"round {number}/{rounds} done ({elapsed:.0f} s)", file=sys.stderr)


# -- the machine ------------------------------------------------------------------------------


def load_average() -> tuple[float, float, float]:
    try:
        one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    except (OSError, ValueError):
        return (-1.0, -1.0, -1.0)
    return (float(one), float(five), float(fifteen))


def wait_for_load(limit: float, timeout: float = 300.0) -> float:
    """Wait (up to ``timeout`` s) until the 1-minute load average is below ``limit``."""
    deadline = time.monotonic() + timeout
    while (load := load_average()[0]) >= limit and time.monotonic() < deadline:
        print(f"waiting: 1-minute load {load:.2f} >= {limit}", file=sys.stderr, flush=True)
        time.sleep(15)
    return load


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


def machine_info(base: Path) -> dict[str, Any]:
    """The interpreter, the machine and the filesystem of the scratch directory ``base``."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "base_dir": str(base),
        "filesystem": filesystem_type(base),
    }


# -- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A table row: a workload, measured against one baseline."""

    workload: str
    label: str
    baseline: str = RAW


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_rate(workload: Workload, seconds: float, kilo: bool = False) -> str:
    """Operations per second (in thousands with ``kilo``), or MiB/s for the big transfers."""
    if workload.ops:
        if kilo:
            return f"{workload.ops / seconds / 1000:.1f}k ops/s"
        return f"{workload.ops / seconds:.0f} ops/s"
    return f"{workload.nbytes / MIB / seconds:.0f} MiB/s"


def table(head: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> str:
    """A Markdown table; ``align`` has an ``l`` or ``r`` per column (default ``lrr...``)."""
    align = align or "l" + "r" * (len(head) - 1)
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "".join("---:|" if a == "r" else "---|" for a in align),
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def ratio_table(
    results: Results,
    rows: Iterable[Row],
    names: Sequence[str],
    mark: Callable[[str, str], str],
    baseline: str = RAW,
) -> str:
    """Per row: the baseline's median, then ``ratio (median)`` of each contestant.

    ``mark(workload id, contestant)`` is appended to a cell (a footnote sign).
    """
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
    workload_ids: Iterable[str],
    names: Sequence[str],
    rate: Callable[[Workload, float], str],
    missing: str = "n/a",
) -> str:
    """Per workload: each contestant's median as a rate (``missing`` where it did not run)."""
    body = []
    for wid in workload_ids:
        workload = results.workloads[wid]
        cells = [workload.label]
        for name in names:
            median = results.median(wid, name)
            cells.append(rate(workload, median) if median else missing)
        body.append(cells)
    return table(["workload", *names], body)


def bullets(notes: Iterable[str]) -> str:
    return "\n".join(f"- {n}" for n in notes)


def header(title: str, env: dict[str, Any], settings: str) -> str:
    """The report's title and setting; the load and server lines where ``env`` has them."""
    libs = ", ".join(f"{k} {v}" for k, v in env["libraries"].items())
    where = "directory"
    if "load_at_start" in env:
        load = "/".join(f"{x:.2f}" for x in env["load_at_start"])
        where = f"load average at start {load}; scratch directory"
    lines = [
        f"# {title}",
        "",
        f"- Python {env['python']} ({env['implementation']}) on {env['platform']}",
        f"- machine: {env['machine']}, {env['cpu_count']} CPUs; "
        f"{where} {env['base_dir']} ({env['filesystem']})",
    ]
    if "server" in env:
        lines.append(f"- server: {env['server']} on 127.0.0.1")
    lines.append(f"- libraries: {libs}; objstore checkout {env['objstore_revision']}")
    lines.append(f"- {settings}")
    return "\n".join(lines)


def results_json(
    results: Results,
    baseline: str,
    ratio_key: str,
    extra: Callable[[str, str, float], dict[str, Any]],
) -> dict[str, Any]:
    """Every run's time, the medians, ratios to ``baseline`` and rates, by workload.

    ``extra(workload id, contestant, median)`` adds a contestant's own keys.
    """
    out: dict[str, Any] = {}
    for wid, workload in results.workloads.items():
        base = results.median(wid, baseline)
        entries: dict[str, dict[str, Any]] = {}
        for name, runs in results.times[wid].items():
            median = statistics.median(runs)
            entries[name] = {
                "times_s": runs,
                "median_s": median,
                ratio_key: base / median if base else None,
                "ops_per_s": workload.ops / median if workload.ops else None,
                "mib_per_s": workload.nbytes / MIB / median if workload.nbytes else None,
                **extra(wid, name, median),
            }
        out[wid] = {"workload": asdict(workload), "contestants": entries}
    return out


def json_document(
    cfg: DataclassInstance, env: dict[str, Any], results: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "environment": env,
        "config": asdict(cfg),
        **extra,
        "results": results,
    }


def save_json(document: dict[str, Any], stem: str) -> Path:
    """Write ``bench/results/<stem>-<timestamp>.json``."""
    folder = BENCH_DIR / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"{stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def publish(sections: Iterable[tuple[str, str]], document: dict[str, Any], stem: str) -> None:
    """Print the report's sections (those with a body), then save the JSON and say where."""
    for title, body in sections:
        if body:
            print(f"\n## {title}\n\n{body}")
    path = save_json(document, stem)
    print(f"\nJSON: {path.relative_to(BENCH_DIR.parent)}", flush=True)


# -- the command line -------------------------------------------------------------------------


_OPTIONS: dict[str, dict[str, Any]] = {
    "--server": {
        "choices": ("rclone", "moto"),
        "default": "rclone",
        "help": "the loopback S3 server",
    },
    "--dir": {"type": Path, "help": "where to make the scratch directory (/tmp)"},
    "--no-settle": {
        "action": "store_true",
        "help": "skip os.sync() and memory priming before each timed run",
    },
    "--seed": {"type": int, "help": "shuffle seed (random by default)"},
    "--wait-load": {
        "type": float,
        "metavar": "LIMIT",
        "help": "first wait (up to 5 min) until the 1-minute load average is below LIMIT",
    },
}


def new_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser described by the first paragraph of a script's docstring."""
    return argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])


def add_options(parser: argparse.ArgumentParser, *names: str) -> None:
    """Add options that mean the same in every script (``--dir``, ``--seed``...)."""
    for name in names:
        parser.add_argument(name, **_OPTIONS[name])


def contestant_names(
    parser: argparse.ArgumentParser, text: str, known: Iterable[str]
) -> tuple[str, ...]:
    """The comma-separated names of ``--contestants``; an error for any not in ``known``."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    allowed = set(known)
    unknown = [n for n in names if n not in allowed]
    if unknown:
        parser.error(f"unknown contestants: {', '.join(unknown)}")
    return names


def pick_seed(seed: int | None) -> int:
    """``--seed``, else a random one (printed in the header, so a run can be repeated)."""
    return seed if seed is not None else random.randrange(1 << 30)


def configure(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    cfg: ConfigT,
    quick: dict[str, Any],
    counts: Sequence[str],
) -> ConfigT:
    """Apply ``--quick`` (the settings ``quick``), then the explicit ``counts`` options.

    ``counts`` name options that are also ``cfg`` fields (``rounds``, ``objects``...);
    each must end up at least 1.
    """
    if args.quick:
        cfg = replace(cfg, **quick)
    for name in counts:
        value = getattr(args, name)
        if value is not None:
            cfg = replace(cfg, **{name: value})
    if any(getattr(cfg, name) < 1 for name in counts):
        parser.error(" and ".join(f"--{name}" for name in counts) + " must be at least 1")
    return cfg


def importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def keep_available(names: Iterable[str], why_not: Callable[[str], str | None]) -> tuple[str, ...]:
    """The contestants that can run here; a note for each other, with ``why_not(name)``."""
    keep = []
    for name in names:
        why = why_not(name)
        if why:
            print(f"note: {name} skipped ({why})", file=sys.stderr)
            continue
        keep.append(name)
    return tuple(keep)


def make_scratch(parent: Path | None, prefix: str) -> Path:
    """A new scratch directory in ``parent`` (made if needed), else in the system temp dir."""
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
