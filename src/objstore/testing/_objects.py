"""Conformance tests for keys, ``put``, metadata, reads, ``stat`` and ``delete``."""

from __future__ import annotations

import enum
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from .._models import ObjectInfo
from .._store import Store
from ..errors import InvalidKeyError, NotFoundError, ObjstoreError
from ._budget import KeyBudget
from ._helpers import INVALID_KEYS, NON_STR_KEYS, WEIRD_KEYS, keys_of, pattern


class _Where(str, enum.Enum):  # noqa: UP042 - str() of this mixin is the name: the trap
    """Keys as a ``str``-mixin enum: its value is the key, never its name."""

    PHOTO = "photos/cat.jpg"
    OUT = "../outside/secret.txt"


class KeyTests:
    """SPEC §3: exactly the portable keys are accepted, unchanged."""

    @pytest.mark.parametrize("key", list(WEIRD_KEYS.values()), ids=list(WEIRD_KEYS))
    def test_keys_weird_but_valid_keys_round_trip(self, store: Store, key: str) -> None:
        info = store.put(key, key.encode("utf-8"))
        assert info.key == key
        assert store.get(key) == key.encode("utf-8")
        assert store.stat(key).key == key
        assert keys_of(store.list()) == [key]
        store.delete(key)
        assert keys_of(store.list()) == []

    @pytest.mark.parametrize("key", list(INVALID_KEYS.values()), ids=list(INVALID_KEYS))
    def test_keys_invalid_keys_rejected_everywhere(self, store: Store, key: object) -> None:
        store.put("existing", b"x")
        for call in _key_calls(store, key):
            with pytest.raises(InvalidKeyError):
                call()
        assert keys_of(store.list()) == ["existing"]

    @pytest.mark.parametrize("key", list(NON_STR_KEYS.values()), ids=list(NON_STR_KEYS))
    def test_keys_that_are_not_str_are_a_type_error(self, store: Store, key: object) -> None:
        store.put("existing", b"x")
        for call in _key_calls(store, key):
            with pytest.raises(TypeError):
                call()
        for argument in ("prefix", "start_after") if key is not None else ("prefix",):
            with pytest.raises(TypeError):
                store.list(**{argument: key})  # type: ignore[arg-type]
        assert keys_of(store.list()) == ["existing"]

    def test_keys_str_subclass_means_its_value(self, store: Store) -> None:
        info = store.put(_Where.PHOTO, b"meow")
        assert type(info.key) is str and info.key == "photos/cat.jpg"
        assert keys_of(store.list()) == ["photos/cat.jpg"]
        assert store.get("photos/cat.jpg") == b"meow"
        assert store.stat(_Where.PHOTO).key == "photos/cat.jpg"
        assert store.copy(_Where.PHOTO, "copy").key == "copy"
        assert keys_of(store.list(_Where.PHOTO)) == ["photos/cat.jpg"]
        assert keys_of(store.list(start_after=_Where.PHOTO)) == []
        store.delete_many([_Where.PHOTO])
        assert keys_of(store.list()) == ["copy"]

    def test_keys_str_subclass_is_validated_as_its_value(self, store: Store) -> None:
        store.put("inside", b"x")
        for call in _key_calls(store, _Where.OUT):
            with pytest.raises(InvalidKeyError):
                call()
        assert keys_of(store.list()) == ["inside"]

    def test_keys_invalid_key_error_is_a_value_error(self, store: Store) -> None:
        with pytest.raises(ValueError, match="segment"):
            store.put("a//b", b"x")

    def test_keys_are_case_sensitive(self, store: Store) -> None:
        store.put("Case", b"upper")
        store.put("case", b"lower")
        assert store.get("Case") == b"upper"
        assert store.get("case") == b"lower"
        assert keys_of(store.list()) == ["Case", "case"]

    def test_keys_are_never_normalised(self, store: Store) -> None:
        composed, decomposed = "caf\u00e9", "cafe\u0301"
        store.put(composed, b"nfc")
        store.put(decomposed, b"nfd")
        assert store.get(composed) == b"nfc"
        assert store.get(decomposed) == b"nfd"
        assert sorted(keys_of(store.list())) == sorted([composed, decomposed])

    def test_keys_longest_valid_key(self, store: Store, key_budget: KeyBudget) -> None:
        key = key_budget.longest_key()  # 1024 bytes, less what a namespace prefix takes
        assert len(key.encode()) == key_budget.max_bytes
        store.put(key, b"long")
        assert store.get(key) == b"long"
        assert keys_of(store.list()) == [key]
        with pytest.raises(InvalidKeyError):
            store.put(key + "x", b"one byte too long")
        assert keys_of(store.list()) == [key]

    def test_keys_multibyte_length_counts_utf8_bytes(
        self, store: Store, key_budget: KeyBudget
    ) -> None:
        key = "é" * (key_budget.first_segment_bytes // 2)  # 254 bytes in one segment, or less
        store.put(key, b"x")
        assert store.get(key) == b"x"
        with pytest.raises(InvalidKeyError):
            store.put(key + "éé", b"x")  # 2 or 3 bytes past the limit of a segment


class PutTests:
    """``put``: every accepted data shape, results, failure atomicity."""

    def test_put_bytes_returns_complete_info(self, store: Store) -> None:
        before = datetime.now(UTC) - timedelta(minutes=5)
        info = store.put("obj.bin", b"hello world")
        assert isinstance(info, ObjectInfo)
        assert (info.key, info.size) == ("obj.bin", 11)
        assert isinstance(info.etag, str) and info.etag
        assert not info.etag.startswith('"') and not info.etag.endswith('"')
        assert info.last_modified.tzinfo is not None
        assert info.last_modified.utcoffset() == timedelta(0)
        assert before <= info.last_modified <= datetime.now(UTC) + timedelta(minutes=5)
        assert info.content_type == "application/octet-stream"
        assert dict(info.metadata or {}) == {}

    @pytest.mark.parametrize(
        "data",
        [bytearray(b"abc\x00def"), memoryview(b"abc\x00def"), memoryview(b"xxabc\x00defyy")[2:-2]],
        ids=["bytearray", "memoryview", "memoryview-slice"],
    )
    def test_put_bytes_like_objects(self, store: Store, data: object) -> None:
        store.put("k", data)
        assert store.get("k") == b"abc\x00def"

    def test_put_binary_file_object(self, store: Store) -> None:
        content = pattern(300_000)
        info = store.put("file", io.BytesIO(content))
        assert info.size == len(content)
        assert store.get("file") == content

    def test_put_file_object_from_current_position(self, store: Store) -> None:
        source = io.BytesIO(b"skip-this|keep-this")
        source.read(10)
        store.put("k", source)
        assert store.get("k") == b"keep-this"

    def test_put_iterable_of_chunks_of_unknown_length(self, store: Store) -> None:
        chunks = [b"a" * 10, bytearray(b"b" * 3), memoryview(b"c" * 70_000), b"", b"d"]
        expected = b"".join(bytes(c) for c in chunks)
        info = store.put("chunks", iter(chunks))
        assert info.size == len(expected)
        assert store.get("chunks") == expected

    def test_put_generator_of_several_megabytes(self, store: Store) -> None:
        def generate() -> Iterator[bytes]:
            for i in range(13):
                yield pattern(513_331, seed=i)

        expected = b"".join(generate())
        assert store.put("gen", generate()).size == len(expected)
        assert store.get("gen") == expected

    def test_put_reused_buffer_chunks_are_copied(self, store: Store) -> None:
        buffer = bytearray(4)

        def refill() -> Iterator[bytearray]:
            for letter in b"wxyz":
                buffer[:] = bytes([letter]) * 4
                yield buffer

        store.put("k", refill())
        assert store.get("k") == b"wwwwxxxxyyyyzzzz"

    def test_put_empty_object(self, store: Store) -> None:
        info = store.put("empty", b"")
        assert info.size == 0
        assert store.get("empty") == b""
        assert store.stat("empty").size == 0
        assert store.put("empty-iter", iter([])).size == 0

    def test_put_overwrite_replaces_content_and_etag(self, store: Store) -> None:
        first = store.put("k", b"one")
        second = store.put("k", b"two!")
        assert second.etag != first.etag
        assert store.get("k") == b"two!"
        assert store.stat("k").size == 4

    def test_put_etag_is_the_same_everywhere(self, store: Store) -> None:
        info = store.put("dir/k", b"content", content_type="text/x-test")
        assert store.stat("dir/k").etag == info.etag
        with store.open("dir/k") as reader:
            assert reader.info.etag == info.etag
        listed = [i for i in store.list() if isinstance(i, ObjectInfo)]
        assert [(i.key, i.etag, i.size) for i in listed] == [("dir/k", info.etag, 7)]

    def test_put_progress_reports_bytes_done_and_total(self, store: Store) -> None:
        calls: list[tuple[int, int | None]] = []
        content = pattern(3_000_000)
        store.put("k", content, progress=lambda done, total: calls.append((done, total)))
        assert calls and calls[-1] == (len(content), len(content))
        assert [done for done, _ in calls] == sorted(done for done, _ in calls)

    def test_put_progress_total_is_none_for_unknown_length(self, store: Store) -> None:
        calls: list[tuple[int, int | None]] = []
        store.put("k", iter([b"ab", b"cd"]), progress=lambda d, t: calls.append((d, t)))
        assert calls[-1] == (4, None)

    @pytest.mark.parametrize(
        "data",
        ["text", 12, None, 3.5, {"a": b"b"}, [1, 2], io.StringIO("text")],
        ids=["str", "int", "none", "float", "dict", "list-of-ints", "text-file"],
    )
    def test_put_rejects_wrong_data_types(self, store: Store, data: object) -> None:
        with pytest.raises(TypeError):
            store.put("k", data)
        assert not store.exists("k")

    def test_put_rejects_non_callable_progress(self, store: Store) -> None:
        with pytest.raises(TypeError):
            store.put("k", b"x", progress=5)  # type: ignore[arg-type]
        assert not store.exists("k")

    def test_put_failing_source_keeps_the_old_object(self, store: Store) -> None:
        store.put("k", b"original", metadata={"v": "1"})

        class SourceBrokeError(Exception):
            pass

        def failing() -> Iterator[bytes]:
            yield b"partial data " * 1000
            raise SourceBrokeError("the source broke")

        with pytest.raises(SourceBrokeError):
            store.put("k", failing(), metadata={"v": "2"})
        assert store.get("k") == b"original"
        assert dict(store.stat("k").metadata or {}) == {"v": "1"}
        assert keys_of(store.list()) == ["k"]

    def test_put_failing_source_on_new_key_leaves_nothing(self, store: Store) -> None:
        def failing() -> Iterator[bytes]:
            yield b"x" * 70_000
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            store.put("deep/new/key", failing())
        assert not store.exists("deep/new/key")
        assert keys_of(store.list()) == []
        assert list(store.list(delimiter="/")) == []

    def test_put_failing_file_object_leaves_nothing(self, store: Store) -> None:
        class BrokenFile(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def readinto(self, buffer: object) -> int:
                raise OSError("disk on fire")

        with pytest.raises(OSError, match="disk on fire"):
            store.put("k", BrokenFile())
        assert not store.exists("k")

    def test_put_chunk_of_wrong_type_fails_cleanly(self, store: Store) -> None:
        with pytest.raises(TypeError):
            store.put("k", iter([b"ok", "not bytes"]))
        assert not store.exists("k")


class MetadataTests:
    """Content types and user metadata (SPEC §4)."""

    def test_content_type_explicit_round_trips(self, store: Store) -> None:
        info = store.put("k.txt", b"x", content_type="application/vnd.test+json; charset=utf-8")
        assert info.content_type == "application/vnd.test+json; charset=utf-8"
        assert store.stat("k.txt").content_type == info.content_type
        with store.open("k.txt") as reader:
            assert reader.info.content_type == info.content_type

    @pytest.mark.parametrize(
        ("key", "expected"),
        [
            ("a.json", "application/json"),
            ("dir/b.txt", "text/plain"),
            ("c.PNG", "image/png"),
            ("d.html", "text/html"),
            ("noext", "application/octet-stream"),
            ("dir.d/noext", "application/octet-stream"),
            (".hidden", "application/octet-stream"),
        ],
    )
    def test_content_type_guessed_from_extension(
        self, store: Store, key: str, expected: str
    ) -> None:
        assert store.put(key, b"x").content_type == expected
        assert store.stat(key).content_type == expected

    @pytest.mark.parametrize("bad", ["", "text/plain\n", "tëxt/plain", 5])
    def test_content_type_invalid_rejected(self, store: Store, bad: object) -> None:
        with pytest.raises((ValueError, TypeError)):
            store.put("k", b"x", content_type=bad)  # type: ignore[arg-type]
        assert not store.exists("k")

    def test_metadata_round_trips(self, store: Store) -> None:
        meta = {"owner": "alice", "x-count": "3", "empty": ""}
        assert dict(store.put("k", b"x", metadata=meta).metadata or {}) == meta
        assert dict(store.stat("k").metadata or {}) == meta
        with store.open("k") as reader:
            assert dict(reader.info.metadata or {}) == meta

    def test_metadata_unicode_values_round_trip_exactly(self, store: Store) -> None:
        meta = {
            "name": "Zoë Ångström",
            "cjk": "東京の写真",
            "emoji": "📷 ✨",
            "spaces": "  padded  ",
            "newline": "line one\nline two",
            "looks-encoded": "=?UTF-8?B?SGk=?=",
            "percent": "100% %20",
        }
        store.put("k", b"x", metadata=meta)
        assert dict(store.stat("k").metadata or {}) == meta

    @pytest.mark.parametrize("name", ["Upper", "under_score", "with space", "", "é", "a.b"])
    def test_metadata_invalid_names_rejected(self, store: Store, name: str) -> None:
        with pytest.raises(ValueError):
            store.put("k", b"x", metadata={name: "v"})
        assert not store.exists("k")

    def test_metadata_non_str_value_rejected(self, store: Store) -> None:
        with pytest.raises(ValueError):
            store.put("k", b"x", metadata={"n": 1})  # type: ignore[dict-item]
        assert not store.exists("k")

    def test_metadata_size_limit_is_2_kib(self, store: Store) -> None:
        exactly = {"a": "x" * 1000, "b": "é" * 523}  # 1 + 1000 + 1 + 1046 = 2048 bytes
        store.put("ok", b"x", metadata=exactly)
        assert dict(store.stat("ok").metadata or {}) == exactly
        with pytest.raises(ValueError):
            store.put("big", b"x", metadata={"a": "x" * 1000, "b": "é" * 524})
        assert not store.exists("big")

    def test_metadata_replaced_by_overwrite(self, store: Store) -> None:
        store.put("k", b"x", metadata={"a": "1"}, content_type="text/x-one")
        store.put("k", b"y")
        info = store.stat("k")
        assert dict(info.metadata or {}) == {}
        assert info.content_type == "application/octet-stream"

    def test_metadata_not_aliased_to_the_callers_dict(self, store: Store) -> None:
        meta = {"a": "1"}
        store.put("k", b"x", metadata=meta)
        meta["a"] = "changed"
        assert dict(store.stat("k").metadata or {}) == {"a": "1"}


class ReadTests:
    """``get``, ``get_stream``, ``open``, ``stat`` and ``exists``."""

    SIZE = 1000

    @pytest.mark.parametrize(
        ("offset", "length"),
        [
            (0, None),
            (0, 1),
            (1, 1),
            (0, 999),
            (1, 999),
            (999, 1),
            (999, None),
            (500, 250),
            (0, 1000),
            (0, 5000),
            (998, 10),
            (1000, None),
            (1000, 5),
            (1001, 1),
            (5000, None),
            (0, 0),
            (10, 0),
        ],
    )
    def test_get_range_has_slice_semantics(
        self, store: Store, offset: int, length: int | None
    ) -> None:
        content = pattern(self.SIZE)
        store.put("k", content)
        end = None if length is None else offset + length
        assert store.get("k", offset=offset, length=length) == content[offset:end]

    def test_get_ranges_across_megabyte_boundaries(self, store: Store) -> None:
        """Backends keep big objects in parts (pieces, blocks, multipart parts): a range
        that straddles where one would end must still read straight through."""
        mib = 1 << 20
        content = pattern(2 * mib + 5, seed=3)
        store.put("k", (content[i : i + 300_007] for i in range(0, len(content), 300_007)))
        for offset, length in [(mib - 3, 10), (mib, 1), (2 * mib - 1, 6), (1, 2 * mib + 9)]:
            got = store.get("k", offset=offset, length=length)
            assert got == content[offset : offset + length], (offset, length)
        streamed = list(store.get_stream("k", offset=mib - 1, chunk_size=700_001))
        assert all(0 < len(c) <= 700_001 for c in streamed)
        assert b"".join(streamed) == content[mib - 1 :]

    def test_get_range_on_empty_object(self, store: Store) -> None:
        store.put("k", b"")
        assert store.get("k", offset=0, length=10) == b""
        assert store.get("k", offset=3) == b""

    @pytest.mark.parametrize(("offset", "length"), [(-1, None), (0, -1), (-5, -5)])
    def test_get_negative_range_rejected(
        self, store: Store, offset: int, length: int | None
    ) -> None:
        store.put("k", b"abc")
        with pytest.raises(ValueError):
            store.get("k", offset=offset, length=length)
        with pytest.raises(ValueError):
            store.get_stream("k", offset=offset, length=length)
        with pytest.raises(ValueError):
            store.open("k", offset=offset, length=length)

    def test_get_missing_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError) as caught:
            store.get("missing/key")
        assert isinstance(caught.value, FileNotFoundError)
        assert caught.value.key == "missing/key"
        assert caught.value.backend

    def test_get_stream_yields_bounded_chunks(self, store: Store) -> None:
        content = pattern(100_003)
        store.put("k", content)
        chunks = list(store.get_stream("k", chunk_size=4096))
        assert all(0 < len(c) <= 4096 for c in chunks)
        assert b"".join(chunks) == content

    def test_get_stream_range(self, store: Store) -> None:
        content = pattern(50_000)
        store.put("k", content)
        streamed = b"".join(store.get_stream("k", offset=1234, length=20_000, chunk_size=999))
        assert streamed == content[1234:21234]

    def test_get_stream_missing_raises_at_call(self, store: Store) -> None:
        with pytest.raises(NotFoundError):
            store.get_stream("missing")

    def test_get_stream_closed_early_releases_the_object(self, store: Store) -> None:
        store.put("k", pattern(200_000))
        stream = store.get_stream("k", chunk_size=1000)
        assert len(next(stream)) == 1000
        stream.close()
        store.put("k", b"rewritten")
        store.delete("k")
        assert not store.exists("k")

    @pytest.mark.parametrize("chunk_size", [0, -1, 1.5])
    def test_get_stream_rejects_bad_chunk_size(self, store: Store, chunk_size: object) -> None:
        store.put("k", b"x")
        with pytest.raises(ValueError):
            store.get_stream("k", chunk_size=chunk_size)  # type: ignore[arg-type]

    def test_open_reads_like_a_binary_file(self, store: Store) -> None:
        content = b"line one\nline two\n" + pattern(10_000)
        info = store.put("k", content, metadata={"m": "v"})
        with store.open("k") as reader:
            assert reader.info.etag == info.etag
            assert dict(reader.info.metadata or {}) == {"m": "v"}
            assert reader.readable() and reader.seekable()
            assert reader.readline() == b"line one\n"
            assert reader.read(4) == b"line"
            assert reader.tell() == 13
            reader.seek(-10, io.SEEK_END)
            assert reader.read() == content[-10:]
            reader.seek(5)
            assert reader.read(3) == content[5:8]
            reader.seek(len(content) + 100)
            assert reader.read() == b""
        assert reader.closed

    def test_open_range_is_a_file_of_its_own(self, store: Store) -> None:
        content = pattern(5000)
        store.put("k", content)
        with store.open("k", offset=100, length=200) as reader:
            assert reader.read() == content[100:300]
            assert reader.seek(0, io.SEEK_END) == 200
            reader.seek(50)
            assert reader.read(10) == content[150:160]

    def test_open_missing_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError):
            store.open("missing")

    def test_stat_fills_everything(self, store: Store) -> None:
        put = store.put("a/b.json", b"{}", metadata={"k": "v"})
        info = store.stat("a/b.json")
        assert (info.key, info.size, info.content_type) == ("a/b.json", 2, "application/json")
        assert dict(info.metadata or {}) == {"k": "v"}
        assert info.etag == put.etag
        assert info.last_modified.utcoffset() == timedelta(0)
        assert info.last_modified.tzinfo == UTC

    def test_stat_missing_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError):
            store.stat("nope")

    def test_stat_of_a_prefix_is_not_found(self, store: Store) -> None:
        store.put("dir/file", b"x")
        with pytest.raises(NotFoundError):
            store.stat("dir")
        with pytest.raises(NotFoundError):
            store.get("dir")
        assert not store.exists("dir")

    def test_exists(self, store: Store) -> None:
        assert not store.exists("k")
        store.put("k", b"")
        assert store.exists("k")
        store.delete("k")
        assert not store.exists("k")


class DeleteTests:
    """``delete`` and ``delete_many``."""

    def test_delete_removes_the_object(self, store: Store) -> None:
        store.put("k", b"x")
        store.delete("k")
        with pytest.raises(NotFoundError):
            store.get("k")
        assert keys_of(store.list()) == []

    def test_delete_missing_key_is_not_an_error(self, store: Store) -> None:
        store.delete("never/existed")
        store.put("k", b"x")
        store.delete("k")
        store.delete("k")

    def test_delete_leaves_siblings_and_prefixes_alone(self, store: Store) -> None:
        for key in ("a/b/c", "a/b/d", "a/e", "f"):
            store.put(key, b"x")
        store.delete("a/b/c")
        assert keys_of(store.list()) == ["a/b/d", "a/e", "f"]
        store.delete("a/b/d")
        assert keys_of(store.list()) == ["a/e", "f"]
        top = [(type(i).__name__, i.key) for i in store.list(delimiter="/")]
        assert top == [("CommonPrefix", "a/"), ("ObjectInfo", "f")]
        assert keys_of(store.list("a/", delimiter="/")) == ["a/e"]  # no empty "a/b/" left

    def test_delete_many_removes_all_and_ignores_missing(self, store: Store) -> None:
        for i in range(25):
            store.put(f"k/{i:02d}", b"x")
        store.delete_many([f"k/{i:02d}" for i in range(0, 25, 2)] + ["missing", "k/00"])
        assert keys_of(store.list()) == [f"k/{i:02d}" for i in range(1, 25, 2)]

    def test_delete_many_accepts_any_iterable(self, store: Store) -> None:
        store.put("a", b"x")
        store.put("b", b"x")
        store.delete_many(key for key in ["a", "b"])
        store.delete_many([])
        assert keys_of(store.list()) == []

    def test_delete_many_checks_every_key_first(self, store: Store) -> None:
        store.put("a", b"x")
        store.put("b", b"x")
        with pytest.raises(InvalidKeyError):
            store.delete_many(["a", "b", "bad//key"])
        assert keys_of(store.list()) == ["a", "b"]

    def test_delete_many_rejects_a_single_string(self, store: Store) -> None:
        store.put("abc", b"x")
        with pytest.raises(TypeError):
            store.delete_many("abc")
        assert store.exists("abc")


class ErrorTests:
    """SPEC §6: the error tree, with key and backend filled in."""

    def test_errors_carry_key_and_backend(self, store: Store) -> None:
        with pytest.raises(ObjstoreError) as caught:
            store.stat("missing")
        assert caught.value.key == "missing"
        assert isinstance(caught.value.backend, str) and caught.value.backend
        assert "missing" in str(caught.value)


def _key_calls(store: Store, key: object) -> list[Callable[[], object]]:
    """Every entry point that takes a key, called with ``key`` where a key goes."""
    return [
        lambda: store.put(key, b"data"),  # type: ignore[arg-type]
        lambda: store.get(key),  # type: ignore[arg-type]
        lambda: store.get_stream(key),  # type: ignore[arg-type]
        lambda: store.open(key),  # type: ignore[arg-type]
        lambda: store.stat(key),  # type: ignore[arg-type]
        lambda: store.exists(key),  # type: ignore[arg-type]
        lambda: store.delete(key),  # type: ignore[arg-type]
        lambda: store.delete_many(["existing", key]),  # type: ignore[list-item]
        lambda: store.copy("existing", key),  # type: ignore[arg-type]
        lambda: store.copy(key, "other"),  # type: ignore[arg-type]
        lambda: store.presign(key),  # type: ignore[arg-type]
    ]
