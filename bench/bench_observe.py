#!/usr/bin/env python3
"""What observing a store costs: the file backend's 4 KiB ``get`` under each kind of observer.

Each mode runs in a child process of its own (OpenTelemetry's providers can be
set only once per process), on the same 2000 objects of 4 KiB in a scratch
directory (tmpfs by default, so the library's own time shows rather than the
disk's), and is reported with its ratio to ``quiet`` (``quiet / mode``: 1.00
costs nothing, 0.50 doubles the cost).

Two measures:

- time (default): modes interleaved over the rounds in a shuffled order; the
  median of the rounds, each the best of 7 passes over the objects;
- ``--instructions``: CPU instructions per call, counted by valgrind's callgrind
  as the difference between runs of 3000 and 1000 calls (so start-up cancels
  out). Deterministic to a few tenths of a percent, hence usable on a busy
  machine where times of a few microseconds wander by ±20 %.

``--baseline SRC`` adds a mode ``baseline``: quiet, with the objstore found in
``SRC`` (another checkout's ``src/``), to compare two versions of the code.

    .venv/bin/python bench/bench_observe.py
    .venv/bin/python bench/bench_observe.py --instructions --baseline ../main/src --op stat

Modes:

- ``quiet``: nothing observes the store;
- ``otel-imported``: ``opentelemetry`` imported but not configured (no provider);
- ``subscriber``: one callback that does nothing;
- ``debug``: logger ``objstore`` at DEBUG with a handler that drops the records;
- ``otel-noop``: OpenTelemetry configured with the API's no-op tracer provider;
- ``otel-sdk``: the SDK's tracer and meter providers, with no exporter (spans and
  metrics are made, then dropped).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MODES = ("quiet", "otel-imported", "subscriber", "debug", "otel-noop", "otel-sdk")
OBJECTS = 2000
SIZE = 4096
REPEATS = 7  # timed passes over every object in one child; the best is kept
COUNTS = (1000, 3000)  # calls of the two counted runs

CHILD = r"""
import logging, sys, time
mode, root, op, calls, objects, repeats = sys.argv[1:4] + [int(n) for n in sys.argv[4:7]]
if mode == "otel-imported":
    import opentelemetry.trace
elif mode == "otel-noop":
    from opentelemetry import trace
    trace.set_tracer_provider(trace.NoOpTracerProvider())
elif mode == "otel-sdk":
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    trace.set_tracer_provider(TracerProvider())
    metrics.set_meter_provider(MeterProvider())
elif mode == "debug":
    logger = logging.getLogger("objstore")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
import objstore
keys = [f"obj-{i:05d}" for i in range(objects)]
with objstore.open("file://" + root) as store:
    if mode == "subscriber":
        store.subscribe(lambda event: None)
    call = getattr(store, op)
    for key in keys[:200]:
        call(key)  # warm up
    if calls:  # counted: just the calls
        for i in range(calls):
            call(keys[i % len(keys)])
        sys.exit()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for key in keys:
            call(key)
        best = min(best, time.perf_counter() - started)
print(best / len(keys))
"""


def populate(root: Path) -> None:
    data = random.Random(0).randbytes(SIZE)
    for i in range(OBJECTS):
        (root / f"obj-{i:05d}").write_bytes(data)


def child(mode: str, root: Path, op: str, calls: int) -> list[str]:
    env_mode = "quiet" if mode == "baseline" else mode
    numbers = [str(calls), str(OBJECTS), str(REPEATS)]
    return [sys.executable, "-c", CHILD, env_mode, str(root), op, *numbers]


def environment(mode: str, baseline: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if mode == "baseline" and baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    return env


def seconds_per_call(mode: str, root: Path, op: str, baseline: Path | None) -> float:
    result = subprocess.run(
        child(mode, root, op, 0),
        capture_output=True, text=True, check=True, env=environment(mode, baseline),
    )  # fmt: skip
    return float(result.stdout)


def instructions_per_call(mode: str, root: Path, op: str, baseline: Path | None) -> float:
    counted = []
    for calls in COUNTS:
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        result = subprocess.run(
            command + child(mode, root, op, calls),
            capture_output=True, text=True, check=True, env=environment(mode, baseline),
        )  # fmt: skip
        found = re.search(r"Collected : (\d+)", result.stderr)
        if found is None:
            raise SystemExit(f"no instruction count from valgrind:\n{result.stderr[-2000:]}")
        counted.append(int(found.group(1)))
    return (counted[1] - counted[0]) / (COUNTS[1] - COUNTS[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="time rounds (default 5)")
    parser.add_argument("--dir", type=Path, default=Path("/dev/shm"))
    parser.add_argument("--op", choices=("get", "stat", "exists"), default="get")
    parser.add_argument("--instructions", action="store_true", help="count, with valgrind")
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout's src/")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    modes = (*MODES, "baseline") if args.baseline else MODES
    seed = args.seed if args.seed is not None else random.randrange(1 << 16)
    rng = random.Random(seed)
    root = Path(tempfile.mkdtemp(prefix="objstore-observe-", dir=args.dir))
    figures: dict[str, list[float]] = {mode: [] for mode in modes}
    try:
        populate(root)
        rounds = 1 if args.instructions else args.rounds
        measure = instructions_per_call if args.instructions else seconds_per_call
        for number in range(1, rounds + 1):
            for mode in rng.sample(modes, len(modes)):
                figures[mode].append(measure(mode, root, args.op, args.baseline))
            print(f"round {number}/{rounds} done", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(figures, args, seed)


def report(figures: dict[str, list[float]], args: argparse.Namespace, seed: int) -> None:
    quiet = statistics.median(figures["quiet"])
    what = "instructions" if args.instructions else "time"
    print(f"# Observing a store: {what} per 4 KiB {args.op}, file backend in {args.dir}\n")
    if args.instructions:
        print(f"callgrind, calls {COUNTS[1]} minus calls {COUNTS[0]}\n")
    else:
        print(f"{args.rounds} rounds, seed {seed}; median of the rounds (best of {REPEATS})\n")
    print(f"| mode | per {args.op} | ratio to quiet |")
    print("|---|---:|---:|")
    for mode, values in figures.items():
        value = statistics.median(values)
        shown = f"{value:,.0f}" if args.instructions else f"{value * 1e6:.2f} µs"
        print(f"| {mode} | {shown} | {quiet / value:.3f}x |")
    if args.baseline:
        print(f"\nbaseline: quiet, objstore from {args.baseline}")


if __name__ == "__main__":
    main()
