"""The command line: ``objstore demo``, help, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import objstore
from objstore.cli import main


def test_demo_walks_through_the_basics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for step in ("put:", "get:", "list:", "conditional write", "compare-and-swap", "copy:"):
        assert step in out
    assert (tmp_path / "objstore-data" / "demo" / "hello.txt").read_bytes() == b"Hello, objstore!\n"
    with objstore.open(f"file://{tmp_path / 'objstore-data'}") as store:
        assert store.get("demo/counter") == b"1"
        assert dict(store.stat("demo/hello-copy.txt").metadata or {}) == {"author": "Zoë"}


def test_demo_can_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    assert main(["demo"]) == 0
    assert "already exists" in capsys.readouterr().out
    assert (tmp_path / "objstore-data" / "demo" / "counter").read_bytes() == b"2"


def test_demo_on_another_store(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", "memory://", "demo"]) == 0
    assert "memory://" in capsys.readouterr().out


def test_errors_are_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", "nope://x", "demo"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("objstore: error: unknown backend 'nope'")
    assert err.count("\n") == 1


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_python_dash_m_and_version(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "objstore", "--version"], capture_output=True,
                         text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == f"objstore {objstore.__version__}"
    help_text = subprocess.run([sys.executable, "-m", "objstore", "--help"],
                               capture_output=True, text=True, check=True).stdout
    assert "demo" in help_text
