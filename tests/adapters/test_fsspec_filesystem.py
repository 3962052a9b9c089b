"""The ``objstore`` fsspec filesystem beyond fsspec's abstract suite: paths and implied
directories, ranged reads through fsspec's caches, streamed atomic writes, exclusive
creation, transactions, signed URLs and cache chains, on memory, file and moto."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import tracemalloc
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

fsspec = pytest.importorskip("fsspec", reason="the fsspec extra is not installed")

from stores import s3_target  # noqa: E402

import objstore  # noqa: E402
from objstore.backend import Backend, ReadStream  # noqa: E402
from objstore.backends.local import FileBackend  # noqa: E402
from objstore.backends.memory import MemoryBackend  # noqa: E402
from objstore.fsspec import ObjstoreFileSystem  # noqa: E402
from objstore.layers import Layer  # noqa: E402

MiB = 1 << 20


class CountingLayer(Layer):
    """Records every ranged ``get`` that reaches the backend."""

    def __init__(self, inner: Backend):
        super().__init__(inner)
        self.gets: list[tuple[str, int, int | None]] = []

    def get(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> ReadStream:
        self.gets.append((key, offset, length))
        return self.inner.get(key, offset=offset, length=length, if_match=if_match)


@pytest.fixture
def fs(target: str | dict[str, Any]) -> ObjstoreFileSystem:
    return ObjstoreFileSystem(target, skip_instance_cache=True)


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[tuple[ObjstoreFileSystem, CountingLayer]]:
    layer = CountingLayer(FileBackend(tmp_path / "counted"))
    with objstore.Store(layer) as store:
        yield ObjstoreFileSystem(store=store), layer


def names(entries: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(entry["name"], entry["type"]) for entry in entries]


# -- paths and directories ----------------------------------------------------------------------


def test_the_protocol_is_registered_and_urls_are_keys() -> None:
    fs, path = fsspec.core.url_to_fs("objstore://data/x.bin", target="memory://")
    assert isinstance(fs, ObjstoreFileSystem)
    assert path == "data/x.bin"
    with fsspec.open("objstore://data/x.bin", "wb", target="memory://") as f:
        f.write(b"through a URL")
    assert fsspec.filesystem("objstore", target="memory://") is fs  # fsspec's instance cache
    assert fs.cat_file("objstore://data/x.bin") == b"through a URL"
    assert fs.store.get("data/x.bin") == b"through a URL"


def test_a_given_store_is_used_and_never_shared_through_the_cache() -> None:
    with objstore.open("memory://") as one, objstore.open("memory://") as two:
        one.put("k", b"1")
        two.put("k", b"2")
        first, second = (fsspec.filesystem("objstore", store=s) for s in (one, two))
        assert first is not second
        assert (first.cat_file("k"), second.cat_file("k")) == (b"1", b"2")


def test_bad_options_are_refused() -> None:
    with pytest.raises(TypeError, match="unknown option"):
        ObjstoreFileSystem("memory://", endpoint="x")
    with objstore.open("memory://") as store, pytest.raises(objstore.ConfigError):
        ObjstoreFileSystem("memory://", store=store)
    fs = ObjstoreFileSystem("memory://", skip_instance_cache=True)
    fs.pipe_file("k", b"v")
    with pytest.raises(TypeError, match="unexpected option"):
        fs.open("k", "rb", content_type="text/plain")
    with pytest.raises(TypeError, match="unexpected option"):
        fs.open("k", "wb", colour="blue")


def test_a_filesystem_pickles_as_its_target_and_shows_no_secret(
    moto_http: Any, moto_bucket: str
) -> None:
    fs = ObjstoreFileSystem(s3_target(moto_http, moto_bucket), skip_instance_cache=True)
    fs.pipe_file("pickled/k", b"shipped to a worker")
    clone = pickle.loads(pickle.dumps(fs))
    assert clone is not fs
    assert clone.cat_file("pickled/k") == b"shipped to a worker"
    assert moto_http.secret_access_key not in repr(fs)
    assert repr(fs).startswith("ObjstoreFileSystem(<Store ") and moto_bucket in repr(fs)
    fs.rm_file("pickled/k")


def test_directories_are_implied_by_keys(fs: ObjstoreFileSystem) -> None:
    for key in ("a/b/c.txt", "a/b/d.txt", "a/e.txt", "top.txt", "a.txt"):
        fs.pipe_file(key, key.encode())
    assert names(fs.ls("", detail=True)) == [  # key order: "." sorts before "/"
        ("a.txt", "file"), ("a", "directory"), ("top.txt", "file"),
    ]  # fmt: skip
    assert fs.ls("a", detail=False) == ["a/b", "a/e.txt"]
    assert fs.ls("a/e.txt", detail=False) == ["a/e.txt"]  # a file lists as itself
    assert fs.info("a/b") == {"name": "a/b", "size": 0, "type": "directory"}
    info = fs.info("a/e.txt")
    assert (info["type"], info["size"], info["etag"]) == ("file", 7, fs.ukey("a/e.txt"))
    assert fs.isdir("a") and not fs.isfile("a") and fs.isfile("a.txt") and not fs.isdir("a.txt")
    assert fs.find("a") == ["a/b/c.txt", "a/b/d.txt", "a/e.txt"]
    assert fs.find("a", maxdepth=1, withdirs=True) == ["a", "a/b", "a/e.txt"]
    assert fs.find("", withdirs=True) == [
        "a", "a.txt", "a/b", "a/b/c.txt", "a/b/d.txt", "a/e.txt", "top.txt",
    ]  # fmt: skip
    assert fs.glob("a/*/*.txt") == ["a/b/c.txt", "a/b/d.txt"]
    assert fs.du("a") == 9 + 9 + 7
    fs.mkdir("empty/dir")
    fs.makedirs("empty/dir", exist_ok=False)
    assert not fs.exists("empty")  # nothing below it: no directory
    with pytest.raises(FileNotFoundError):
        fs.ls("nothing")
    with pytest.raises(FileNotFoundError):
        fs.info("a/b/c")
    fs.rm("a", recursive=True)
    assert fs.find("") == ["a.txt", "top.txt"]
    assert not fs.exists("a")


# -- reading ------------------------------------------------------------------------------------


def test_cat_file_reads_ranges(fs: ObjstoreFileSystem) -> None:
    fs.pipe_file("r.bin", bytes(range(100)))
    assert fs.cat_file("r.bin", 10, 20) == bytes(range(10, 20))
    assert fs.cat_file("r.bin", -5) == bytes(range(95, 100))
    assert fs.cat_file("r.bin", 90, -5) == bytes(range(90, 95))
    assert fs.cat_file("r.bin", 95, 200) == bytes(range(95, 100))
    assert fs.cat_file("r.bin", 20, 10) == b""
    assert fs.head("r.bin", 3) == b"\x00\x01\x02"
    assert fs.tail("r.bin", 2) == b"\x62\x63"
    with pytest.raises(FileNotFoundError):
        fs.cat_file("missing")


def test_reads_are_ranged_gets_through_fsspec_caches(
    counted: tuple[ObjstoreFileSystem, CountingLayer],
) -> None:
    fs, layer = counted
    data = bytes(range(256)) * 4096  # 1 MiB
    fs.pipe_file("big.bin", data)
    with fs.open("big.bin", "rb", block_size=64 * 1024, cache_type="bytes") as f:
        f.seek(300_000)
        assert f.read(1000) == data[300_000:301_000]
        f.seek(900_000)
        assert f.read(10) == data[900_000:900_010]
    assert [(offset, length) for _, offset, length in layer.gets] == [
        (300_000, 64 * 1024 + 1000),  # fsspec's "bytes" cache reads a block ahead
        (900_000, 64 * 1024 + 10),
    ]
    layer.gets.clear()
    with fs.open("big.bin", "rb", cache_type="none") as f:
        f.seek(-10, 2)
        assert f.read() == data[-10:]
    assert [(offset, length) for _, offset, length in layer.gets] == [(len(data) - 10, 10)]
    layer.gets.clear()
    assert fs.cat_file("big.bin") == data
    assert [(offset, length) for _, offset, length in layer.gets] == [(0, None)]


def test_a_file_read_never_splices_two_versions(fs: ObjstoreFileSystem) -> None:
    fs.pipe_file("v.bin", b"a" * 1000)
    with fs.open("v.bin", "rb", block_size=100, cache_type="bytes") as f:
        assert f.read(10) == b"a" * 10
        fs.pipe_file("v.bin", b"b" * 1000)
        f.seek(500)
        with pytest.raises(objstore.PreconditionFailedError, match="changed since it was opened"):
            f.read(10)


def test_get_file_downloads_whole_or_not_at_all(fs: ObjstoreFileSystem, tmp_path: Path) -> None:
    fs.pipe_file("d/one.bin", b"1" * 3000)
    local = tmp_path / "out" / "one.bin"
    fs.get_file("d/one.bin", str(local))
    assert local.read_bytes() == b"1" * 3000
    fs.get("d", str(tmp_path / "tree"), recursive=True)
    assert (tmp_path / "tree" / "one.bin").read_bytes() == b"1" * 3000
    local.write_bytes(b"keep me")
    with pytest.raises(FileNotFoundError):
        fs.get_file("d/missing.bin", str(local))
    assert local.read_bytes() == b"keep me"
    assert sorted(p.name for p in local.parent.iterdir()) == ["one.bin"]  # no temp file left


def test_get_file_of_a_large_object_is_parallel_ranged_gets_of_one_version(
    moto_http: Any, moto_bucket: str, tmp_path: Path
) -> None:
    data = bytes(range(256)) * (20 * 4096)  # 20 MiB: three parts of 8 MiB
    layer = CountingLayer(moto_http.backend(moto_bucket))
    with objstore.Store(layer) as store:
        fs = ObjstoreFileSystem(store=store)
        fs.pipe_file("parallel/big.bin", data)
        fs.get_file("parallel/big.bin", str(tmp_path / "big.bin"))
        assert (tmp_path / "big.bin").read_bytes() == data
        assert sorted((offset, length) for _, offset, length in layer.gets) == [
            (0, 8 * MiB), (8 * MiB, 8 * MiB), (16 * MiB, 8 * MiB),
        ]  # fmt: skip
        with objstore.Store(moto_http.backend(moto_bucket)) as other:
            original = layer.get

            def get_then_replace(key: str, **options: Any) -> ReadStream:
                if options["offset"] == 8 * MiB:
                    other.put(key, b"a new version")
                return original(key, **options)

            layer.get = get_then_replace  # type: ignore[method-assign]
            with pytest.raises(objstore.PreconditionFailedError, match="changed while"):
                fs.get_file("parallel/big.bin", str(tmp_path / "big.bin"))
    assert (tmp_path / "big.bin").read_bytes() == data  # the old download is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]


def test_get_file_from_a_local_store_is_one_stream_after_the_first_part(
    counted: tuple[ObjstoreFileSystem, CountingLayer], tmp_path: Path
) -> None:
    fs, layer = counted
    fs.pipe_file("seq.bin", b"s" * (20 * MiB))
    fs.get_file("seq.bin", str(tmp_path / "seq.bin"))
    assert (tmp_path / "seq.bin").stat().st_size == 20 * MiB
    assert [(offset, length) for _, offset, length in layer.gets] == [(0, 8 * MiB), (8 * MiB, None)]


# -- writing ------------------------------------------------------------------------------------


def test_a_written_file_appears_whole_at_close(fs: ObjstoreFileSystem) -> None:
    fs.pipe_file("w.bin", b"old")
    with fs.open("w.bin", "wb", block_size=1000, content_type="text/x-test") as f:
        for _ in range(10):
            f.write(b"x" * 700)
        assert fs.cat_file("w.bin") == b"old"  # blocks are streaming; nothing visible yet
    assert fs.cat_file("w.bin") == b"x" * 7000
    assert fs.info("w.bin")["content_type"] == "text/x-test"


def test_an_exception_abandons_the_write(fs: ObjstoreFileSystem) -> None:
    fs.pipe_file("keep.bin", b"old")
    for mode in ("wb", "w"):
        with pytest.raises(KeyError), fs.open("keep.bin", mode, block_size=100) as f:
            f.write(b"y" * 1000 if mode == "wb" else "y" * 1000)
            raise KeyError("the writer failed")
        assert fs.cat_file("keep.bin") == b"old"
    assert fs.find("") == ["keep.bin"]


def test_a_file_dropped_unclosed_is_not_committed(fs: ObjstoreFileSystem) -> None:
    f = fs.open("dropped.bin", "wb", block_size=100)
    f.write(b"z" * 1000)
    del f
    assert not fs.exists("dropped.bin")


def test_exclusive_creation_is_race_free(fs: ObjstoreFileSystem) -> None:
    fs.pipe_file("taken", b"first")
    with pytest.raises(FileExistsError):
        fs.open("taken", "xb")
    with pytest.raises(FileExistsError):
        fs.pipe_file("taken", b"again", mode="create")
    one, two = fs.open("new", "xb", block_size=100), fs.open("new", "xb", block_size=100)
    one.write(b"1" * 500)
    two.write(b"2" * 500)
    one.close()
    with pytest.raises(FileExistsError):
        two.close()
    assert fs.cat_file("new") == b"1" * 500
    assert fs.cat_file("taken") == b"first"


def test_append_is_refused() -> None:
    fs = ObjstoreFileSystem("memory://", skip_instance_cache=True)
    with pytest.raises(objstore.UnsupportedOperationError, match="no append"):
        fs.open("a.log", "ab")


def test_transactions_commit_together_or_not_at_all(fs: ObjstoreFileSystem) -> None:
    with fs.transaction:
        with fs.open("t/1", "wb", block_size=100) as f:
            f.write(b"1" * 1000)
        with fs.open("t/2", "wb") as f:
            f.write(b"2")
        assert not fs.exists("t")
    assert fs.cat_file("t/1") == b"1" * 1000 and fs.cat_file("t/2") == b"2"
    with pytest.raises(KeyError), fs.transaction:
        with fs.open("t/1", "wb", block_size=100) as f:
            f.write(b"3" * 1000)
        raise KeyError("abandon the transaction")
    assert fs.cat_file("t/1") == b"1" * 1000


def test_writes_stream_in_bounded_memory(tmp_path: Path) -> None:
    fs = ObjstoreFileSystem(f"file://{tmp_path}", skip_instance_cache=True)
    block = b"m" * MiB
    tracemalloc.start()
    try:
        with fs.open("stream.bin", "wb", block_size=MiB) as f:
            for _ in range(48):
                f.write(block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fs.size("stream.bin") == 48 * MiB
    assert peak < 8 * MiB  # a few blocks in flight, not the object


def test_a_large_file_is_one_multipart_upload_on_s3(moto_http: Any, moto_bucket: str) -> None:
    target = {**s3_target(moto_http, moto_bucket), "prefix": "multipart/"}
    target["s3"] = {**target["s3"], "multipart_threshold": "5MiB", "part_size": "5MiB"}
    fs = ObjstoreFileSystem(target, skip_instance_cache=True)
    with fs.open("big.bin", "wb", block_size=MiB) as f:
        for i in range(12):
            f.write(bytes([i]) * MiB)
        uploads = moto_http.pending_uploads(moto_bucket)
        assert [u["Key"] for u in uploads] == ["multipart/big.bin"]  # streaming, not buffered
        assert not fs.exists("big.bin")
    assert fs.size("big.bin") == 12 * MiB
    assert fs.cat_file("big.bin", 11 * MiB, 11 * MiB + 3) == b"\x0b" * 3
    assert moto_http.pending_uploads(moto_bucket) == []
    with pytest.raises(RuntimeError), fs.open("big.bin", "wb", block_size=MiB) as f:
        for _ in range(7):
            f.write(b"\xff" * MiB)
        raise RuntimeError("abandoned mid-upload")
    assert moto_http.pending_uploads(moto_bucket) == []  # the multipart upload was aborted
    assert fs.cat_file("big.bin", 0, 1) == b"\x00"


def test_a_failed_put_surfaces_at_the_write_or_the_close(tmp_path: Path) -> None:
    fs = ObjstoreFileSystem(f"file://{tmp_path}", skip_instance_cache=True)
    fs.pipe_file("a", b"a file, so a/b cannot be one")
    f = fs.open("a/b", "wb", block_size=10)
    with pytest.raises(objstore.KeyConflictError):
        for _ in range(100):
            f.write(b"0123456789")
        f.close()
    assert fs.find("") == ["a"]
    assert not [t for t in threading.enumerate() if t.name == "objstore-fsspec-upload"]


# -- the rest of the API ------------------------------------------------------------------------


def test_copy_rm_modified_and_sign(moto_http: Any, moto_bucket: str) -> None:
    target = {**s3_target(moto_http, moto_bucket), "prefix": "misc/"}
    fs = ObjstoreFileSystem(target, skip_instance_cache=True)
    fs.pipe_file("src/a.txt", b"copied server-side", content_type="text/plain")
    fs.cp_file("src/a.txt", "dst/a.txt")
    assert fs.info("dst/a.txt")["content_type"] == "text/plain"
    assert fs.modified("dst/a.txt") == fs.store.stat("dst/a.txt").last_modified
    url = fs.sign("dst/a.txt", expiration=60)
    with urllib.request.urlopen(url) as answer:
        assert answer.read() == b"copied server-side"
    fs.cp("src", "copy", recursive=True)
    fs.rm(["src", "copy"], recursive=True)
    assert fs.find("") == ["dst/a.txt"]


def test_sign_on_the_file_backend_is_served_by_objstore_s_server(tmp_path: Path) -> None:
    from signed_servers import SIGNING_KEY, wsgi_server

    import objstore.server

    def target(port: int) -> dict[str, Any]:
        section = {"root": str(tmp_path), "signing_key": SIGNING_KEY,
                   "base_url": f"http://127.0.0.1:{port}/files"}  # fmt: skip
        return {"backend": "file", "file": section}

    with wsgi_server(lambda port: objstore.server.wsgi_app(objstore.open(target(port)))) as port:
        fs = ObjstoreFileSystem(target(port), skip_instance_cache=True)
        fs.pipe_file("s/a.txt", b"signed by objstore")
        with urllib.request.urlopen(fs.sign("s/a.txt", expiration=60)) as answer:
            assert answer.read() == b"signed by objstore"


def test_cache_chains(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'store'}"
    with objstore.open(url) as store:
        store.put("c/data.bin", b"cached bytes")
    for chain in ("simplecache", "filecache", "blockcache"):
        options = {"objstore": {"target": url}, chain: {"cache_storage": str(tmp_path / chain)}}
        with fsspec.open(f"{chain}::objstore://c/data.bin", "rb", **options) as f:
            assert f.read() == b"cached bytes"
        assert any((tmp_path / chain).iterdir())


def test_importing_objstore_imports_neither_fsspec_nor_django() -> None:
    code = "import sys, objstore; print(sorted({'fsspec', 'django'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_missing_fsspec_names_the_extra() -> None:
    code = "import sys; sys.modules['fsspec'] = None; import objstore.fsspec"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode != 0
    assert "pip install 'objstore[fsspec]'" in out.stderr


def test_memory_backend_counts_as_a_store() -> None:
    with objstore.Store(MemoryBackend()) as store:
        fs = ObjstoreFileSystem(store=store)
        fs.pipe_file("m", b"m")
        assert fs.ls("", detail=False) == ["m"]
