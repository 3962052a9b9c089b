"""``objstore sync``: between any two stores, resumable, sending only what changed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cli_run import entries, environment, run, s3_url, start, wait_for

import objstore
from objstore.testing._helpers import pattern

SUMMARY = re.compile(
    r"sent (\d+) objects? \((\d+) bytes, [^)]*\), skipped (\d+), deleted (\d+)(?:, failed (\d+))?\n"
)


@dataclass
class Summary:
    sent: int
    sent_bytes: int
    skipped: int
    deleted: int
    failed: int


def synced(*args: str, cwd: Path, status: int = 0) -> Summary:
    result = run("sync", *args, cwd=cwd)
    assert result.returncode == status, result.stderr
    match = SUMMARY.search(result.stdout)
    assert match is not None and result.stdout.endswith(match.group(0)), result.stdout
    sent, sent_bytes, skipped, deleted, failed = (int(g or 0) for g in match.groups())
    return Summary(sent, sent_bytes, skipped, deleted, failed)


def snapshot(store: objstore.Store) -> dict[str, tuple[bytes, str | None, dict[str, str]]]:
    """Every object's bytes, content type and metadata."""
    out = {}
    for item in store.list():
        info = store.stat(item.key)
        out[item.key] = (store.get(item.key), info.content_type, dict(info.metadata or {}))
    return out


def fill(store: objstore.Store) -> None:
    store.put("a.txt", b"alpha")
    store.put("docs/report.pdf", pattern(70_000), metadata={"owner": "zoë", "rev": "3"})
    store.put("docs/ünï/日本.bin", b"\x00\x01", content_type="application/x-custom")
    store.put("empty", b"")


def test_file_to_file_keeps_everything_and_sends_only_changes(tmp_path: Path) -> None:
    with objstore.open(f"file://{tmp_path / 'src'}") as src:
        fill(src)
        assert synced("src", "dst", cwd=tmp_path) == Summary(4, 70_007, 0, 0, 0)
        with objstore.open(f"file://{tmp_path / 'dst'}") as dst:
            assert snapshot(dst) == snapshot(src)
            assert synced("src", "dst", cwd=tmp_path) == Summary(0, 0, 4, 0, 0)
            src.put("a.txt", b"ALPHA")  # same size, new content
            assert synced("src", "dst", cwd=tmp_path) == Summary(1, 5, 3, 0, 0)
            assert dst.get("a.txt") == b"ALPHA"
            dst.put("docs/report.pdf", b"changed behind sync's back")
            assert synced("src", "dst", cwd=tmp_path).sent == 1
            assert snapshot(dst) == snapshot(src)


def test_a_lost_record_costs_a_comparison_never_a_wrong_skip(tmp_path: Path) -> None:
    with objstore.open(f"file://{tmp_path / 'src'}") as src:
        fill(src)
        synced("src", "dst", cwd=tmp_path)
        records = list((tmp_path / "cache" / "objstore" / "sync").glob("*.sqlite"))
        assert len(records) == 1
        for path in records[0].parent.iterdir():
            path.unlink()
        src.put("docs/report.pdf", pattern(70_000, seed=1), metadata={"owner": "zoë", "rev": "3"})
        with objstore.open(f"file://{tmp_path / 'dst'}") as dst:
            dst.put("empty", b"", metadata={"stray": "1"})  # same bytes, other metadata
            assert synced("src", "dst", cwd=tmp_path) == Summary(2, 70_000, 2, 0, 0)
            assert snapshot(dst) == snapshot(src)


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path: Path) -> None:
    with objstore.open(f"file://{tmp_path / 'src'}") as src:
        fill(src)
    result = run("sync", "src", "dst", "--dry-run", "--delete", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "send a.txt (5 bytes)",
        "send docs/report.pdf (70000 bytes)",
        "send docs/ünï/日本.bin (2 bytes)",
        "send empty (0 bytes)",
        "dry run: would send 4 objects (70007 bytes, 68.4 KiB), skip 0, delete 0",
    ]
    assert not (tmp_path / "dst").exists() and not (tmp_path / "cache").exists()
    synced("src", "dst", cwd=tmp_path)
    (tmp_path / "src" / "a.txt").unlink()
    with objstore.open(f"file://{tmp_path / 'dst'}") as dst:
        dst.put("stray \u0085 key", b"only in the destination")  # NEL: not a line break
    plan = run("sync", "src", "dst", "--dry-run", "--delete", cwd=tmp_path).stdout
    assert plan.split("\n")[:-1] == [
        "delete a.txt",
        "delete stray \u0085 key",
        "dry run: would send 0 objects (0 bytes, 0 B), skip 3, delete 2",
    ]
    assert (tmp_path / "dst" / "a.txt").exists()
    assert synced("src", "dst", "--delete", cwd=tmp_path) == Summary(0, 0, 3, 2, 0)
    assert entries(tmp_path / "dst") == ["docs", "empty"]


def test_s3_to_file_and_s3_to_s3(moto_http: Any, tmp_path: Path) -> None:
    with moto_http.bucket() as one, moto_http.bucket() as two:
        first, second = s3_url(moto_http, one, "data/"), s3_url(moto_http, two)
        with objstore.open(first) as src, objstore.open(second) as other:
            fill(src)
            assert synced(first, "local", cwd=tmp_path).sent == 4
            assert synced(first, second, "--jobs", "2", cwd=tmp_path).sent == 4
            with objstore.open(f"file://{tmp_path / 'local'}") as local:
                assert snapshot(local) == snapshot(src) == snapshot(other)
            assert synced(first, second, cwd=tmp_path) == Summary(0, 0, 4, 0, 0)
            assert synced(first, "local", cwd=tmp_path) == Summary(0, 0, 4, 0, 0)


def test_an_object_the_destination_cannot_hold_fails_alone(moto_http: Any, tmp_path: Path) -> None:
    with moto_http.bucket() as bucket:
        url = s3_url(moto_http, bucket)
        with objstore.open(url) as src:
            for key in ("a", "a/b", "c"):
                src.put(key, key.encode())
        result = run("sync", url, "local", "--jobs", "1", cwd=tmp_path)  # "a" goes first
        assert result.returncode == 1
        assert SUMMARY.search(result.stdout) is not None
        assert "failed 1" in result.stdout and result.stderr.startswith("objstore: error: a/b: ")
        assert (tmp_path / "local" / "c").read_bytes() == b"c"


def test_sync_refuses_a_missing_source_directory(tmp_path: Path) -> None:
    result = run("sync", "nowhere", "dst", "--delete", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        1,
        "objstore: error: nowhere: no such directory\n",
    )
    assert run("sync", "a", "b", "--jobs", "0", cwd=tmp_path).returncode == 2


def test_ctrl_c_leaves_only_whole_objects(tmp_path: Path) -> None:
    source = tmp_path / "src"
    with objstore.open(f"file://{source}") as src:
        for i in range(1500):
            src.put(f"part-{i:04d}", pattern(48_000, seed=i % 250))
    proc = start("sync", "src", "dst", "--jobs", "1", cwd=tmp_path)
    wait_for(lambda: len(list((tmp_path / "dst").glob("part-*"))) >= 20, "the first objects")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    with objstore.open(f"file://{tmp_path / 'dst'}") as dst:
        done = [item.key for item in dst.list()]
        assert 20 <= len(done) < 1500
        for key in done:
            assert dst.get(key) == pattern(48_000, seed=int(key[5:]) % 250)
    summary = synced("src", "dst", cwd=tmp_path)
    assert (summary.sent, summary.skipped) == (1500 - len(done), len(done))


def test_memory_does_not_grow_with_the_object(tmp_path: Path) -> None:
    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "x").write_bytes(b"x")
    (tmp_path / "large").mkdir()
    with open(tmp_path / "large" / "x", "wb") as out:
        for i in range(64):
            out.write(pattern(1 << 20, seed=i))
    peaks = [_peak_rss(tmp_path, name) for name in ("small", "large")]
    assert peaks[1] - peaks[0] < 24 << 20, peaks  # 64 MiB streamed, never held


def _peak_rss(cwd: Path, source: str) -> int:
    proc = subprocess.Popen(
        [str(Path(os.sys.executable).with_name("objstore")), "sync", source, f"{source}-copy"],
        cwd=cwd,
        env=environment(cwd),
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0
    return int(usage.ru_maxrss) * 1024  # kilobytes on Linux


def _migration_source(store: objstore.Store) -> dict[str, int]:
    """1,001 objects: nested, unicode, empty, with metadata, and one of 50 MiB."""
    sizes: dict[str, int] = {}

    def put(key: str, data: Any, size: int, **options: Any) -> None:
        store.put(key, data, **options)
        sizes[key] = size

    put("a-big/blob.bin", (pattern(1 << 20, seed=i) for i in range(50)), 50 << 20)
    for i in range(1000):
        if i % 10 == 0:
            key = f"ünïcödé/日本/{i:04d}.txt"
        else:
            key = f"d{i % 7}/sub-{i % 3}/obj {i:04d}.bin"
        size = 0 if i % 97 == 0 else 100 + i
        options = {"metadata": {"n": str(i), "who": "zoë"}} if i % 50 == 0 else {}
        put(key, pattern(size, seed=i % 250), size, **options)
    return sizes


@pytest.mark.slow
def test_migration_to_s3_resumes_after_a_kill_and_sends_only_changes(
    moto_http: Any, tmp_path: Path
) -> None:
    source = f"file://{tmp_path / 'data'}"
    with objstore.open(source) as src, moto_http.bucket() as bucket:
        sizes = _migration_source(src)
        url = s3_url(moto_http, bucket, "migrated/")
        with objstore.open(url) as dst:

            def copied() -> int:
                return sum(1 for _ in dst.list())

            proc = start("sync", "data", url, "--jobs", "4", cwd=tmp_path)
            wait_for(lambda: copied() >= 200, "the first 200 objects")
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
            present = copied()
            assert 200 <= present < 1001, "the kill came too late to test a resume"

            # The server may still finish up to --jobs uploads whose bodies it had
            # received before the kill, so a few objects can land after the count.
            resumed = synced("data", url, cwd=tmp_path)
            assert resumed.sent + resumed.skipped == 1001
            assert present <= resumed.skipped <= present + 4, (present, resumed)
            listed = {
                item.key: item.size for item in dst.list() if isinstance(item, objstore.ObjectInfo)
            }
            assert listed == sizes
            for key in [k for k in sizes if k.startswith(("a-big", "ünï"))] + [
                "d1/sub-1/obj 0001.bin"
            ]:
                info, theirs = dst.stat(key), src.stat(key)
                assert (info.content_type, dict(info.metadata or {})) == (
                    theirs.content_type,
                    dict(theirs.metadata or {}),
                )
            assert dst.get("d1/sub-1/obj 0001.bin") == src.get("d1/sub-1/obj 0001.bin")
            with dst.open("a-big/blob.bin") as reader:
                for i in range(50):
                    assert reader.read(1 << 20) == pattern(1 << 20, seed=i)

            assert synced("data", url, cwd=tmp_path) == Summary(0, 0, 1001, 0, 0)

            changed = tmp_path / "data" / "d3" / "sub-2" / "obj 0017.bin"
            assert changed.stat().st_size == 117
            changed.write_bytes(b"z" * 117)  # edited in place, same size
            assert synced("data", url, cwd=tmp_path) == Summary(1, 117, 1000, 0, 0)
            assert dst.get("d3/sub-2/obj 0017.bin") == b"z" * 117

            gone = [k for k in sizes if k.startswith("d6/")]
            src.delete_many(gone)
            assert synced("data", url, "--delete", cwd=tmp_path) == Summary(
                0, 0, 1001 - len(gone), len(gone), 0
            )
            assert sorted(item.key for item in dst.list()) == sorted(set(sizes) - set(gone))


def test_a_listing_out_of_order_stops_the_merge() -> None:
    from objstore.cli._sync import merge

    def listed(*keys: str) -> list[objstore.ObjectInfo]:
        when = datetime.now(UTC)
        return [objstore.ObjectInfo(key, 1, "e", when) for key in keys]

    pairs = merge(listed("a", "c\u0085", "d"), listed("b", "c\u0085"))
    assert [(s and s.key, d and d.key) for s, d in pairs] == [
        ("a", None),
        (None, "b"),
        ("c\u0085", "c\u0085"),
        ("d", None),
    ]
    with pytest.raises(objstore.ObjstoreError, match="not in key order"):
        list(merge(listed("a", "c"), listed("b", "a")))
