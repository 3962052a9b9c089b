"""``objstore.open``: URL and mapping forms."""

from __future__ import annotations

from pathlib import Path

import pytest

import objstore


def test_memory_url() -> None:
    with objstore.open("memory://") as store:
        assert store.capabilities.conditional_put
        store.put("k", b"v")
        assert store.get("k") == b"v"


def test_absolute_file_url(tmp_path: Path) -> None:
    with objstore.open(f"file://{tmp_path}/data") as store:
        store.put("k", b"v")
    assert (tmp_path / "data" / "k").read_bytes() == b"v"


def test_relative_file_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with objstore.open("file://./rel/dir") as store:
        store.put("k", b"v")
    assert (tmp_path / "rel" / "dir" / "k").read_bytes() == b"v"


def test_percent_encoded_file_url(tmp_path: Path) -> None:
    with objstore.open(f"file://{tmp_path}/with%20space") as store:
        store.put("k", b"v")
    assert (tmp_path / "with space" / "k").exists()


def test_mapping_form(tmp_path: Path) -> None:
    with objstore.open({"backend": "file", "file": {"root": str(tmp_path)}}) as store:
        store.put("k", b"v")
    assert (tmp_path / "k").read_bytes() == b"v"
    with objstore.open({"backend": "memory"}) as store:
        assert list(store.list()) == []


@pytest.mark.parametrize(
    ("target", "match"),
    [("nope://x", "unknown backend 'nope'"), ("no-scheme", "not a store URL"),
     ("file://", "file.root. is required"), ({"file": {}}, "backend"),
     ({"backend": "file"}, "root"),
     (42, "URL or a mapping")],
)
def test_bad_targets_are_config_errors(target: object, match: str) -> None:
    with pytest.raises(objstore.ConfigError, match=match):
        objstore.open(target)  # type: ignore[arg-type]
