"""A Hypothesis state machine that checks any store against a plain-dict model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from .._models import CommonPrefix, ObjectInfo
from .._store import Store
from ..errors import KeyConflictError, NotFoundError, PreconditionFailedError

# A small universe, so operations collide: nested keys, characters around "/", unicode.
KEYS = ["a", "b", "a/b", "a/c", "a-b", "a/b/c", "b/a", "é", "A", "a b", "t-/x", "t/x"]
PREFIXES = ["", "a", "a/", "a/b", "b", "t", "é", "zz"]
DELIMITERS = [None, "/", "-", "/b"]
START_AFTER = [None, "", "a", "a/", "a/b", "b", "t-"]

_metadata = st.dictionaries(st.sampled_from(["m", "x-y", "n1"]), st.text(max_size=6), max_size=2)


@dataclass
class _Version:
    data: bytes
    etag: str
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)


class StoreStateMachine(RuleBasedStateMachine):
    """Drive a store with random operations and compare every answer with a model.

    Pass a store to the constructor (``run_state_machine_as_test(lambda:
    StoreStateMachine(store))``), or subclass it and override :meth:`make_store`
    so that ``MyMachine.TestCase`` runs under unittest or pytest. The store is
    emptied at the start of each example.
    """

    def __init__(self, store: Store | None = None):
        super().__init__()
        self._owned = store is None
        self.store = store if store is not None else self.make_store()
        self.store.delete_many([item.key for item in self.store.list()])
        self.nested = self.store.capabilities.nested_keys
        self.conditional = self.store.capabilities.conditional_put
        self.model: dict[str, _Version] = {}
        self.retired: list[str] = []  # etags of versions that no longer exist
        self.steps = 0

    def make_store(self) -> Store:
        """Build the store to check (override when not passing one in)."""
        raise NotImplementedError("pass a store or override make_store()")

    def teardown(self) -> None:
        if self._owned:
            self.store.close()

    # -- helpers -------------------------------------------------------------------------

    def _conflicts(self, key: str) -> bool:
        if self.nested:
            return False
        return any(k.startswith(key + "/") or key.startswith(k + "/") for k in self.model)

    def _pick_key(self, data: st.DataObject) -> str:
        """Mostly an existing key (reads of absent keys are less interesting)."""
        if self.model and data.draw(st.integers(0, 3), label="existing") > 0:
            return data.draw(st.sampled_from(sorted(self.model)), label="key")
        return data.draw(st.sampled_from(KEYS), label="key")

    def _record(self, key: str, data: bytes, info: ObjectInfo) -> None:
        old = self.model.get(key)
        if old is not None:
            if old.data != data:
                assert info.etag != old.etag, "etag did not change with the content"
            self.retired.append(old.etag)
        assert info.size == len(data)
        assert info.etag and info.content_type is not None
        self.model[key] = _Version(data, info.etag, info.content_type, dict(info.metadata or {}))

    # -- writes --------------------------------------------------------------------------

    @rule(key=st.sampled_from(KEYS), data=st.binary(max_size=48), metadata=_metadata)
    def put(self, key: str, data: bytes, metadata: dict[str, str]) -> None:
        if self._conflicts(key):
            try:
                self.store.put(key, data, metadata=metadata)
            except KeyConflictError:
                return
            raise AssertionError(f"put {key!r} beside a conflicting key did not fail")
        info = self.store.put(key, data, metadata=metadata)
        assert dict(info.metadata or {}) == metadata
        self._record(key, data, info)

    @precondition(lambda self: self.conditional)
    @rule(key=st.sampled_from(KEYS), data=st.binary(max_size=16))
    def put_if_absent(self, key: str, data: bytes) -> None:
        expect_conflict = self._conflicts(key)
        try:
            info = self.store.put(key, data, if_none_match="*")
        except PreconditionFailedError:
            assert key in self.model, f"create-if-absent of absent {key!r} failed"
            return
        except KeyConflictError:
            assert expect_conflict, f"unexpected KeyConflictError for {key!r}"
            return
        assert key not in self.model and not expect_conflict, f"{key!r} was overwritten"
        self._record(key, data, info)

    @precondition(lambda self: self.conditional)
    @rule(
        data=st.data(),
        content=st.binary(max_size=16),
        current=st.booleans(),
        pick=st.integers(min_value=0),
    )
    def put_if_match(self, data: st.DataObject, content: bytes, current: bool, pick: int) -> None:
        key = self._pick_key(data)
        version = self.model.get(key)
        if current and version is not None:
            etag = version.etag
        elif self.retired:
            etag = self.retired[pick % len(self.retired)]
        else:
            etag = "no-such-etag"
        should_win = version is not None and etag == version.etag
        try:
            info = self.store.put(key, content, if_match=etag)
        except PreconditionFailedError:
            assert not should_win, f"if_match with the current etag of {key!r} failed"
            return
        except KeyConflictError:
            assert not should_win and self._conflicts(key)
            return
        assert should_win, f"if_match with a wrong etag replaced {key!r}"
        self._record(key, content, info)

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        key = self._pick_key(data)
        self.store.delete(key)
        version = self.model.pop(key, None)
        if version is not None:
            self.retired.append(version.etag)

    @rule(keys=st.lists(st.sampled_from(KEYS), max_size=4))
    def delete_many(self, keys: list[str]) -> None:
        self.store.delete_many(keys)
        for key in keys:
            version = self.model.pop(key, None)
            if version is not None:
                self.retired.append(version.etag)

    @rule(data=st.data(), dst=st.sampled_from(KEYS))
    def copy(self, data: st.DataObject, dst: str) -> None:
        src = self._pick_key(data)
        source = self.model.get(src)
        if source is None:
            try:
                self.store.copy(src, dst)
            except NotFoundError:
                return
            raise AssertionError(f"copy from missing {src!r} did not raise NotFoundError")
        if self._conflicts(dst):
            try:
                self.store.copy(src, dst)
            except KeyConflictError:
                return
            raise AssertionError(f"copy onto conflicting {dst!r} did not fail")
        info = self.store.copy(src, dst)
        assert info.content_type == source.content_type
        assert dict(info.metadata or {}) == source.metadata
        metadata = dict(source.metadata)
        self._record(dst, source.data, info)
        self.model[dst].metadata = metadata

    # -- reads ---------------------------------------------------------------------------

    @rule(data=st.data())
    def get(self, data: st.DataObject) -> None:
        key = self._pick_key(data)
        version = self.model.get(key)
        size = len(version.data) if version is not None else 8
        # Two reads: a range around the object's boundaries, where clamping bugs live,
        # and one strictly inside it, where a range that reads a byte too many shows.
        offset = data.draw(st.integers(0, size + 2), label="offset")
        length = data.draw(st.none() | st.integers(0, size + 2), label="length")
        self._check_read(key, version, offset, length)
        if size > 0:
            offset = data.draw(st.integers(0, size - 1), label="inner offset")
            length = data.draw(st.integers(0, size - offset - 1), label="inner length")
            self._check_read(key, version, offset, length)

    def _check_read(
        self, key: str, version: _Version | None, offset: int, length: int | None
    ) -> None:
        try:
            got = self.store.get(key, offset=offset, length=length)
        except NotFoundError:
            assert version is None, f"get {key!r} raised NotFoundError but it exists"
            return
        assert version is not None, f"get {key!r} returned data but it does not exist"
        end = None if length is None else offset + length
        assert got == version.data[offset:end], f"wrong bytes for {key!r}[{offset}:{end}]"

    @rule(data=st.data())
    def stat(self, data: st.DataObject) -> None:
        key = self._pick_key(data)
        version = self.model.get(key)
        try:
            info = self.store.stat(key)
        except NotFoundError:
            assert version is None, f"stat {key!r} raised NotFoundError but it exists"
            return
        assert version is not None, f"stat found {key!r}, which does not exist"
        assert (info.size, info.etag) == (len(version.data), version.etag)
        assert info.content_type == version.content_type
        assert dict(info.metadata or {}) == version.metadata

    @rule(
        prefix=st.sampled_from(PREFIXES),
        delimiter=st.sampled_from(DELIMITERS),
        start_after=st.sampled_from(START_AFTER),
    )
    def list(self, prefix: str, delimiter: str | None, start_after: str | None) -> None:
        got = [
            (type(i).__name__, i.key)
            for i in self.store.list(prefix, delimiter=delimiter, start_after=start_after)
        ]
        assert got == expected_listing(self.model, prefix, delimiter, start_after)

    @invariant()
    def a_range_reads_back(self) -> None:
        # Every step reads a range strictly inside one object, in turn, so a range that
        # reads a byte too many shows whichever rules this example happens to enable.
        self.steps += 1
        stored = [(k, v.data) for k, v in sorted(self.model.items()) if v.data]
        if stored:
            key, data = stored[self.steps % len(stored)]
            offset = self.steps % len(data)
            length = (len(data) - offset) // 2
            got = self.store.get(key, offset=offset, length=length)
            assert got == data[offset : offset + length], f"wrong bytes for {key!r}[{offset}:]"

    @invariant()
    def listing_matches_model(self) -> None:
        items = list(self.store.list())
        assert [i.key for i in items] == sorted(self.model)
        for item in items:
            assert isinstance(item, ObjectInfo)
            assert item.etag == self.model[item.key].etag


def expected_listing(
    model: dict[str, Any], prefix: str, delimiter: str | None, start_after: str | None
) -> list[tuple[str, str]]:
    """The reference answer for ``list``: filter, sort, then collapse on the delimiter."""
    out: list[tuple[str, str]] = []
    for key in sorted(model):
        if not key.startswith(prefix) or (start_after is not None and key <= start_after):
            continue
        at = key.find(delimiter, len(prefix)) if delimiter else -1
        if at < 0:
            out.append((ObjectInfo.__name__, key))
            continue
        group = key[: at + len(delimiter or "")]
        if not out or out[-1] != (CommonPrefix.__name__, group):
            out.append((CommonPrefix.__name__, group))
    return out
