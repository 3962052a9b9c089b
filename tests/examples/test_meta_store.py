"""The cookbook's meta store: a SQLite database in a bucket under etag locking, and
content-addressed blobs, all under a prefix, on a local directory and on moto's S3 server."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import objstore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from examples.meta_store import BlobStore, BucketDatabase

WORKER = Path(__file__).with_name("meta_worker.py")
PREFIX = "autocrud/"


@pytest.fixture(params=["file", "s3"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """A configuration confined to ``PREFIX``; ``config["raw"]`` is the same store without it."""
    if request.param == "file":
        base = {"backend": "file", "file": {"root": str(tmp_path / "bucket")}}
    else:
        base = {"backend": "s3", "s3": request.getfixturevalue("moto_bucket")}
    return {**base, "prefix": PREFIX}


@pytest.fixture
def store(config: dict[str, Any]) -> Iterator[objstore.Store]:
    with objstore.open(config) as opened:
        yield opened


def everything(config: dict[str, Any]) -> list[str]:
    """Every key of the underlying bucket or directory, prefix and all."""
    unprefixed = {k: v for k, v in config.items() if k != "prefix"}
    with objstore.open(unprefixed) as raw:
        return [item.key for item in raw.list()]


def test_four_processes_increment_to_exactly_100(
    config: dict[str, Any], store: objstore.Store, tmp_path: Path
) -> None:
    with BucketDatabase(store, "counter.db") as db:
        db.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
        db.execute("INSERT INTO counter VALUES (0)")
        db.sync()
    go = tmp_path / "go"
    command = [sys.executable, str(WORKER), json.dumps(config), "25", str(go)]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    go.touch()
    outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * 4, outputs
    print("uploads lost to other writers:", outputs)
    with BucketDatabase(store, "counter.db") as db:
        assert db.query("SELECT n FROM counter") == [(100,)]
    assert everything(config) == [f"{PREFIX}counter.db"]


def test_a_batch_is_one_upload_and_a_conflict_replays_it(store: objstore.Store) -> None:
    with BucketDatabase(store, "meta.db") as first, BucketDatabase(store, "meta.db") as second:
        first.execute("CREATE TABLE items (id TEXT PRIMARY KEY)")
        first.sync()
        first.reload(), second.reload()
        for n in range(10):
            first.execute("INSERT INTO items VALUES (?)", (f"a{n}",))
        second.execute("INSERT INTO items VALUES ('b')")
        version = store.stat("meta.db").etag
        second.sync()  # one upload for its batch of one
        after_second = store.stat("meta.db").etag
        assert after_second != version
        first.sync()  # its version is stale: it reloads, replays its ten rows, uploads
        assert store.stat("meta.db").content_type == "application/vnd.sqlite3"
        second.reload()
        rows = [row[0] for row in second.query("SELECT id FROM items ORDER BY id")]
        assert rows == [f"a{n}" for n in range(10)] + ["b"]


def test_a_replay_that_no_longer_applies_raises_and_keeps_the_stored_version(
    store: objstore.Store,
) -> None:
    with BucketDatabase(store, "meta.db") as first, BucketDatabase(store, "meta.db") as second:
        first.execute("CREATE TABLE items (id TEXT PRIMARY KEY)")
        first.sync()
        second.reload()
        first.execute("INSERT INTO items VALUES ('same')")
        second.execute("INSERT INTO items VALUES ('same')")
        first.sync()
        with pytest.raises(Exception, match="UNIQUE"):
            second.sync()
        assert second.query("SELECT id FROM items") == [("same",)]
        second.sync()  # nothing left to send


def test_blobs_are_named_by_content_and_stored_once(
    config: dict[str, Any], store: objstore.Store
) -> None:
    blobs = BlobStore(store)
    chunks = [bytes([n]) * (700 * 1024) for n in range(5)]  # 3.5 MB of unknown length
    digest = blobs.put(iter(chunks), content_type="image/png")
    assert digest == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert blobs.put(io.BytesIO(b"".join(chunks))) == digest  # the same bytes: the same name
    with blobs.open(digest) as blob:
        assert blob.read() == b"".join(chunks)
        assert blob.info.content_type == "image/png"  # the first writer's
    assert everything(config) == [f"{PREFIX}{BlobStore.key(digest)}"]
    assert not blobs.exists("0" * 64)
    with pytest.raises(ValueError, match="SHA-256"):
        blobs.open("../escape")


def test_a_failing_source_leaves_nothing_and_sweep_removes_dead_writers_debris(
    config: dict[str, Any], store: objstore.Store
) -> None:
    blobs = BlobStore(store)

    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("the upload's source failed")

    with pytest.raises(OSError, match="source failed"):
        blobs.put(broken())
    assert everything(config) == []
    store.put("staging/left-by-a-killed-writer", b"x")
    assert blobs.sweep(older_than=timedelta(hours=1)) == 0  # too recent: maybe alive
    assert blobs.sweep(older_than=timedelta(0)) == 1
    assert everything(config) == []
