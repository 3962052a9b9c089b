"""Running the installed ``objstore`` console script, as a user does, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

SCRIPT = Path(sys.executable).with_name("objstore")
WAIT = 120.0  # seconds a poll waits for something that must happen (not a speed claim)


def script() -> str:
    if not SCRIPT.exists():
        pytest.skip(f"the console script is not installed next to {sys.executable}")
    return str(SCRIPT)


def environment(tmp: Path, **extra: str) -> dict[str, str]:
    """The caller's environment, with sync records kept in ``tmp`` and no OBJSTORE_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBJSTORE_")}
    env.update(XDG_CACHE_HOME=str(tmp / "cache"), COLUMNS="100", **extra)
    return env


def run(
    *args: str,
    cwd: Path,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``objstore ARGS...``; stdout and stderr captured as text."""
    result = subprocess.run(
        [script(), *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        env=dict(env) if env is not None else environment(cwd),
        check=False,
    )
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


def start(*args: str, cwd: Path, env: Mapping[str, str] | None = None, **popen: Any) -> Any:
    """``objstore ARGS...`` running in the background."""
    return subprocess.Popen(
        [script(), *args],
        cwd=cwd,
        env=dict(env) if env is not None else environment(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll until ``condition()`` holds (a generous limit, for a busy machine)."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def s3_url(server: Any, bucket: str, prefix: str = "") -> str:
    """The ``s3://`` URL of a bucket on one of tests/servers.py's servers."""
    query = {
        "endpoint_url": server.endpoint_url,
        "region": server.region,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
        "provider": server.provider,
    }
    return f"s3://{bucket}/{prefix}?{urlencode(query)}"


def entries(directory: Path) -> list[str]:
    """The names in a file store's directory, without the store's own internal ones
    (they start with U+0001, which no key can: the staging directory, for one)."""
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("\x01"))
