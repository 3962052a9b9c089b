"""The native transport, synchronous: objstore's own SigV4 over ``http.client``.

:meth:`NativeWire.call` is the one place every request of the sync native
transport goes through: it signs, sends, reads the answer into the
operation's result, and retries (:mod:`._retry`), counting attempts. Its
async twin is :meth:`._aio.AsyncNativeWire.call`.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

from ._credentials import Credentials
from ._endpoint import Endpoint, failure
from ._errors import S3AnswerError, TransportError, WireError
from ._http import Pool, tls_context
from ._ops import Op, Reply
from ._presets import S3Options
from ._retry import backoff, redirected_region

T = TypeVar("T")


def maybe_applied(failure: WireError) -> bool:
    """Whether the service may have applied a request that failed this way."""
    if isinstance(failure, TransportError):
        return not failure.tls and "refused" not in str(failure)
    return isinstance(failure, S3AnswerError) and failure.status >= 500


class NativeWire:
    """Sends the operations of :mod:`._ops` for one bucket; thread-safe."""

    def __init__(self, options: S3Options, credentials: Credentials, ca_bundle: str | None):
        self.endpoint = Endpoint(options, credentials.region, credentials.current)
        self.secrets = credentials.secrets
        self._options = options
        self.tls = (
            tls_context(options.verify, ca_bundle) if self.endpoint.scheme == "https" else None
        )
        self._pools: dict[str, Pool] = {}

    def call(self, op: Op[T]) -> T:
        """Send ``op`` (retrying as :mod:`._retry` says) and read its answer.

        Raises:
            WireError: the last attempt failed; ``attempts`` and ``uncertain`` say how.
        """
        request = op.request()
        uncertain = redirected = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return op.answer(self._attempt(request, op.streamed))
            except WireError as exc:
                error = exc
            error.attempts, error.uncertain = attempt, uncertain
            region = redirected_region(error, self.endpoint.region)
            if region is not None and not redirected:
                redirected = True
                self.endpoint.move_to(region)
                continue
            delay = backoff(error, attempt, self._options.max_attempts)
            if delay is None:
                raise error
            uncertain = uncertain or maybe_applied(error)
            time.sleep(delay)

    def _attempt(self, request: Any, streamed: bool) -> Reply:
        prepared = self.endpoint.prepare(request)
        status, headers, body = self._pool(prepared.host).exchange(prepared, streamed)
        if status >= 300:
            raise failure(status, headers, body, self.secrets())
        if streamed:
            return Reply(status, headers, stream=body)
        return Reply(status, headers, body)

    def _pool(self, host: str) -> Pool:
        pool = self._pools.get(host)
        if pool is None:
            options = self._options
            pool = self._pools.setdefault(
                host,
                Pool(
                    self.endpoint.scheme,
                    host.rsplit(":", 1)[0],
                    self.endpoint.port,
                    size=options.max_connections,
                    connect_timeout=options.connect_timeout,
                    read_timeout=options.read_timeout,
                    tls=self.tls,
                ),
            )
        return pool

    def presign(self, key: str, method: str, expires: int, headers: dict[str, str]) -> str:
        """A presigned URL (no network call)."""
        return self.endpoint.presign(key, method, expires, headers)

    def close(self) -> None:
        for pool in list(self._pools.values()):
            pool.close()
