"""The pytest plugin of ``objstore check``: it hands the kit its stores, keeps the scratch
prefix empty between tests, and turns pytest's reports into one line per behaviour.

Imported only once pytest is known to be installed (the ``objstore[check]`` extra).
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any, TextIO

import pytest

from .._config import Config
from .._store import Store
from . import _targets
from ._app import Terminated
from ._check import empty

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_REASON_LIMIT = 300


@dataclass
class Outcome:
    """What happened to one behaviour of the kit."""

    name: str
    outcome: str = "passed"
    reason: str = ""

    def line(self, as_json: bool) -> str:
        if as_json:
            fields = {
                "behaviour": self.name,
                "outcome": self.outcome,
                "reason": self.reason or None,
            }
            return json.dumps(fields, ensure_ascii=False)
        return f"{self.outcome:<8}{self.name}" + (f": {self.reason}" if self.reason else "")


class CheckPlugin:
    """Registered with ``pytest.main(plugins=[...])`` for one ``objstore check`` run.

    Args:
        config: The checked store's configuration, scratch prefix included.
        janitor: A store on the same configuration, used to empty the scratch prefix.
        out: Where the report goes.
        as_json: One JSON object per line instead of text.
    """

    def __init__(self, config: Config, janitor: Store, out: TextIO, as_json: bool):
        self.config = config
        self.janitor = janitor
        self.out = out
        self.as_json = as_json
        self.counts = {"passed": 0, "failed": 0, "skipped": 0}
        self.interruption: BaseException | None = None
        self._current: dict[str, Outcome] = {}
        self._open: set[Store] = set()
        self._session: pytest.Session | None = None
        self._handlers: dict[int, Any] = {}

    # -- what the kit module uses ------------------------------------------------------------

    @pytest.fixture
    def objstore_check(self) -> CheckPlugin:
        return self

    @contextlib.contextmanager
    def fresh_store(self) -> Iterator[Store]:
        """A store under the scratch prefix, empty; emptied again when the test ends."""
        self.empty()
        store = _targets.sync_store(self.config)
        self._open.add(store)
        try:
            yield store
        finally:
            self._open.discard(store)
            store.close()
            self.empty()

    def close_all(self) -> None:
        """Close every store still open, so that threads an interrupted test left behind
        fail instead of writing on."""
        for store in list(self._open):
            store.close()

    def empty(self) -> None:
        """Delete every object under the scratch prefix."""
        empty(self.janitor)

    # -- pytest hooks --------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = self._current.setdefault(report.nodeid, Outcome(_behaviour(report.nodeid)))
        if report.failed and outcome.outcome != "failed":
            outcome.outcome, outcome.reason = "failed", _failure(report)
        elif report.skipped and outcome.outcome == "passed":
            outcome.outcome, outcome.reason = "skipped", _skip_reason(report)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        outcome = self._current.pop(nodeid, None)
        if outcome is not None:
            self._emit(outcome)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._emit(Outcome("collect", "failed", _failure(report)))

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if self.interruption is None:
            self.interruption = excinfo.value

    # -- stopping between behaviours -------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._session = session
        if threading.current_thread() is threading.main_thread():
            self._handlers = {sig: signal.signal(sig, self._stop) for sig in _STOP_SIGNALS}

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for sig, handler in self._handlers.items():
            signal.signal(sig, handler)
        self._handlers = {}

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        """First signal: stop once the behaviour in progress is done, so no store call is
        cut in half (a lock, a temporary file, a thread left running). Second: at once."""
        stop: BaseException = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        if self.interruption is not None:
            raise stop
        self.interruption = stop
        if self._session is not None:
            self._session.shouldstop = "interrupted"
        print(
            "objstore: stopping after the behaviour in progress (again to stop now)",
            file=sys.stderr,
            flush=True,
        )

    def _emit(self, outcome: Outcome) -> None:
        self.counts[outcome.outcome] += 1
        print(outcome.line(self.as_json), file=self.out, flush=True)


def _behaviour(nodeid: str) -> str:
    name = nodeid.rpartition("::")[2]
    return name.removeprefix("test_")


def _failure(report: pytest.TestReport | pytest.CollectReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    reason = " ".join(lines[:3]) if lines else "failed"
    if report.when in ("setup", "teardown"):
        reason = f"error in {report.when}: {reason}"
    return reason if len(reason) <= _REASON_LIMIT else reason[: _REASON_LIMIT - 1] + "…"


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")
