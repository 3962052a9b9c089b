"""The instrumentation hook of a store (SPEC §9): one :class:`Operation` per observed call.

A store holds one :class:`Watch`. For each call, ``Watch.start`` either returns
``None`` — nothing observes the store: no subscriber, no DEBUG logging on logger
``objstore``, no OpenTelemetry, and a backend that never retries — and the call
runs exactly as it would without any of this; or it returns an
:class:`Operation`, which times the call, tallies its retries
(:mod:`._attempts`), makes its span current, and when it finishes reports one
:class:`~objstore.Event` to the log, to OpenTelemetry and to the subscribers.

``Store`` and ``AsyncStore`` share all of this: an operation is a plain (not
async) context manager, which works the same around a blocking call and
around an ``await``.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _otel
from ._attempts import TALLY, Tally
from ._events import OK, Event, EventCallback, Subscribers, log_event, logger
from ._payload import ProgressCallback
from .backend import Backend

if TYPE_CHECKING:
    from .layers import CircuitBreakerLayer

DEBUG = logging.DEBUG
_MODULES = sys.modules
_debug_on = logger.isEnabledFor  # bound once: start() runs on every call of every store
# The answers isEnabledFor keeps, which logging empties whenever a level changes: a
# cached False is the common case, read without a call. (CPython's logger keeps this
# dict since 3.7; without it every call asks isEnabledFor.)
_debug_known: dict[int, bool] = getattr(logger, "_cache", {})


class Watch:
    """The instrumentation of one store: its subscribers, and whether anything observes it.

    Args:
        backend: The store's backend (or layered backend). Unless it says it never
            retries (``reports_retries = False``), every call is an operation, so
            that one which fails after retries is logged at WARNING even when
            nothing else observes the store.
    """

    def __init__(self, backend: Backend):
        self.backend = backend.name
        self.subscribers = Subscribers()
        self._retrying = bool(getattr(backend, "reports_retries", True))
        self._eager = self._retrying  # there are subscribers, or retries to tally
        self._lock = threading.Lock()
        self._unlisten = [breaker.listen(self._circuit) for breaker in _breakers(backend)]

    def start(self, name: str, key: str | None, stream: bool = False) -> Operation | None:
        """An operation for this call, or ``None`` when nothing observes the store."""
        # observed(), inlined: this runs on every call of every store
        if (
            self._eager
            or (_debug_known.get(DEBUG) is not False and _debug_on(DEBUG))
            or ("opentelemetry" in _MODULES and _otel.active())
        ):
            return Operation(self, name, key, stream)
        return None

    def observed(self) -> bool:
        """Whether calls are operations now: something observes the store."""
        return (
            self._eager
            or (_debug_known.get(DEBUG) is not False and _debug_on(DEBUG))
            or ("opentelemetry" in _MODULES and _otel.active())
        )

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        remove = self.subscribers.add(callback)
        self._refresh()

        def unsubscribe() -> None:
            remove()
            self._refresh()

        return unsubscribe

    def _refresh(self) -> None:
        # run after every change, under a lock, so the last one sees the last change
        with self._lock:
            self._eager = self._retrying or bool(self.subscribers.callbacks)

    def report(self, event: Event, span: Any, detail: dict[str, str | int]) -> None:
        log_event(event, detail)
        if _otel.active():
            _otel.finish(span, event, detail)
        self.subscribers.deliver(event)

    def close(self) -> None:
        """Stop listening to the circuit breaker (the store is closed)."""
        unlisten, self._unlisten = self._unlisten, []
        for stop in unlisten:
            stop()

    def _circuit(self, state: str, seconds: float) -> None:
        self.subscribers.deliver(Event("circuit", None, 0, seconds, state, 0, self.backend))


def _breakers(backend: Backend) -> list[CircuitBreakerLayer]:
    """The circuit breakers in a stack of layers."""
    from .layers import CircuitBreakerLayer

    found = []
    layer: object = backend
    while layer is not None:
        if isinstance(layer, CircuitBreakerLayer):
            found.append(layer)
        layer = getattr(layer, "inner", None)
    return found


class Operation:
    """One observed call: timed, its retries tallied, its span current while it runs.

    Enter it around the work: entering makes it current (the tally that
    :func:`~objstore.backend.note_retry` marks, the span that OpenTelemetry
    parents children to); leaving undoes that and finishes the operation. A
    stream's operation (``get_stream``, ``open``, ``list``) is entered around
    its opening and around each read, and finishes at the first of: an error,
    the stream's end or close, or its garbage collection (:mod:`._watched`).

    Attributes:
        bytes: Object bytes moved so far.
        detail: Counts and names for the log line and the span (``items``,
            ``keys``, ``source_key``).
    """

    __slots__ = (
        "_done", "_key", "_name", "_span", "_start", "_stream", "_tally", "_tokens",
        "_watch", "bytes", "detail",
    )  # fmt: skip

    def __init__(self, watch: Watch, name: str, key: str | None, stream: bool):
        self.bytes = 0
        self.detail: dict[str, str | int] = {}
        self._watch = watch
        self._name = name
        self._key = key
        self._stream = stream
        self._tally: Tally = []
        self._tokens: list[tuple[Any, Any]] = []
        self._done = False
        self._span = _otel.start_span(name, key, watch.backend) if _otel.active() else None
        self._start = time.perf_counter()

    @property
    def finished(self) -> bool:
        return self._done

    def __enter__(self) -> Operation:
        span = None if self._span is None else _otel.attach(self._span)
        self._tokens.append((TALLY.set(self._tally), span))
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        tally, span = self._tokens.pop()
        if span is not None:
            _otel.detach(span)
        TALLY.reset(tally)
        if error is not None or not self._stream:
            self.finish(error)

    def moved(self, data: bytes) -> bytes:
        """Count ``data`` as moved, and hand it back."""
        self.bytes += len(data)
        return data

    def track(self, progress: ProgressCallback | None) -> ProgressCallback | None:
        """Wrap a ``put``'s progress callback so the bytes taken from the source are counted.

        A non-callable ``progress`` is handed back as it is, for ``put`` to refuse.
        """
        if progress is not None and not callable(progress):
            return progress

        def counted(done: int, total: int | None) -> None:
            self.bytes = done
            if progress is not None:
                progress(done, total)

        return counted

    def finish(self, error: BaseException | None = None) -> None:
        """Report the operation once: the first call counts, later ones do nothing."""
        if self._done:
            return
        self._done = True
        seconds = time.perf_counter() - self._start
        outcome = OK if error is None else type(error).__name__
        watch = self._watch
        event = Event(
            self._name, self._key, self.bytes, seconds, outcome, 1 + len(self._tally),
            watch.backend,
        )  # fmt: skip
        watch.report(event, self._span, self.detail)
