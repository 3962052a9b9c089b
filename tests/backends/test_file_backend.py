"""What is specific to the file backend: layout on disk, safety, metadata storage."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from filetree import JOURNAL, STAGING, TEMP_PREFIX, leftovers, visible_entries

import objstore
from objstore.backends import local
from objstore.backends.local import FileBackend

TEMP = TEMP_PREFIX


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store(root: Path) -> Iterator[objstore.Store]:
    with objstore.open(f"file://{root}") as store:
        yield store


# -- layout ---------------------------------------------------------------------------------


def test_object_is_the_plain_file_root_slash_key(store: objstore.Store, root: Path) -> None:
    store.put("photos/2024/cat.jpg", b"meow", metadata={"who": "Zoë"})
    assert (root / "photos" / "2024" / "cat.jpg").read_bytes() == b"meow"
    assert visible_entries(root) == ["photos", "photos/2024", "photos/2024/cat.jpg"]


def test_root_is_created_when_missing(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b"
    with objstore.open(f"file://{root}") as store:
        store.put("k", b"x")
    assert (root / "k").read_bytes() == b"x"


def test_root_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(objstore.ConfigError, match="root"):
        objstore.open(f"file://{tmp_path / 'file'}")


def test_metadata_is_an_xattr_on_the_data_file(store: objstore.Store, root: Path) -> None:
    store.put("k", b"x", content_type="text/x-a", metadata={"m": "ü"})
    from objstore.backends import _localmeta

    record = os.getxattr(root / "k", _localmeta.XATTR_NAME)
    assert _localmeta.decode_record(record) == ("text/x-a", {"m": "ü"})


def test_sidecar_records_follow_their_version(root: Path) -> None:
    backend = FileBackend(root, metadata_storage="sidecar")
    with objstore.Store(backend) as store:
        first = store.put("k", b"x", metadata={"v": "1"})
        sidecars = root / "\x01objstore-meta"
        assert sorted(os.listdir(sidecars)) == [JOURNAL, first.etag]
        second = store.put("k", b"y", metadata={"v": "2"})
        assert sorted(os.listdir(sidecars)) == [JOURNAL, second.etag]
        store.delete("k")
        assert os.listdir(sidecars) == [JOURNAL]
        assert (sidecars / JOURNAL).stat().st_size == 0
        assert list(store.list()) == []


def test_foreign_files_are_objects(store: objstore.Store, root: Path) -> None:
    (root / "dir").mkdir(parents=True)
    (root / "dir" / "report.json").write_bytes(b"{}")
    info = store.stat("dir/report.json")
    assert (info.size, info.content_type, dict(info.metadata or {})) == (2, "application/json", {})
    assert [i.key for i in store.list()] == ["dir/report.json"]
    assert store.get("dir/report.json") == b"{}"


def test_foreign_in_place_edit_changes_the_etag(store: objstore.Store, root: Path) -> None:
    info = store.put("k", b"aaaa")
    with open(root / "k", "r+b") as f:
        f.write(b"bbbb")
    assert store.stat("k").etag != info.etag
    assert store.get("k") == b"bbbb"


def test_names_that_are_not_keys_are_not_listed(store: objstore.Store, root: Path) -> None:
    store.put("ok", b"x")
    (root / "bad\x01name").write_bytes(b"x")
    (root / "empty-dir").mkdir()
    (root / "only-bad").mkdir()
    (root / "only-bad" / "\x7f").write_bytes(b"x")
    assert [(type(i).__name__, i.key) for i in store.list(delimiter="/")] == [("ObjectInfo", "ok")]
    assert [i.key for i in store.list()] == ["ok"]


def test_put_over_an_empty_directory_replaces_it(store: objstore.Store, root: Path) -> None:
    (root / "a").mkdir(parents=True)
    store.put("a", b"file now")
    assert store.get("a") == b"file now"


def test_put_with_fsync(root: Path) -> None:
    with objstore.Store(FileBackend(root, fsync=True)) as store:
        store.put("d/k", b"durable")
        assert store.get("d/k") == b"durable"


def test_bad_metadata_storage_choice(root: Path) -> None:
    with pytest.raises(objstore.ConfigError, match="metadata_storage"):
        FileBackend(root, metadata_storage="mysql")  # type: ignore[arg-type]


# -- safety ---------------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret").write_bytes(b"top secret")
    return path


def test_symlinked_directory_is_never_followed(
    store: objstore.Store, root: Path, outside: Path
) -> None:
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(objstore.NotFoundError):
        store.get("link/secret")
    with pytest.raises(objstore.NotFoundError):
        store.stat("link/secret")
    with pytest.raises(objstore.KeyConflictError):
        store.put("link/planted", b"x")
    store.delete("link/secret")
    with pytest.raises(objstore.NotFoundError):
        store.copy("link/secret", "stolen")
    assert [i.key for i in store.list()] == []
    assert sorted(os.listdir(outside)) == ["secret"]
    assert (outside / "secret").read_bytes() == b"top secret"


def test_symlinked_file_is_never_followed(store: objstore.Store, root: Path, outside: Path) -> None:
    (root / "flink").symlink_to(outside / "secret")
    with pytest.raises(objstore.NotFoundError):
        store.get("flink")
    with pytest.raises(objstore.NotFoundError):
        store.open("flink")
    store.put("flink", b"replaces the link itself")
    assert not (root / "flink").is_symlink()
    assert (outside / "secret").read_bytes() == b"top secret"


def test_symlinked_root_subtree_in_listing_is_skipped(
    store: objstore.Store, root: Path, outside: Path
) -> None:
    store.put("real/a", b"x")
    (root / "real" / "escape").symlink_to(outside, target_is_directory=True)
    assert [i.key for i in store.list()] == ["real/a"]


@pytest.mark.parametrize("key", ["..\\x", "C:\\x", "a..b", "..x/y", "x/..y", "~root", "$HOME"])
def test_traversal_look_alikes_land_inside_the_root(
    store: objstore.Store, root: Path, key: str
) -> None:
    before = sorted(os.listdir(root.parent))
    store.put(key, b"inside")
    assert (root / key).read_bytes() == b"inside"
    assert sorted(os.listdir(root.parent)) == before


# -- listing and delete ---------------------------------------------------------------------


def test_list_walks_lazily(store: objstore.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    for d in range(20):
        store.put(f"d{d:02d}/x", b"")
    scans = []
    real_scandir = os.scandir

    def counting_scandir(path: object) -> object:
        scans.append(path)
        return real_scandir(path)  # type: ignore[call-overload]

    monkeypatch.setattr(local.os, "scandir", counting_scandir)
    listing = store.list()
    assert next(listing).key == "d00/x"
    assert len(scans) == 2  # the root and the first directory, nothing more yet
    assert len(list(listing)) == 19


def test_delete_removes_emptied_directories_but_never_the_root(
    store: objstore.Store, root: Path
) -> None:
    store.put("a/b/c/d", b"x")
    store.put("a/keep", b"x")
    store.delete("a/b/c/d")
    assert visible_entries(root) == ["a", "a/keep"]
    store.delete("a/keep")
    assert visible_entries(root) == []
    assert root.is_dir()


def test_delete_of_a_prefix_is_a_no_op(store: objstore.Store) -> None:
    store.put("dir/k", b"x")
    store.delete("dir")
    assert store.get("dir/k") == b"x"


def test_puts_and_deletes_racing_in_shared_directories(store: objstore.Store) -> None:
    errors: list[BaseException] = []

    def churn(name: str) -> None:
        try:
            for i in range(150):
                store.put(f"shared/dir/{name}", str(i).encode())
                store.delete(f"shared/dir/{name}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(f"k{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(store.list()) == []


# -- temp files -----------------------------------------------------------------------------


def test_a_put_in_progress_is_invisible(store: objstore.Store, root: Path) -> None:
    store.put("k", b"old")
    started, release = threading.Event(), threading.Event()

    def slow() -> Iterator[bytes]:
        yield b"new " * 1000
        started.set()
        release.wait(10)
        yield b"end"

    writer = threading.Thread(target=store.put, args=("k", slow()))
    writer.start()
    started.wait(10)
    assert store.get("k") == b"old"
    assert [i.key for i in store.list()] == ["k"]
    assert visible_entries(root) == ["k"]  # an anonymous O_TMPFILE has no name at all
    assert leftovers(root) == []
    release.set()
    writer.join()
    assert store.get("k").endswith(b"end")
    assert leftovers(root) == []


def test_named_temp_fallback_is_invisible_and_cleaned_up(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from objstore.backends import _localwrite

    monkeypatch.setattr(_localwrite, "O_TMPFILE", 0)  # as on filesystems without O_TMPFILE
    with objstore.open(f"file://{root}") as store:
        started, release = threading.Event(), threading.Event()

        def slow() -> Iterator[bytes]:
            yield b"data"
            started.set()
            release.wait(10)
            raise RuntimeError("source failed")

        failures: list[BaseException] = []

        def write() -> None:
            try:
                store.put("dir/k", slow())
            except RuntimeError as exc:
                failures.append(exc)

        writer = threading.Thread(target=write)
        writer.start()
        started.wait(10)
        hidden = os.listdir(root / STAGING)  # a named temp file, never in the key's directory
        assert len(hidden) == 1 and hidden[0].startswith(TEMP)
        assert visible_entries(root) == ["dir"]
        assert list(store.list()) == []
        release.set()
        writer.join()
        assert len(failures) == 1
        assert visible_entries(root) == []
        assert leftovers(root) == []


# -- debris never blocks a key --------------------------------------------------------------


def test_directories_of_debris_do_not_block_a_key(store: objstore.Store, root: Path) -> None:
    # What a writer killed by an older objstore, or another program, can leave behind.
    (root / "d" / "e" / "f").mkdir(parents=True)
    (root / "d" / f"{TEMP}0123").write_bytes(b"a stale full copy")
    (root / "d" / "e" / f"{TEMP}4567").write_bytes(b"")
    (root / "c" / "x").mkdir(parents=True)
    assert list(store.list()) == []
    store.put("d", b"a file now")
    store.put("c", b"created", if_none_match="*")
    assert (store.get("d"), store.get("c")) == (b"a file now", b"created")
    assert visible_entries(root) == ["c", "d"]
    assert leftovers(root) == []


def test_a_directory_holding_more_than_debris_is_a_conflict(
    store: objstore.Store, root: Path
) -> None:
    (root / "d").mkdir(parents=True)
    (root / "d" / "no\x7fkey").write_bytes(b"a file that is not an object")
    with pytest.raises(objstore.KeyConflictError, match="not objects") as caught:
        store.put("d", b"x")
    assert caught.value.key == "d"
    assert (root / "d" / "no\x7fkey").exists()
    # A temp file whose writer is alive (it holds the file's flock) is not debris either.
    (root / "e").mkdir()
    live = root / "e" / f"{TEMP}live"
    live.write_bytes(b"")
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(objstore.KeyConflictError):
            store.put("e", b"x")
    assert live.exists()


def test_racing_file_and_directory_puts_conflict_cleanly(store: objstore.Store) -> None:
    """``t/k`` and ``t/k/x`` written and deleted by racing threads: each put either
    succeeds or raises KeyConflictError, and nothing else ever escapes."""
    unexpected: list[BaseException] = []

    def churn(keys: list[str]) -> None:
        for _ in range(150):
            for key in keys:
                try:
                    store.put(key, b"abc")
                except objstore.KeyConflictError:
                    continue
                except BaseException as exc:
                    unexpected.append(exc)
                store.delete(key)

    threads = [
        threading.Thread(target=churn, args=(keys,))
        for keys in (["t/k", "t/j"], ["t/k/x", "t/j/y/z"], ["t/k/x/w", "t/j"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert unexpected == []
    assert list(store.list()) == []


# -- closing --------------------------------------------------------------------------------


def test_listings_and_reads_after_close_raise_store_closed(root: Path) -> None:
    store = objstore.open(f"file://{root}")
    for key in ("a/b", "c", "d/e"):
        store.put(key, b"x" * 10)
    unstarted, started = store.list(), store.list()
    assert next(started).key == "a/b"
    delimited = store.list(delimiter="/")
    stream = store.get_stream("c", chunk_size=4)
    assert next(stream) == b"xxxx"
    reader = store.open("c")
    store.close()
    calls: list[Callable[[], object]] = [
        lambda: next(unstarted),
        lambda: next(started),
        lambda: next(delimited),
        lambda: next(stream),
        reader.read,
    ]
    for call in calls:
        with pytest.raises(objstore.StoreClosedError):
            call()


def test_a_closed_backend_never_acts_on_a_reused_descriptor(tmp_path: Path) -> None:
    """Calls that race ``close`` (here: made after it, straight on the backend) must not
    reach whatever directory the process opens next under the same descriptor numbers."""
    backend = FileBackend(tmp_path / "store")
    backend.close()
    other = tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    (other / "k").write_bytes(b"not the store's")
    (other / "sub" / "k").write_bytes(b"not the store's")
    taken = [os.open(other, os.O_RDONLY | os.O_DIRECTORY) for _ in range(16)]
    try:
        for call in (
            lambda: backend.stat("k"),
            lambda: backend.get("sub/k", offset=0, length=None),
            lambda: backend.delete("k"),
            lambda: backend.delete("sub/k"),
            lambda: list(backend.list("", delimiter=None, start_after=None)),
        ):
            with pytest.raises(objstore.StoreClosedError):
                call()
    finally:
        for fd in taken:
            os.close(fd)
    assert (other / "k").read_bytes() == (other / "sub" / "k").read_bytes() == b"not the store's"


def test_errors_carry_the_key_and_name_no_path(store: objstore.Store, root: Path) -> None:
    store.put("file", b"x")
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: store.get("no/such/key"), "no/such/key"),
        (lambda: store.stat("file/below"), "file/below"),  # a file on the path
        (lambda: store.copy("gone", "dst"), "gone"),
        (lambda: store.open("gone"), "gone"),
    ]
    for call, key in calls:
        with pytest.raises(objstore.NotFoundError) as caught:
            call()
        assert caught.value.key == key
        assert str(root) not in f"{caught.value} {caught.value!r} {caught.value.__cause__}"
