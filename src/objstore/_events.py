"""What a store tells the world after each operation: :class:`Event`, subscribers, log lines.

- :class:`Event`: one finished operation (SPEC §9), or one change of the
  circuit breaker's state (``op="circuit"``).
- :class:`Subscribers`: the callbacks of one store. A callback that raises is
  logged and never breaks the operation.
- :func:`log_event`: one DEBUG line per operation on logger ``objstore``, and a
  WARNING when an operation failed after retries.

Nothing here ever sees a secret: an event holds the key (keys are not
secrets), counts, the outcome's class name and the backend's name; never a
configuration value, an error message, or a URL.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

logger = logging.getLogger("objstore")
# A library's logger gets a NullHandler and nothing else (the logging HOWTO): where
# the application configured no logging, Python's last-resort handler would print
# every WARNING to stderr — a line the command line's one-line errors do not want.
logger.addHandler(logging.NullHandler())

OK = "ok"


@dataclass(frozen=True, slots=True)
class Event:
    """One finished operation of a store, as ``Store.subscribe`` callbacks receive it.

    Attributes:
        op: The operation: the method's name (``"get"``, ``"put"``, ``"get_stream"``,
            ``"delete_many"``...), or ``"circuit"`` for a change of the circuit
            breaker's state.
        key: The key; for ``copy`` the destination, for ``list`` the prefix;
            ``None`` for ``delete_many`` and ``"circuit"``.
        bytes: Object bytes moved: read by ``get``, streams and ``open`` (up to
            where they were closed), taken from the source by ``put``, copied by
            ``copy``; 0 for operations that move none.
        seconds: Wall-clock duration; for streams, from the call to the end or
            close of the stream; for ``"circuit"``, the time spent in the
            previous state.
        outcome: ``"ok"``, or the class name of the error raised
            (``"NotFoundError"``); for ``"circuit"``, the new state
            (``"open"``, ``"half_open"``, ``"closed"``).
        attempts: Attempts the operation took, retries and resumed reads
            included (1 without any); 0 for ``"circuit"``.
        backend: The backend's name (``"file"``, ``"s3"``...).
    """

    op: str
    key: str | None
    bytes: int
    seconds: float
    outcome: str
    attempts: int
    backend: str


EventCallback = Callable[[Event], object]


class Subscribers:
    """The callbacks of one store; subscribing and delivering are thread-safe.

    The callbacks are kept in a tuple that is replaced, never changed, so a
    delivery iterates over a snapshot without a lock.
    """

    def __init__(self) -> None:
        self.callbacks: tuple[EventCallback, ...] = ()
        self._lock = threading.Lock()

    def add(self, callback: EventCallback) -> Callable[[], None]:
        """Add ``callback``; return the function that removes it (harmless twice)."""
        if not callable(callback):
            raise TypeError(f"subscribe() needs a callable, not {type(callback).__name__}")
        token = _Subscription(callback)
        with self._lock:
            self.callbacks = (*self.callbacks, token)
        return lambda: self._remove(token)

    def _remove(self, token: EventCallback) -> None:
        with self._lock:
            self.callbacks = tuple(c for c in self.callbacks if c is not token)

    def deliver(self, event: Event) -> None:
        for callback in self.callbacks:
            try:
                callback(event)
            except Exception as exc:
                logger.error(
                    "objstore: an event callback (%s) raised %s; the %s operation was not affected",
                    _name(callback),
                    type(exc).__name__,
                    event.op,
                    exc_info=True,
                )


class _Subscription:
    """One subscription: the same callback subscribed twice is called twice, and each
    unsubscribe function removes its own subscription only."""

    __slots__ = ("callback",)

    def __init__(self, callback: EventCallback):
        self.callback = callback

    def __call__(self, event: Event) -> object:
        return self.callback(event)


def _name(callback: EventCallback) -> str:
    # the qualified name, never the repr: a repr may show whatever the object holds
    inner = getattr(callback, "callback", callback)
    return str(getattr(inner, "__qualname__", type(inner).__qualname__))


def log_event(event: Event, detail: Mapping[str, object]) -> None:
    """The DEBUG line of a finished operation, and a WARNING if it failed after retries."""
    if event.outcome != OK and event.attempts > 1:
        logger.warning(
            "objstore: %s %s%s failed after %d attempts: %s",
            event.backend,
            event.op,
            _where(event.key),
            event.attempts,
            event.outcome,
            extra={"objstore_event": event},
        )
    if logger.isEnabledFor(logging.DEBUG):
        more = "".join(f", {name}={value!r}" for name, value in detail.items())
        if event.attempts > 1:
            more += f", {event.attempts} attempts"
        logger.debug(
            "objstore: %s %s%s: %s, %d bytes in %.2f ms%s",
            event.backend,
            event.op,
            _where(event.key),
            event.outcome,
            event.bytes,
            event.seconds * 1000,
            more,
            extra={"objstore_event": event},
        )


def _where(key: str | None) -> str:
    return "" if key is None else f" {key!r}"
