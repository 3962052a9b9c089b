"""Conformance tests for ``list``: order, prefixes, delimiters, ``start_after``, paging."""

from __future__ import annotations

from datetime import UTC

import pytest

from .._models import CommonPrefix, ObjectInfo
from .._store import Store
from ._helpers import keys_of

# Characters on both sides of "/" (0x2F) in code-point order, and beyond ASCII.
ORDER_KEYS = [
    "t",
    "t!",
    "t-",
    "t-/x",
    "t.",
    "t.txt",
    "t/a",
    "t/a/b",
    "t0",
    "tA",
    "t_",
    "ta",
    "t~",
    "t\u00e9",
    "t\u4e16",
    "t\U0001f600",
    "T",
    "!",
    "a b",
    "a-b/c",
    "a/b",
    "a.b",
]


def _entries(items: object) -> list[tuple[str, str]]:
    return [(type(i).__name__, i.key) for i in items]  # type: ignore[attr-defined]


def _put_all(store: Store, keys: list[str]) -> None:
    for key in keys:
        store.put(key, key.encode())


class ListTests:
    """SPEC §5 ``list``: code-point order on every backend, string-prefix semantics."""

    def test_list_empty_store_yields_nothing(self, store: Store) -> None:
        assert list(store.list()) == []
        assert list(store.list("any", delimiter="/")) == []

    def test_list_is_recursive_and_in_code_point_order(self, store: Store) -> None:
        keys = [k for k in ORDER_KEYS if store.capabilities.nested_keys or not _conflicts(k)]
        _put_all(store, keys)
        assert keys_of(store.list()) == sorted(keys)

    def test_list_orders_characters_below_slash_before_it(self, store: Store) -> None:
        _put_all(store, ["t/x", "t-/x", "t.b/x", "t0/x", "t-a", "t.a"])
        assert keys_of(store.list()) == ["t-/x", "t-a", "t.a", "t.b/x", "t/x", "t0/x"]
        assert _entries(store.list(delimiter="/")) == [
            ("CommonPrefix", "t-/"),
            ("ObjectInfo", "t-a"),
            ("ObjectInfo", "t.a"),
            ("CommonPrefix", "t.b/"),
            ("CommonPrefix", "t/"),
            ("CommonPrefix", "t0/"),
        ]

    def test_list_yields_object_info_with_size_and_etag(self, store: Store) -> None:
        put = store.put("a/b", b"12345")
        (item,) = list(store.list())
        assert isinstance(item, ObjectInfo)
        assert (item.key, item.size, item.etag) == ("a/b", 5, put.etag)
        assert item.last_modified.tzinfo == UTC

    def test_list_content_type_and_metadata_are_real_or_none(self, store: Store) -> None:
        store.put("a.txt", b"x", content_type="text/x-kit", metadata={"owner": "zoë"})
        store.put("b.bin", b"y")
        for item, (content_type, metadata) in zip(
            store.list(),
            [("text/x-kit", {"owner": "zoë"}), ("application/octet-stream", {})],
            strict=True,
        ):
            assert isinstance(item, ObjectInfo)
            assert item.content_type in (None, content_type), item
            assert item.metadata is None or dict(item.metadata) == metadata, item

    def test_list_prefix_is_a_plain_string_prefix(self, store: Store) -> None:
        _put_all(store, ["photos/1.jpg", "photos/2/3.jpg", "phone", "ph", "pi", "p"])
        assert keys_of(store.list("ph")) == ["ph", "phone", "photos/1.jpg", "photos/2/3.jpg"]
        assert keys_of(store.list("photos/")) == ["photos/1.jpg", "photos/2/3.jpg"]
        assert keys_of(store.list("photos/2")) == ["photos/2/3.jpg"]
        assert keys_of(store.list("photos/2/3.jpg")) == ["photos/2/3.jpg"]
        assert keys_of(store.list("photos/2/3.jpgx")) == []
        assert keys_of(store.list("zzz")) == []

    def test_list_prefix_that_no_key_can_have(self, store: Store) -> None:
        store.put("a/b", b"x")
        for prefix in ("/a", "a//", "./a", "../", "a/../"):
            assert list(store.list(prefix)) == []

    def test_list_delimiter_collapses_common_prefixes(self, store: Store) -> None:
        _put_all(store, ["a/1", "a/2/x", "b", "c/d/e", "c/f"])
        assert _entries(store.list(delimiter="/")) == [
            ("CommonPrefix", "a/"),
            ("ObjectInfo", "b"),
            ("CommonPrefix", "c/"),
        ]
        assert _entries(store.list("c/", delimiter="/")) == [
            ("CommonPrefix", "c/d/"),
            ("ObjectInfo", "c/f"),
        ]
        assert _entries(store.list("a/2/", delimiter="/")) == [("ObjectInfo", "a/2/x")]

    def test_list_delimiter_with_partial_prefix(self, store: Store) -> None:
        _put_all(store, ["photos/a", "photos2/b", "phone", "pics/c"])
        assert _entries(store.list("ph", delimiter="/")) == [
            ("ObjectInfo", "phone"),
            ("CommonPrefix", "photos/"),
            ("CommonPrefix", "photos2/"),
        ]

    def test_list_common_prefix_values_are_common_prefix(self, store: Store) -> None:
        store.put("d/x", b"1")
        (item,) = list(store.list(delimiter="/"))
        assert item == CommonPrefix("d/")
        assert isinstance(item, CommonPrefix)

    @pytest.mark.parametrize(
        ("delimiter", "expected"),
        [
            (
                "-",
                [
                    ("CommonPrefix", "log-"),
                    ("ObjectInfo", "log/2024/a"),
                    ("ObjectInfo", "log/2024/b"),
                    ("ObjectInfo", "log_x"),
                ],
            ),
            (
                "__",
                [
                    ("CommonPrefix", "log-2024__"),
                    ("CommonPrefix", "log-2025__"),
                    ("ObjectInfo", "log/2024/a"),
                    ("ObjectInfo", "log/2024/b"),
                    ("ObjectInfo", "log_x"),
                ],
            ),
            (
                "/2024/",
                [
                    ("ObjectInfo", "log-2024__a"),
                    ("ObjectInfo", "log-2025__b"),
                    ("CommonPrefix", "log/2024/"),
                    ("ObjectInfo", "log_x"),
                ],
            ),
        ],
    )
    def test_list_any_string_is_a_delimiter(
        self, store: Store, delimiter: str, expected: list[tuple[str, str]]
    ) -> None:
        _put_all(store, ["log-2024__a", "log-2025__b", "log/2024/a", "log/2024/b", "log_x"])
        assert _entries(store.list(delimiter=delimiter)) == expected

    def test_list_delimiter_groups_after_the_prefix_only(self, store: Store) -> None:
        _put_all(store, ["a-b-c", "a-b-d", "a-x"])
        assert _entries(store.list("a-", delimiter="-")) == [
            ("CommonPrefix", "a-b-"),
            ("ObjectInfo", "a-x"),
        ]

    def test_list_start_after_skips_up_to_and_including(self, store: Store) -> None:
        keys = [f"k{i:02d}" for i in range(10)]
        _put_all(store, keys)
        assert keys_of(store.list(start_after="k04")) == keys[5:]
        assert keys_of(store.list(start_after="k045")) == keys[5:]
        assert keys_of(store.list(start_after="")) == keys
        assert keys_of(store.list(start_after="k99")) == []

    def test_list_start_after_inside_nested_keys(self, store: Store) -> None:
        keys = ["a/a", "a/b/c", "a/b/d", "a/c", "b"]
        _put_all(store, keys)
        assert keys_of(store.list(start_after="a/b")) == ["a/b/c", "a/b/d", "a/c", "b"]
        assert keys_of(store.list(start_after="a/b/c")) == ["a/b/d", "a/c", "b"]
        assert keys_of(store.list(start_after="a/")) == keys
        assert keys_of(store.list(start_after="a0")) == ["b"]

    def test_list_start_after_with_prefix(self, store: Store) -> None:
        _put_all(store, ["p/1", "p/2", "p/3", "q/1"])
        assert keys_of(store.list("p/", start_after="p/1")) == ["p/2", "p/3"]
        assert keys_of(store.list("p/", start_after="a")) == ["p/1", "p/2", "p/3"]
        assert keys_of(store.list("p/", start_after="p/9")) == []
        assert keys_of(store.list("p/1", start_after="")) == ["p/1"]
        assert keys_of(store.list("p/1", start_after="p/")) == ["p/1"]
        assert keys_of(store.list("p/1", start_after="p/1")) == []

    def test_list_paginates_past_1000_keys(self, store: Store) -> None:
        keys = [f"page/{i:05d}" for i in range(1105)]
        for key in keys:
            store.put(key, b"")
        listed = keys_of(store.list("page/"))
        assert listed == keys
        assert len(set(listed)) == len(keys)
        assert keys_of(store.list("page/", start_after="page/00999")) == keys[1000:]

    def test_list_many_common_prefixes_page_correctly(self, store: Store) -> None:
        for group in range(30):
            for item in range(40):
                store.put(f"g{group:02d}/{item:02d}", b"")
        prefixes = list(store.list(delimiter="/"))
        assert prefixes == [CommonPrefix(f"g{group:02d}/") for group in range(30)]

    def test_list_rejects_bad_arguments(self, store: Store) -> None:
        with pytest.raises(ValueError):
            store.list(delimiter="")
        with pytest.raises(TypeError):
            store.list(5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            store.list(start_after=3)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            store.list("bad\x00prefix")

    def test_list_survives_writes_during_iteration(self, store: Store) -> None:
        _put_all(store, ["a", "b", "c"])
        listing = store.list()
        assert next(listing).key == "a"
        store.put("bb", b"")
        rest = keys_of(listing)
        assert rest in (["b", "c"], ["b", "bb", "c"])


def _conflicts(key: str) -> bool:
    """Whether ``key`` is a file-and-directory clash with another of ``ORDER_KEYS``."""
    return any(other.startswith(key + "/") or key.startswith(other + "/") for other in ORDER_KEYS)
