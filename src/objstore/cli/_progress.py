"""Progress bars on a terminal, drawn by tqdm (the ``objstore[progress]`` extra).

A bar appears only when standard error is a terminal and tqdm is installed;
otherwise every call here does nothing, so piped and logged output holds only
the result. The bar is erased when the transfer ends (docs/decisions.md, "CLI
progress bars").
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

from .._payload import ProgressCallback


class Bar:
    """A byte counter shared by one or more transfers (threads included)."""

    def __init__(self, tqdm_bar: Any = None):
        self._bar = tqdm_bar
        self._lock = threading.Lock()

    def advance(self, count: int) -> None:
        """Count ``count`` more bytes as moved."""
        if self._bar is not None and count:
            with self._lock:
                self._bar.update(count)

    def note(self, text: str) -> None:
        """Show ``text`` beside the counter (such as the number of objects done)."""
        if self._bar is not None:
            with self._lock:
                self._bar.set_postfix_str(text, refresh=False)

    def callback(self) -> ProgressCallback:
        """A ``put(progress=...)`` callback for one transfer: ``(done, total)`` in, bytes out."""
        seen = [0]

        def update(done: int, total: int | None) -> None:
            if total is not None and self._bar is not None and self._bar.total is None:
                with self._lock:
                    self._bar.total = total
            self.advance(done - seen[0])
            seen[0] = done

        return update


def _tqdm() -> Any:
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is a nicety: without the extra, no bar
        return None
    return tqdm


@contextlib.contextmanager
def bar(label: str, total: int | None) -> Iterator[Bar]:
    """A :class:`Bar` drawn on standard error if it is a terminal, else a silent one."""
    tqdm = _tqdm()
    if tqdm is None:
        yield Bar()
        return
    shown = label if len(label) <= 40 else "…" + label[-39:]
    with tqdm(
        total=total,
        desc=shown,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        leave=False,
        file=sys.stderr,
        dynamic_ncols=True,
    ) as drawn:
        yield Bar(drawn)
