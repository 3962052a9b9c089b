"""The file backend across processes: CAS races, SIGKILL mid-put, memory bounds."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import objstore

SIZE = 8 * 1024 * 1024


def _increment_many(root: str, times: int) -> int:
    """Increment the counter ``times`` times with compare-and-swap; return the retries."""
    retries = 0
    with objstore.open(f"file://{root}") as store:
        for _ in range(times):
            while True:
                with store.open("counter") as reader:
                    value, etag = int(reader.read()), reader.info.etag
                try:
                    store.put("counter", str(value + 1).encode(), if_match=etag)
                    break
                except objstore.PreconditionFailedError:
                    retries += 1
    return retries


def _create_if_absent(args: tuple[str, int]) -> bool:
    root, writer = args
    with objstore.open(f"file://{root}") as store:
        try:
            store.put("only-one", f"writer {writer}".encode(), if_none_match="*")
        except objstore.PreconditionFailedError:
            return False
        return True


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_compare_and_swap_across_processes_loses_no_update(
    tmp_path: Path, start_method: str
) -> None:
    with objstore.open(f"file://{tmp_path}") as store:
        store.put("counter", b"0")
    context = multiprocessing.get_context(start_method)
    with context.Pool(4) as pool:
        retries = pool.starmap(_increment_many, [(str(tmp_path), 30)] * 4)
    with objstore.open(f"file://{tmp_path}") as store:
        assert store.get("counter") == b"120"
    assert sum(retries) >= 0


def test_forked_children_share_a_store_safely(tmp_path: Path) -> None:
    with objstore.open(f"file://{tmp_path}") as store:
        store.put("counter", b"0")
        store.stat("counter")  # the parent has used its lock before forking
        context = multiprocessing.get_context("fork")
        processes = [
            context.Process(target=_increment_many, args=(str(tmp_path), 25)) for _ in range(3)
        ]
        for process in processes:
            process.start()
        _increment_many(str(tmp_path), 25)
        for process in processes:
            process.join(60)
            assert process.exitcode == 0
        assert store.get("counter") == b"100"


def test_create_if_absent_across_processes_has_one_winner(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    for round_ in range(3):
        root = tmp_path / f"round{round_}"
        with context.Pool(4) as pool:
            wins = pool.map(_create_if_absent, [(str(root), i) for i in range(8)])
        assert sum(wins) == 1


WRITER = textwrap.dedent(
    """
    import sys, objstore
    store = objstore.open("file://" + sys.argv[1])
    size = int(sys.argv[2])
    i = 0
    while True:
        letter = b"ABCD"[i % 4 : i % 4 + 1]
        # a stream of unknown length, so the write takes many system calls
        store.put("victim", (letter * (1 << 20) for _ in range(size >> 20)))
        print(i, flush=True)
        i += 1
    """
)


@pytest.mark.slow
def test_sigkill_mid_put_leaves_old_object_whole_and_no_debris(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with objstore.open(f"file://{root}") as store:
        store.put("victim", b"Z" * SIZE)
    whole = {bytes([c]) * SIZE for c in b"ABCDZ"}
    for delay in (0.0, 0.013, 0.031, 0.057, 0.089, 0.15):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(SIZE)], stdout=subprocess.PIPE
        )
        assert child.stdout is not None
        child.stdout.readline()  # at least one put has completed: we are mid-stream now
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        with objstore.open(f"file://{root}") as store:
            assert store.get("victim") in whole
            assert [i.key for i in store.list()] == ["victim"]
        # Nothing partial on disk: O_TMPFILE data has no name until it is complete.
        for name in os.listdir(root):
            assert (root / name).stat().st_size == SIZE, f"partial file {name!r} left behind"


MEMORY_PROBE = textwrap.dedent(
    """
    import sys, objstore

    def peak_kib():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    store = objstore.open("file://" + sys.argv[1])
    size = 400 << 20
    chunk = b"x" * (1 << 20)
    store.put("warm", b"x")  # imports and caches done before the baseline
    base = peak_kib()
    store.put("big", (chunk for _ in range(size >> 20)))
    total = sum(len(c) for c in store.get_stream("big"))
    assert total == size, total
    with store.open("big") as reader:
        while reader.read(1 << 20):
            pass
    print(peak_kib() - base)
    """
)


@pytest.mark.slow
def test_streaming_400_mib_keeps_memory_bounded(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    growth_mib = int(out.stdout) / 1024
    assert growth_mib < 64, f"RSS grew by {growth_mib:.1f} MiB"
