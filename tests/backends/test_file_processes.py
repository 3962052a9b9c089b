"""The file backend across processes: CAS races, listings beside deleters, an
unprivileged uid, SIGKILL mid-put and mid-commit, memory bounds."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from filetree import STAGING, leftovers

import objstore
from objstore.backends.local import FileBackend

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
        # Nothing partial on disk: O_TMPFILE data has no name until it is complete, and
        # the store that just opened swept what a kill inside the commit left.
        assert leftovers(root) == []


HOOKED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    import objstore
    from objstore.backends import _localwrite
    from objstore.backends.local import FileBackend

    root, storage, temp, point = sys.argv[1:5]
    if temp == "named":
        _localwrite.O_TMPFILE = 0  # as on a filesystem without O_TMPFILE
    real_rename = os.rename

    def pause():
        print("in the window", flush=True)
        time.sleep(60)

    def rename(src, dst, **kwargs):
        # Widen the window around the data file's rename into place (the key's last
        # segment is "x"): the parent kills this process while it sleeps there.
        if dst == "x" and point == "before-rename":
            pause()
        real_rename(src, dst, **kwargs)
        if dst == "x" and point == "after-rename":
            pause()

    os.rename = rename
    store = objstore.Store(FileBackend(root, metadata_storage=storage))
    store.put("d/x", b"new" * 100_000, metadata={"v": "new"})
    """
)


@pytest.mark.parametrize(
    ("storage", "temp"), [("xattr", "anonymous"), ("sidecar", "anonymous"), ("xattr", "named")]
)
def test_sigkill_inside_the_commit_leaves_nothing_behind(
    tmp_path: Path, storage: str, temp: str
) -> None:
    """A writer killed with SIGKILL right before or right after its rename: the next store
    to open finds the old or the new version whole, with its own metadata, and no debris;
    and the directory the killed writer used never blocks a key."""
    root = tmp_path / "store"
    for point in ("before-rename", "after-rename"):
        with objstore.Store(FileBackend(root, metadata_storage=storage)) as store:  # type: ignore[arg-type]
            store.put("d/x", b"old", metadata={"v": "old"})
        child = subprocess.Popen(
            [sys.executable, "-c", HOOKED_WRITER, str(root), storage, temp, point],
            stdout=subprocess.PIPE,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == b"in the window\n"
        child.send_signal(signal.SIGKILL)
        child.wait()
        version = "old" if point == "before-rename" else "new"
        with objstore.Store(FileBackend(root, metadata_storage=storage)) as store:  # type: ignore[arg-type]
            assert store.get("d/x") == (b"old" if version == "old" else b"new" * 100_000)
            assert store.stat("d/x").metadata == {"v": version}
            assert leftovers(root) == [], point
            store.delete("d/x")
            store.put("d", b"a file where the directory was")
            assert [info.key for info in store.list()] == ["d"]
            store.delete("d")
        assert leftovers(root) == []


PAUSED_WRITER = textwrap.dedent(
    """
    import sys
    import objstore
    from objstore.backends import _localwrite

    _localwrite.O_TMPFILE = 0  # a named temp file: what a sweep could mistake for debris
    store = objstore.open("file://" + sys.argv[1])

    def data():
        yield b"first half, "
        print("writing", flush=True)
        sys.stdin.readline()
        yield b"second half"

    store.put("k", data())
    print("committed", flush=True)
    """
)


def test_opening_a_store_spares_a_live_writers_temp_file(tmp_path: Path) -> None:
    root = tmp_path / "store"
    child = subprocess.Popen(
        [sys.executable, "-c", PAUSED_WRITER, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        assert child.stdout.readline() == b"writing\n"
        assert len(os.listdir(root / STAGING)) == 1
        with objstore.open(f"file://{root}") as store:  # sweeps: this temp file is live
            assert list(store.list()) == []
        assert len(os.listdir(root / STAGING)) == 1
        child.stdin.write(b"go on\n")
        child.stdin.flush()
        assert child.stdout.readline() == b"committed\n"
    finally:
        child.kill()
        child.wait()
    with objstore.open(f"file://{root}") as store:
        assert store.get("k") == b"first half, second half"
    assert leftovers(root) == []


# -- listings beside other processes -----------------------------------------------------------

STABLE = [f"{d}/{i}" for d in ("a", "u") for i in range(10)]


def _churn(root: str, seconds: float, first: int) -> None:
    """Write twenty keys ``t/<n>`` as files, delete them, write them as directories
    (``t/<n>/x``), delete those, and again: racing listings see files vanish,
    directories vanish, and files become directories."""
    with objstore.open(f"file://{root}") as store:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for suffix in ("", "/x"):
                keys = [f"t/{n}{suffix}" for n in range(first, 40, 2)]
                for key in keys:
                    store.put(key, b"abc")
                for key in keys:
                    store.delete(key)


@pytest.mark.slow
def test_listings_survive_other_processes_deleting(tmp_path: Path) -> None:
    with objstore.open(f"file://{tmp_path}") as store:
        for key in STABLE:
            store.put(key, b"abc")
        context = multiprocessing.get_context("spawn")
        churners = [context.Process(target=_churn, args=(str(tmp_path), 2.0, n)) for n in (0, 1)]
        for churner in churners:
            churner.start()
        failures: list[BaseException] = []
        listings = 0
        while any(churner.is_alive() for churner in churners):
            listings += 1
            try:
                infos = [i for i in store.list() if isinstance(i, objstore.ObjectInfo)]
            except objstore.ObjstoreError as exc:
                failures.append(exc)
                continue
            keys = [info.key for info in infos]
            assert keys == sorted(keys)
            assert [k for k in keys if not k.startswith("t/")] == STABLE  # nothing else skipped
            assert {info.size for info in infos} == {3}  # no directory passed off as a file
        for churner in churners:
            churner.join()
            assert churner.exitcode == 0
    assert failures == [], f"{len(failures)} of {listings} listings failed: {failures[0]!r}"
    assert listings > 10


# -- permissions ---------------------------------------------------------------------------------

UNPRIVILEGED = 65534  # nobody


@pytest.fixture
def shared_root() -> Iterator[Path]:
    """A store root that an unprivileged uid can reach (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="objstore-perm-"))
    path.chmod(0o755)
    yield path / "store"
    for dirpath, dirnames, _ in os.walk(path):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
    shutil.rmtree(path)


def _attempts(root: str) -> dict[str, Any]:
    """Each call, and what it raised: (class, key, message, repr), or "ok" and its result."""
    calls: dict[str, Callable[[objstore.Store], Any]] = {
        "list": lambda s: [i.key for i in s.list()],
        "list s": lambda s: [i.key for i in s.list("s")],
        "list secret/": lambda s: [i.key for i in s.list("secret/")],
        "list secret/d": lambda s: [i.key for i in s.list("secret/d")],
        "list half/": lambda s: [i.key for i in s.list("half/")],
        "list /": lambda s: [i.key for i in s.list(delimiter="/")],
        "list pub/": lambda s: [i.key for i in s.list("pub/")],
        "get secret/b": lambda s: s.get("secret/b"),
        "stat half/c": lambda s: s.stat("half/c"),
        "put secret/new": lambda s: s.put("secret/new", b"x"),
    }
    out: dict[str, Any] = {}
    with objstore.open(f"file://{root}") as store:
        for name, call in calls.items():
            try:
                out[name] = ("ok", call(store))
            except objstore.ObjstoreError as exc:
                out[name] = (type(exc).__name__, exc.key, str(exc), repr(exc))
    return out


def _attempts_unprivileged(conn: Connection, root: str) -> None:
    os.setgroups([])
    os.setgid(UNPRIVILEGED)
    os.setuid(UNPRIVILEGED)
    conn.send(_attempts(root))


def test_an_unreadable_subtree_is_an_error_naming_its_prefix(shared_root: Path) -> None:
    root = shared_root
    with objstore.open(f"file://{root}") as store:
        for key in ("pub/a", "secret/b", "secret/deeper/c", "half/c", "z"):
            store.put(key, b"x")
    if os.geteuid() == 0:
        (root / "secret").chmod(0o700)  # root's own: no access for anyone else
        (root / "half").chmod(0o744)  # others may read its names, not reach its files
        _attempts(str(root))  # imports everything the child needs while it still can
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_attempts_unprivileged, args=(sender, str(root)))
        child.start()
        results = receiver.recv()
        child.join()
    else:
        (root / "secret").chmod(0)
        (root / "half").chmod(stat.S_IRUSR)
        results = _attempts(str(root))
    denied = {name: result[:2] for name, result in results.items() if result[0] != "ok"}
    assert denied == {
        "list": ("PermissionDeniedError", "half/"),
        "list s": ("PermissionDeniedError", "secret/"),
        "list secret/": ("PermissionDeniedError", "secret/"),
        "list secret/d": ("PermissionDeniedError", "secret/"),
        "list half/": ("PermissionDeniedError", "half/"),
        "list /": ("PermissionDeniedError", "half/"),
        "get secret/b": ("PermissionDeniedError", "secret/b"),
        "stat half/c": ("PermissionDeniedError", "half/c"),
        "put secret/new": ("PermissionDeniedError", "secret/new"),
    }
    assert results["list pub/"] == ("ok", ["pub/a"])
    for result in denied:
        assert str(root.parent) not in " ".join(results[result][2:]), results[result]


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
