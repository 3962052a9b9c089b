"""How ``put`` data is read: shapes, sizes, exact reads, progress, failures."""

from __future__ import annotations

import io

import pytest

from objstore._payload import make_payload


def test_bytes_have_a_known_size_and_slices() -> None:
    payload = make_payload(b"x" * 20_000_000)
    assert payload.size == 20_000_000
    assert [len(c) for c in payload.chunks()] == [8 << 20, 8 << 20, 20_000_000 - (16 << 20)]


def test_seekable_file_size_counts_from_the_current_position() -> None:
    source = io.BytesIO(b"0123456789")
    source.seek(4)
    assert make_payload(source).size == 6


def test_unseekable_sources_have_unknown_size() -> None:
    assert make_payload(iter([b"a"])).size is None

    class Pipe(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:
            return 0

    assert make_payload(Pipe()).size is None


def test_read_returns_exact_sizes_across_chunks() -> None:
    payload = make_payload(iter([b"ab", b"cde", b"", b"fghij"]))
    assert payload.read(4) == b"abcd"
    assert payload.read(1) == b"e"
    assert payload.read(10) == b"fghij"
    assert payload.read(10) == b""
    assert payload.bytes_read == 10


def test_read_and_chunks_can_be_mixed() -> None:
    payload = make_payload(iter([b"abcdef", b"gh"]))
    assert payload.read(2) == b"ab"
    assert b"".join(payload.chunks()) == b"cdefgh"


def test_progress_follows_reads() -> None:
    seen: list[tuple[int, int | None]] = []
    payload = make_payload(b"abcdef", lambda done, total: seen.append((done, total)))
    payload.read(2)
    payload.read(10)
    assert seen == [(2, 6), (6, 6)]


def test_source_failure_is_recorded_and_raised() -> None:
    def broken():  # type: ignore[no-untyped-def]
        yield b"a"
        raise KeyError("source")

    payload = make_payload(broken())
    with pytest.raises(KeyError):
        payload.read(5)
    assert isinstance(payload.failure, KeyError)


def test_non_blocking_stream_without_data_is_an_error() -> None:
    class NonBlocking:
        def read(self, n: int) -> None:
            return None

    with pytest.raises(TypeError, match="non-blocking"):
        list(make_payload(NonBlocking()).chunks())


def test_multidimensional_memoryview_is_flattened() -> None:
    view = memoryview(bytes(range(12))).cast("B", (3, 4))
    assert b"".join(make_payload(view).chunks()) == bytes(range(12))
