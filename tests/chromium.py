"""Headless Chromium driven over the DevTools protocol through a pipe.

Why the DevTools protocol on ``--remote-debugging-pipe`` rather than
chromedriver: it needs nothing but Debian's ``chromium`` and the standard
library (no WebDriver client, no driver whose version must match the browser,
no port to pick or to race for), and it is the transport Puppeteer uses. The
browser reads commands from file descriptor 3 and writes answers to 4, each a
JSON object ended by a NUL byte.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
]


_TRAMPOLINE = """
import os, sys
commands, answers = int(sys.argv[1]), int(sys.argv[2])
os.dup2(commands, 3)
os.dup2(answers, 4)
os.close(commands)
os.close(answers)
os.execv(sys.argv[3], sys.argv[3:])
"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One headless browser; :meth:`evaluate` runs JavaScript in a page and returns its value."""

    def __init__(self, binary: str, timeout: float = 120):
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="objstore-chromium-")
        commands_read, commands_write = os.pipe()
        answers_read, answers_write = os.pipe()
        # The child's ends go above 4 first, so that putting them at 3 and 4 never
        # overwrites one; then a small Python trampoline puts them there and execs
        # the browser (no preexec_fn, which is unsafe in a process with threads).
        child_in = fcntl.fcntl(commands_read, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(answers_write, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(commands_read)
        os.close(answers_write)
        command = [binary, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"]
        self._stderr = Path(self._profile) / "stderr.log"
        with self._stderr.open("wb") as err:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _TRAMPOLINE, str(child_in), str(child_out), *command],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                pass_fds=(child_in, child_out),
            )  # fmt: skip
        os.close(child_in)
        os.close(child_out)
        self._commands = os.fdopen(commands_write, "wb")
        self._answers = answers_read
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._targets: dict[str, str] = {}
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # -- the protocol ----------------------------------------------------------------------

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._answers, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._changed:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self._events.append(message)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:  # fmt: skip
        with self._changed:
            self._next_id += 1
            ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._commands.write(json.dumps(message).encode() + b"\0")
        self._commands.flush()
        with self._changed:
            if not self._changed.wait_for(
                lambda: ident in self._replies or not self._reader.is_alive(), self.timeout
            ):
                raise BrowserError(f"no answer to {method} in {self.timeout} s{self._tail()}")
            if ident not in self._replies:
                raise BrowserError(f"Chromium went away during {method}{self._tail()}")
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def wait_for_event(self, method: str, session: str) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for event in self._events:
                if event.get("method") == method and event.get("sessionId") == session:
                    self._events.remove(event)
                    return event
            return None

        with self._changed:
            found = self._changed.wait_for(find, self.timeout)
        if found is None:
            raise BrowserError(f"no {method} in {self.timeout} s{self._tail()}")
        return found

    # -- pages -----------------------------------------------------------------------------

    def open_page(self, url: str) -> str:
        """Load ``url`` in a new tab and wait for its load event; the tab's session."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        session: str = attached["sessionId"]
        self._targets[session] = target
        self.call("Page.enable", session=session)
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_for_event("Page.loadEventFired", session)
        return session

    def close_page(self, session: str) -> None:
        self.call("Target.closeTarget", {"targetId": self._targets.pop(session)})

    def evaluate(self, session: str, expression: str) -> Any:
        """The value of ``expression`` in the page (a promise is awaited)."""
        answer = self.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=session,
        )
        if "exceptionDetails" in answer:
            raise BrowserError(f"the page raised: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.call("Browser.close")
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(10)
        with contextlib.suppress(OSError):
            self._commands.close()
        os.close(self._answers)
        shutil.rmtree(self._profile, ignore_errors=True)

    def _tail(self) -> str:
        text = self._stderr.read_text(errors="replace") if self._stderr.exists() else ""
        return "; Chromium said:\n" + "\n".join(text.splitlines()[-15:]) if text else ""


@contextlib.contextmanager
def chromium(binary: str) -> Iterator[Chromium]:
    browser = Chromium(binary)
    try:
        yield browser
    finally:
        browser.close()
