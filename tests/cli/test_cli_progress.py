"""Progress bars: drawn on a terminal (a pseudo-terminal here), absent otherwise."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
from pathlib import Path

import pytest
from cli_run import environment, run, script

pytest.importorskip("tqdm", reason="the bars come from the progress extra (tqdm)")

SIZE = 24 << 20


def run_on_a_terminal(*args: str, cwd: Path) -> tuple[int, str]:
    """Run the console script with a pseudo-terminal as its stdin, stdout and stderr."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [script(), *args],
        cwd=cwd,
        env=environment(cwd),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    output = bytearray()
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the last holder of the terminal has gone
            break
        if not data:
            break
        output += data
    os.close(leader)
    return proc.wait(timeout=60), output.decode("utf-8", "replace")


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(SIZE))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "big.bin").write_bytes(path.read_bytes())
    return path


def test_put_and_get_draw_a_bar_on_a_terminal(tmp_path: Path, big_file: Path) -> None:
    url = f"file://{tmp_path / 'store'}"
    status, shown = run_on_a_terminal("--url", url, "put", "big.bin", "k", cwd=tmp_path)
    assert status == 0, shown
    assert "%|" in shown and "/24.0M" in shown and "B/s" in shown  # tqdm draws, then erases
    assert f"k ({SIZE} bytes, etag " in shown
    status, shown = run_on_a_terminal("--url", url, "get", "k", "copy.bin", cwd=tmp_path)
    assert status == 0 and "/24.0M" in shown, shown
    assert (tmp_path / "copy.bin").read_bytes() == big_file.read_bytes()


def test_sync_draws_a_counter_on_a_terminal(tmp_path: Path, big_file: Path) -> None:
    status, shown = run_on_a_terminal("sync", "src", "file://./mirror", cwd=tmp_path)
    assert status == 0, shown
    assert "\rsync: " in shown and "B/s" in shown  # a byte counter (the total is not known)
    assert "sent 1 object " in shown


def test_no_terminal_no_bar(tmp_path: Path, big_file: Path) -> None:
    url = f"file://{tmp_path / 'store'}"
    put = run("--url", url, "put", "big.bin", "k", cwd=tmp_path)
    assert put.returncode == 0 and put.stderr == ""
    assert put.stdout.startswith(f"k ({SIZE} bytes, etag ") and put.stdout.count("\n") == 1
    got = run("--url", url, "get", "k", "copy.bin", cwd=tmp_path)
    assert (got.stdout, got.stderr) == (f"k -> copy.bin ({SIZE} bytes)\n", "")
    synced = run("sync", "src", "file://./mirror", cwd=tmp_path)
    assert synced.stderr == "" and synced.stdout.startswith("sent 1 object ")
    assert synced.stdout.count("\n") == 1
