"""The file backend on a full disk: ``InsufficientStorageError``, and nothing changed.

The disk is real: a small tmpfs mounted for the test (which needs root; CI runs
as root), filled up with data blocks or with inodes. ``EFBIG`` comes from a real
``RLIMIT_FSIZE``; only ``EDQUOT``, for which this kernel offers no quota to fill,
is injected.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from filetree import leftovers

import objstore
from objstore.backends.local import FileBackend

MiB = 1 << 20


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount a tmpfs of the given size (and number of inodes) below ``tmp_path``."""
    mounted: list[Path] = []

    def mount(size: str, inodes: int | None = None) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root (CI runs the tests as root)")
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        options = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
        command = ["mount", "-t", "tmpfs", "-o", options, "objstore-test", str(point)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def open_store(root: Path, storage: str) -> objstore.Store:
    try:
        return objstore.Store(FileBackend(root, metadata_storage=storage))  # type: ignore[arg-type]
    except objstore.ConfigError as exc:
        pytest.skip(f"this tmpfs has no user xattrs: {exc}")


def fill_blocks(disk: Path) -> None:
    """Write a file outside the store until the disk has no data block left."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (MiB, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def fill_inodes(disk: Path) -> None:
    """Take every inode but one, and all the inode space tmpfs keeps for xattrs beyond it."""
    fillers = disk / "fillers"
    fillers.mkdir()
    count = 0
    try:
        while True:
            (fillers / str(count)).touch()
            count += 1
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    for size in (512, 64, 8, 1):
        try:
            while True:
                os.setxattr(fillers / "0", f"user.fill{count}", b"x" * size)
                count += 1
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    (fillers / "1").unlink()


def assert_no_path(exc: BaseException, disk: Path) -> None:
    assert str(disk) not in f"{exc} {exc!r}"


@pytest.mark.parametrize("storage", ["xattr", "sidecar"])
def test_a_put_on_a_full_disk_changes_nothing(
    small_disk: Callable[..., Path], storage: str
) -> None:
    disk = small_disk("1m")
    root = disk / "store"
    with open_store(root, storage) as store:
        store.put("k", b"old", metadata={"v": "old"})
        store.put("k", b"old", metadata={"v": "old"})  # the staging directory exists
        fill_blocks(disk)
        for key in ("k", "new/dir/k"):
            with pytest.raises(objstore.InsufficientStorageError) as caught:
                store.put(key, b"x" * (256 << 10))
            assert caught.value.key == key
            assert_no_path(caught.value, disk)
        assert store.get("k") == b"old"
        assert store.stat("k").metadata == {"v": "old"}
        assert [info.key for info in store.list()] == ["k"]
        assert leftovers(root) == []
        (disk / "filler").unlink()
        store.put("new/dir/k", b"x" * (256 << 10))  # room again: the same put works


def test_a_copy_on_a_full_disk_changes_nothing(small_disk: Callable[..., Path]) -> None:
    disk = small_disk("1m")
    root = disk / "store"
    with objstore.open(f"file://{root}") as store:
        store.put("src", b"s" * (200 << 10), metadata={"v": "src"})
        store.put("dst", b"old dst")
        fill_blocks(disk)
        with pytest.raises(objstore.InsufficientStorageError) as caught:
            store.copy("src", "dst")
        assert caught.value.key == "dst"
        assert_no_path(caught.value, disk)
        assert store.get("dst") == b"old dst"
        assert leftovers(root) == []


@pytest.mark.parametrize("storage", ["xattr", "sidecar"])
def test_metadata_on_a_full_disk_changes_nothing(
    small_disk: Callable[..., Path], storage: str
) -> None:
    """One inode left: the temp file takes it, and the record finds no room (the xattr
    needs inode space, the sidecar file an inode of its own)."""
    disk = small_disk("1m", inodes=64)
    root = disk / "store"
    with open_store(root, storage) as store:
        store.put("k", b"old", metadata={"v": "old"})
        store.put("k", b"old", metadata={"v": "old"})  # staging, sidecar journal: made
        fill_inodes(disk)
        if storage == "xattr":
            _require_xattrs_counted(disk)
        with pytest.raises(objstore.InsufficientStorageError) as caught:
            store.put("k", b"new", metadata={"v": "new"})
        assert caught.value.key == "k"
        assert_no_path(caught.value, disk)
        assert store.get("k") == b"old"
        assert store.stat("k").metadata == {"v": "old"}
        assert leftovers(root) == []


def _require_xattrs_counted(disk: Path) -> None:
    fd = os.open(disk, os.O_TMPFILE | os.O_WRONLY)  # takes the last inode, as a put will
    try:
        os.setxattr(fd, "user.probe", b"x")
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    else:
        pytest.skip("this kernel's tmpfs does not count xattrs against its inode space")
    finally:
        os.close(fd)


EFBIG_WRITER = textwrap.dedent(
    """
    import resource, sys
    import objstore

    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))  # Python ignores SIGXFSZ
    with objstore.open("file://" + sys.argv[1]) as store:
        try:
            store.put("big", b"x" * (2 << 20))
        except objstore.InsufficientStorageError as exc:
            print(exc.key, exc)
    """
)


def test_a_file_larger_than_allowed_is_insufficient_storage(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", EFBIG_WRITER, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "big no room to store 'big': File too large\n", out.stderr
    with objstore.open(f"file://{tmp_path}") as store:
        assert list(store.list()) == []
    assert leftovers(tmp_path) == []


def test_an_exhausted_quota_is_insufficient_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EDQUOT, injected where a quota would strike (no quota to fill on this kernel)."""
    with open_store(tmp_path, "xattr") as store:
        store.put("k", b"old")

        def over_quota(*args: object) -> None:
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

        monkeypatch.setattr(os, "setxattr", over_quota)
        with pytest.raises(objstore.InsufficientStorageError, match="quota") as caught:
            store.put("k", b"new")
        monkeypatch.undo()
        assert caught.value.key == "k"
        assert store.get("k") == b"old"
    assert leftovers(tmp_path) == []
