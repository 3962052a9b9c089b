"""``objstore check URL``: the conformance kit against a live store, as a report.

The kit runs under a fresh scratch prefix (``objstore-check-<random>/``), so
nothing else in the store is touched; its key-length tests read the budget the
prefix leaves (``objstore.testing.KeyBudget``). Everything written is deleted
after each test and once more at the end, also after Ctrl-C or SIGTERM. The
kit is pytest code: it needs pytest and Hypothesis (``objstore[check]``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from .._config import Config
from .._store import Store
from ..errors import ConfigError, ObjstoreError
from . import _targets
from ._base import Command, Context

_KIT = str(Path(__file__).with_name("_check_kit.py"))  # a path: pytest imports it
_QUIET_ENV = {"PYTEST_ADDOPTS": None, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def _require_kit() -> None:
    try:
        import hypothesis  # noqa: F401
        import pytest  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"objstore check runs the conformance kit, which needs {exc.name}: "
            "pip install 'objstore[check]'"
        ) from None


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="the store: a URL, a config file or a directory")
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per behaviour, then one for the summary",
    )


def _run(ctx: Context) -> int:
    _require_kit()
    config = _targets.load(ctx.args.url)
    _targets.require_existing(config, _targets.describe(ctx.args.url))
    scratch = f"objstore-check-{secrets.token_hex(6)}/"
    checked = _targets.under_prefix(config, scratch)
    with _targets.sync_store(checked) as janitor:
        empty(janitor)  # an unreachable store is one error, not two hundred failures
        try:
            counts = _run_kit(checked, janitor, ctx.out, ctx.args.json)
        finally:
            with _signals_held():
                empty(janitor)
                _remove_scratch_directory(checked, scratch)
    _summary(ctx, counts, _targets.describe(ctx.args.url), scratch)
    return 1 if counts["failed"] else 0


def _run_kit(config: Config, janitor: Store, out: TextIO, as_json: bool) -> dict[str, int]:
    import pytest
    from hypothesis.configuration import set_hypothesis_home_dir

    from ._check_plugin import CheckPlugin

    pytest.register_assert_rewrite("objstore.testing")  # failures say what differed
    plugin = CheckPlugin(config, janitor, out, as_json)
    with tempfile.TemporaryDirectory(prefix="objstore-check-") as work, _environment(_QUIET_ENV):
        set_hypothesis_home_dir(work)  # its caches, not in the user's working directory
        ini = Path(work, "pytest.ini")
        ini.write_text("[pytest]\n")
        status = pytest.main(
            [
                _KIT,
                "-c",
                str(ini),
                "--rootdir",
                work,
                "--noconftest",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:terminal",
                "-p",
                "no:warnings",
            ],
            plugins=[plugin],
        )
    if plugin.interruption is not None:
        plugin.close_all()
        raise plugin.interruption  # after the scratch prefix is emptied (the caller's finally)
    ran = sum(plugin.counts.values())
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not ran:
        raise ObjstoreError(f"the conformance kit could not run (pytest exit status {status})")
    return plugin.counts


def empty(store: Store) -> None:
    """Delete every object of ``store`` (the scratch prefix), a thousand at a time."""
    batch: list[str] = []
    for item in store.list():
        batch.append(item.key)
        if len(batch) == 1000:
            store.delete_many(batch)
            batch = []
    store.delete_many(batch)


def _remove_scratch_directory(config: Config, scratch: str) -> None:
    """On a file store, also remove the scratch directory itself: a put cut short by a
    signal may leave it empty, or holding the backend's temporary file, which no listing
    shows. The name is random and ours; nothing else lives there."""
    if config.backend == "file" and scratch and config.shared.prefix.endswith(scratch):
        shutil.rmtree(Path(config.section["root"], config.shared.prefix), ignore_errors=True)


def _summary(ctx: Context, counts: dict[str, int], shown: str, scratch: str) -> None:
    if ctx.args.json:
        import json

        ctx.print(json.dumps({"summary": counts, "store": shown}, ensure_ascii=False))
        return
    verdict = "the store keeps the contract" if not counts["failed"] else "the store breaks it"
    ctx.print(
        f"check: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped on {shown} (scratch prefix {scratch} removed): {verdict}"
    )


@contextlib.contextmanager
def _environment(changes: dict[str, str | None]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in changes}
    try:
        for name, value in changes.items():
            _set_env(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set_env(name, value)


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Let the cleanup finish: Ctrl-C and SIGTERM wait until it has (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = (signal.SIGINT, signal.SIGTERM)
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


CHECK = Command(
    "check",
    "run the conformance kit against a live store, under a scratch prefix, and report",
    "objstore check 's3://bucket?endpoint_url=http://127.0.0.1:9000' --json",
    _run,
    _arguments,
)
