"""``CircuitBreakerLayer``: stop calling a backend that keeps failing, then try again.

After ``fail_max`` consecutive outages the circuit opens: calls fail fast with
``CircuitOpenError`` without reaching the backend. After ``reset_timeout``
seconds one trial call goes through (half-open); its success closes the circuit,
its failure opens it again.

Only outages count (SPEC §7): an ``UnavailableError`` raised by the backend
itself. Everything else is an answer — not found, precondition failed,
permission denied, a full disk — or not the backend's doing at all: the caller's
own data source failing, a cancelled upload, the caller abandoning a listing, an
inner breaker that is itself open. Those neither trip the circuit nor hold it.
``presign`` does no I/O and never passes through the breaker.

Every change of state is logged at WARNING on logger ``objstore``, and told to
the listeners (:meth:`CircuitBreakerLayer.listen`): a store turns it into an
event for its subscribers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Literal, TypeVar

from .. import _defaults
from .._models import CommonPrefix, ObjectInfo
from .._payload import AsyncPayload, Payload
from ..backend import AsyncReadStream, Backend, ReadStream, WriteMode
from ..errors import CircuitOpenError, UnavailableError
from ._base import Layer

logger = logging.getLogger("objstore")

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]
#: ``(new_state, seconds_in_the_previous_state)``
Listener = Callable[[State, float], object]
Change = tuple[State, float] | None


class _Verdict:
    """What one call taught the breaker."""

    OUTAGE = "outage"  # the backend is unreachable or overloaded
    ANSWER = "answer"  # the backend answered (even with an error)
    NOTHING = "nothing"  # the call said nothing about the backend's health


class CircuitBreakerLayer(Layer):
    """Fail fast while the backend is down.

    Args:
        inner: The backend to protect.
        fail_max: Consecutive outages that open the circuit.
        reset_timeout: Seconds the circuit stays open before a trial call.
        clock: Monotonic time source (injectable for tests).
    """

    def __init__(
        self,
        inner: Backend,
        *,
        fail_max: int = _defaults.FAIL_MAX,
        reset_timeout: float = _defaults.RESET_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(inner)
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self._since = clock()
        self._listeners: tuple[Listener, ...] = ()

    def __repr__(self) -> str:
        return f"CircuitBreakerLayer({self.inner!r}, state={self.state!r})"

    @property
    def state(self) -> State:
        """``"closed"``, ``"open"`` or ``"half_open"`` (a trial call is due or running)."""
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half_open" if self._trial_running or self._due() else "open"

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(state, seconds)`` after each change of state, with the new state
        and the seconds spent in the previous one; return the function that stops it."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def stop() -> None:
            with self._lock:
                self._listeners = tuple(f for f in self._listeners if f is not listener)

        return stop

    # -- the bookkeeping -------------------------------------------------------------------

    def _shift(self, state: State) -> Change:
        """Note a change of state (under the lock); return what to tell the listeners."""
        now = self._clock()
        seconds, self._since = now - self._since, now
        return state, seconds

    def _announce(self, change: Change) -> None:
        """Tell the listeners, outside the lock: they may take their time."""
        if change is not None:
            for listener in self._listeners:
                listener(*change)

    def _admit(self, key: str | None) -> bool:
        """Let the call through (returning whether it is the trial) or fail fast."""
        if self._opened_at is None:
            return False  # closed, the normal case: no lock, no bookkeeping
        change: Change = None
        with self._lock:
            if self._opened_at is None:
                return False
            trial = self._due() and not self._trial_running
            if trial:
                self._trial_running = True
                logger.warning(
                    "objstore: %s circuit half_open: letting one trial call through", self.name
                )
                change = self._shift("half_open")
            wait = max(0.0, self._opened_at + self.reset_timeout - self._clock())
        if trial:
            self._announce(change)
            return True
        reason = "a trial call is running" if self._trial_running else f"for another {wait:.0f}s"
        raise CircuitOpenError(
            f"the {self.name} backend failed {self.fail_max} times in a row; failing fast "
            f"({reason}; circuit breaker open)",
            key=key,
            backend=self.name,
        )

    def _verdict(self, exc: BaseException, payload: Payload | AsyncPayload | None) -> str:
        if payload is not None and payload.failure is not None:
            return _Verdict.NOTHING  # the caller's own data source failed, or was cancelled
        if isinstance(exc, CircuitOpenError):
            return _Verdict.NOTHING  # an inner breaker failed fast: no call was made
        if isinstance(exc, UnavailableError):
            return _Verdict.OUTAGE
        if isinstance(exc, Exception):
            return _Verdict.ANSWER
        return _Verdict.NOTHING  # cancelled, interrupted, or a listing abandoned

    def _record(self, verdict: str, trial: bool) -> None:
        if verdict == _Verdict.ANSWER and not trial and not self._failures:
            return  # closed and healthy: nothing to write down
        change: Change = None
        with self._lock:
            if trial:
                self._trial_running = False
            if verdict == _Verdict.ANSWER:
                if self._opened_at is not None:
                    logger.warning("objstore: %s circuit closed: the backend answers", self.name)
                    change = self._shift("closed")
                self._failures, self._opened_at = 0, None
            elif verdict == _Verdict.OUTAGE:
                self._failures += 1
                if trial or (self._opened_at is None and self._failures >= self.fail_max):
                    change = self._open()
            # a trial that told nothing frees its slot: the next call is the trial
        self._announce(change)

    def _open(self) -> Change:
        logger.warning(
            "objstore: %s circuit open after %d consecutive outages; failing fast for %.0fs",
            self.name,
            self._failures,
            self.reset_timeout,
        )
        self._opened_at = self._clock()
        return self._shift("open")

    def _due(self) -> bool:
        return self._opened_at is not None and self._clock() >= self._opened_at + self.reset_timeout

    def _call(
        self, operation: Callable[[], T], key: str | None, payload: Payload | None = None
    ) -> T:
        trial = self._admit(key)
        try:
            result = operation()
        except BaseException as exc:
            self._record(self._verdict(exc, payload), trial)
            raise
        self._record(_Verdict.ANSWER, trial)
        return result

    async def _acall(
        self,
        operation: Callable[[], Awaitable[T]],
        key: str | None,
        payload: AsyncPayload | None = None,
    ) -> T:
        trial = self._admit(key)
        try:
            result = await operation()
        except BaseException as exc:
            self._record(self._verdict(exc, payload), trial)
            raise
        self._record(_Verdict.ANSWER, trial)
        return result

    # -- every Backend method, through the breaker (presign excepted) --------------------

    def put(
        self,
        key: str,
        payload: Payload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        return self._call(
            lambda: self.inner.put(
                key, payload, content_type=content_type, metadata=metadata, mode=mode
            ),
            key,
            payload,
        )

    def get(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> ReadStream:
        return self._call(
            lambda: self.inner.get(key, offset=offset, length=length, if_match=if_match), key
        )

    def stat(self, key: str) -> ObjectInfo:
        return self._call(lambda: self.inner.stat(key), key)

    def delete(self, key: str) -> None:
        self._call(lambda: self.inner.delete(key), key)

    def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> Iterator[ObjectInfo | CommonPrefix]:
        watch = _ListingWatch(self, self._admit(None))
        try:
            for item in self.inner.list(prefix, delimiter=delimiter, start_after=start_after):
                watch.arrived()
                yield item
        except BaseException as exc:
            watch.failed(exc)
            raise
        watch.arrived()  # an empty listing is an answer too

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        return self._call(lambda: self.inner.copy(src_key, dst_key, mode=mode), src_key)

    def delete_many(self, keys: Sequence[str]) -> None:
        self._call(lambda: self.inner.delete_many(keys), None)

    # -- and every AsyncBackend method ---------------------------------------------------

    async def aput(
        self,
        key: str,
        payload: AsyncPayload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        return await self._acall(
            lambda: self.ainner.aput(
                key, payload, content_type=content_type, metadata=metadata, mode=mode
            ),
            key,
            payload,
        )

    async def aget(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> AsyncReadStream:
        return await self._acall(
            lambda: self.ainner.aget(key, offset=offset, length=length, if_match=if_match), key
        )

    async def astat(self, key: str) -> ObjectInfo:
        return await self._acall(lambda: self.ainner.astat(key), key)

    async def adelete(self, key: str) -> None:
        await self._acall(lambda: self.ainner.adelete(key), key)

    async def alist(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> AsyncIterator[ObjectInfo | CommonPrefix]:
        watch = _ListingWatch(self, self._admit(None))
        try:
            async for item in self.ainner.alist(
                prefix, delimiter=delimiter, start_after=start_after
            ):
                watch.arrived()
                yield item
        except BaseException as exc:
            watch.failed(exc)
            raise
        watch.arrived()

    async def acopy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        return await self._acall(lambda: self.ainner.acopy(src_key, dst_key, mode=mode), src_key)

    async def adelete_many(self, keys: Sequence[str]) -> None:
        await self._acall(lambda: self.ainner.adelete_many(keys), None)


class _ListingWatch:
    """A listing's verdict is its first page: once it arrives the backend has answered,
    however long the caller then takes to read the rest, or if it abandons it."""

    def __init__(self, breaker: CircuitBreakerLayer, trial: bool):
        self._breaker = breaker
        self._trial = trial
        self._settled = False

    def arrived(self) -> None:
        if not self._settled:
            self._settled = True
            self._breaker._record(_Verdict.ANSWER, self._trial)

    def failed(self, exc: BaseException) -> None:
        if not self._settled:
            self._settled = True
            self._breaker._record(self._breaker._verdict(exc, None), self._trial)
        elif isinstance(exc, UnavailableError) and not isinstance(exc, CircuitOpenError):
            self._breaker._record(_Verdict.OUTAGE, False)  # a later page could not be had
