"""The native transport, synchronous: objstore's own SigV4 over ``http.client``.

:meth:`NativeWire.call` is the one place every request of the sync native
transport goes through: it signs, sends, reads the answer into the
operation's result, and retries (:mod:`._retry`), counting attempts. Its
async twin is :meth:`._aio.AsyncNativeWire.call`.
"""

from __future__ import annotations

import time
from typing import TypeVar

from ._credentials import Credentials
from ._endpoint import Endpoint, failure
from ._errors import WireError
from ._http import Pool, tls_context
from ._ops import Op, Reply, Request
from ._presets import S3Options
from ._retry import Attempts, span

T = TypeVar("T")


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
        attempts = Attempts(self._options.max_attempts, self.endpoint)
        while True:
            attempt = attempts.begin()
            try:
                return op.answer(self._attempt(request, op, attempt))
            except WireError as exc:
                failed = exc
            time.sleep(attempts.after(failed))

    def _attempt(self, request: Request, op: Op[T], attempt: int) -> Reply:
        prepared = self.endpoint.prepare(request)
        with span(self.endpoint, request, prepared, op.name, attempt) as client:
            status, headers, body = self._pool(prepared.host).exchange(prepared, op.streamed)
            client.answered(status)
            if status >= 300:
                raise failure(status, headers, body, self.secrets())
        if op.streamed:
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
