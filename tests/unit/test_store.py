"""``Store`` mechanics that need a purpose-built backend to observe."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

import objstore
from objstore.backend import BackendBase, Payload, WriteMode
from objstore.backends.memory import MemoryBackend
from objstore.errors import PreconditionFailedError, UnavailableError


class Raising(BackendBase):
    """A backend whose every call raises the exception it was given."""

    name = "raising"

    def __init__(self, exc: Exception):
        self.exc = exc

    def put(self, key: str, payload: Payload, *, content_type: str,
            metadata: Mapping[str, str], mode: WriteMode) -> objstore.ObjectInfo:
        raise self.exc

    def get(self, key: str, *, offset: int, length: int | None,
            if_match: str | None = None) -> object:  # type: ignore[override]
        raise self.exc

    def stat(self, key: str) -> objstore.ObjectInfo:
        raise self.exc

    def delete(self, key: str) -> None:
        raise self.exc

    def list(self, prefix: str, *, delimiter: str | None,
             start_after: str | None) -> Iterator[objstore.ObjectInfo]:
        raise self.exc
        yield


@pytest.mark.parametrize(
    ("raised", "expected"),
    [(FileNotFoundError("x"), objstore.NotFoundError),
     (PermissionError("x"), objstore.PermissionDeniedError),
     (ConnectionResetError("x"), objstore.UnavailableError),
     (TimeoutError("x"), objstore.UnavailableError)],
)
def test_builtin_errors_are_mapped_and_chained(raised: Exception, expected: type) -> None:
    store = objstore.Store(Raising(raised))
    for call in (lambda: store.stat("k"), lambda: store.get("k"), lambda: store.delete("k"),
                 lambda: list(store.list()), lambda: store.put("k", b"x")):
        with pytest.raises(expected) as caught:
            call()
        assert caught.value.__cause__ is raised
        assert caught.value.backend == "raising"


def test_other_exceptions_pass_through_unchanged() -> None:
    bug = ZeroDivisionError("a bug in the backend")
    with pytest.raises(ZeroDivisionError) as caught:
        objstore.Store(Raising(bug)).stat("k")
    assert caught.value is bug


def test_objstore_errors_get_key_and_backend_filled_in() -> None:
    with pytest.raises(objstore.NotFoundError) as caught:
        objstore.Store(Raising(objstore.NotFoundError("no"))).stat("the/key")
    assert (caught.value.key, caught.value.backend) == ("the/key", "raising")


class Flaky(MemoryBackend):
    """Streams that drop after ``drop_after`` bytes, ``drops`` times."""

    def __init__(self, drops: int, drop_after: int, truncate: bool = False):
        super().__init__()
        self.drops = drops
        self.drop_after = drop_after
        self.truncate = truncate
        self.opened: list[tuple[int, int | None, str | None]] = []

    def get(self, key: str, *, offset: int, length: int | None,
            if_match: str | None = None):  # type: ignore[no-untyped-def]
        self.opened.append((offset, length, if_match))
        stream = super().get(key, offset=offset, length=length, if_match=if_match)
        if self.drops <= 0:
            return stream
        self.drops -= 1
        return _Dropping(stream, self.drop_after, self.truncate)


class _Dropping:
    def __init__(self, stream, budget: int, truncate: bool):  # type: ignore[no-untyped-def]
        self.info = stream.info
        self._stream, self._budget, self._truncate = stream, budget, truncate

    def read(self, n: int) -> bytes:
        if self._budget <= 0:
            if self._truncate:
                return b""
            raise UnavailableError("connection reset")
        data = self._stream.read(min(n, self._budget))
        self._budget -= len(data)
        return data

    def close(self) -> None:
        self._stream.close()


@pytest.mark.parametrize("truncate", [False, True], ids=["raises", "ends-early"])
def test_dropped_streams_resume_pinned_to_the_etag(truncate: bool) -> None:
    backend = Flaky(drops=2, drop_after=1000, truncate=truncate)
    store = objstore.Store(backend)
    data = bytes(range(256)) * 40
    info = store.put("k", data)
    assert store.get("k") == data
    assert [o for o, _, _ in backend.opened] == [0, 1000, 2000]
    assert all(tag == info.etag for _, _, tag in backend.opened[1:])
    backend.drops = 1
    assert b"".join(store.get_stream("k", offset=100, length=3000, chunk_size=512)) == \
        data[100:3100]


def test_resume_refuses_to_splice_two_versions() -> None:
    backend = Flaky(drops=1, drop_after=10)
    store = objstore.Store(backend)
    store.put("k", b"a" * 100)
    stream = store.get_stream("k", chunk_size=10)
    assert next(stream) == b"a" * 10
    store.put("k", b"b" * 100)
    with pytest.raises(PreconditionFailedError):
        list(stream)


def test_resume_gives_up_and_never_truncates_silently() -> None:
    backend = Flaky(drops=10, drop_after=5, truncate=True)
    store = objstore.Store(backend)
    store.put("k", b"x" * 100)
    with pytest.raises(UnavailableError, match="gave up"):
        store.get("k")


def test_repr_names_the_backend_and_state() -> None:
    store = objstore.open("memory://")
    assert "MemoryBackend" in repr(store)
    store.close()
    assert "closed" in repr(store)
