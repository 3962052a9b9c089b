"""``CircuitBreakerLayer``: stop calling a backend that keeps failing, then try again.

After ``fail_max`` consecutive transient failures (``UnavailableError``) the
circuit opens: calls fail fast with ``CircuitOpenError`` without reaching the
backend. After ``reset_timeout`` seconds one trial call goes through (half-open);
its success closes the circuit, its failure opens it again. Answers such as
"not found" or "precondition failed" are successes here: the backend responded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

from .. import _defaults
from .._models import CommonPrefix, ObjectInfo
from .._payload import Payload
from ..backend import Backend, ReadStream, WriteMode
from ..errors import CircuitOpenError, UnavailableError
from ._base import Layer

logger = logging.getLogger("objstore")

T = TypeVar("T")


class CircuitBreakerLayer(Layer):
    """Fail fast while the backend is down.

    Args:
        inner: The backend to protect.
        fail_max: Consecutive transient failures that open the circuit.
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

    def __repr__(self) -> str:
        return f"CircuitBreakerLayer({self.inner!r}, state={self.state!r})"

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"``."""
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self._due() else "open"

    def _call(self, operation: Callable[[], T], key: str | None) -> T:
        # Closed (the normal case): no lock and no bookkeeping until something fails.
        trial = False if self._opened_at is None else self._admit(key)
        try:
            result = operation()
        except BaseException as exc:
            self._raised(exc, trial)
            raise
        self._settle(trial)
        return result

    def _settle(self, trial: bool) -> None:
        if trial or self._failures:
            self._record(success=True, trial=trial)

    def _raised(self, exc: BaseException, trial: bool) -> None:
        """Count an ``UnavailableError`` as a failure; any other exception is an answer
        (an error the backend gave, or the caller stopping a listing)."""
        if isinstance(exc, CircuitOpenError):
            return  # failing fast is not an answer
        if isinstance(exc, UnavailableError):
            self._record(success=False, trial=trial)
        else:
            self._settle(trial)

    def _admit(self, key: str | None) -> bool:
        """Let the call through (returning whether it is the trial) or fail fast."""
        with self._lock:
            if self._opened_at is None:
                return False
            if self._due() and not self._trial_running:
                self._trial_running = True
                return True
            wait = max(0.0, self._opened_at + self.reset_timeout - self._clock())
        raise CircuitOpenError(
            f"the {self.name} backend failed {self.fail_max} times in a row; failing fast "
            f"for another {wait:.0f}s (circuit breaker open)",
            key=key,
            backend=self.name,
        )

    def _record(self, *, success: bool, trial: bool) -> None:
        with self._lock:
            if trial:
                self._trial_running = False
            if success:
                if self._opened_at is not None:
                    logger.info("objstore: %s circuit closed: the trial call succeeded", self.name)
                self._failures, self._opened_at = 0, None
                return
            self._failures += 1
            if trial or self._failures >= self.fail_max:
                if self._opened_at is None or trial:
                    logger.warning(
                        "objstore: %s circuit open after %d consecutive failures; failing fast "
                        "for %.0fs",
                        self.name,
                        self._failures,
                        self.reset_timeout,
                    )
                self._opened_at = self._clock()

    def _due(self) -> bool:
        return self._opened_at is not None and self._clock() >= self._opened_at + self.reset_timeout

    # -- every Backend method, through the breaker ---------------------------------------

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
        # One guard around the whole listing: pages are the backend's calls, not items.
        trial = False if self._opened_at is None else self._admit(None)
        try:
            yield from self.inner.list(prefix, delimiter=delimiter, start_after=start_after)
        except BaseException as exc:
            self._raised(exc, trial)
            raise
        self._settle(trial)

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        return self._call(lambda: self.inner.copy(src_key, dst_key, mode=mode), src_key)

    def delete_many(self, keys: Sequence[str]) -> None:
        self._call(lambda: self.inner.delete_many(keys), None)

    def presign(self, key: str, *, method: str, expires: int, content_type: str | None) -> str:
        return self._call(
            lambda: self.inner.presign(
                key, method=method, expires=expires, content_type=content_type
            ),
            key,
        )
