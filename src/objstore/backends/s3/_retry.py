"""When a failed request is sent again, as botocore's ``standard`` retry mode does it.

Retried: throttling codes (``SlowDown``, ``Throttling``...), transient codes
(``RequestTimeout``, ``InternalError``), HTTP 500/502/503/504 and 429, 409
``ConditionalRequestConflict``, and answers that never came (connection
refused, reset, timed out). The wait before attempt ``n + 1`` is
``random() * min(20, 2 ** (n - 1))`` seconds (exponential backoff with full
jitter). Every S3 request objstore sends is idempotent, so sending one again
is safe; a conditional write whose first answer was lost is settled by the
write token (docs/s3.md, "Lost answers").
"""

from __future__ import annotations

import random
from typing import Any

from ..._attempts import note_retry
from ..._otel import request_span
from ._errors import S3AnswerError, TransportError, WireError

MAX_BACKOFF = 20.0
REDIRECT_STATUS = frozenset({301, 307, 400})


def backoff(failure: WireError, attempt: int, max_attempts: int) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up."""
    if attempt >= max_attempts:
        return None
    if isinstance(failure, TransportError) and not failure.tls:
        return random.random() * min(MAX_BACKOFF, 2.0 ** (attempt - 1))
    if isinstance(failure, S3AnswerError) and failure.retryable:
        return random.random() * min(MAX_BACKOFF, 2.0 ** (attempt - 1))
    return None


def redirected_region(failure: WireError, region: str) -> str | None:
    """The bucket's region, when the service says the request went to the wrong one."""
    if not isinstance(failure, S3AnswerError) or failure.status not in REDIRECT_STATUS:
        return None
    if failure.region and failure.region != region:
        return failure.region
    return None


def maybe_applied(failure: WireError) -> bool:
    """Whether the service may have applied a request that failed this way."""
    if isinstance(failure, TransportError):
        return not failure.tls and "refused" not in str(failure)
    return isinstance(failure, S3AnswerError) and failure.status >= 500


class Attempts:
    """The attempts of one request, shared by the sync and asyncio native transports.

    :meth:`begin` starts an attempt (noting it as a retry of the store's operation,
    for ``Event.attempts``); :meth:`after` decides what a failure leads to: a region
    redirect (followed once, at once), a wait before the next attempt, or the end.

    Args:
        max_attempts: Attempts in all, the first included.
        endpoint: The service's address, moved by a region redirect.
    """

    def __init__(self, max_attempts: int, endpoint: Any):
        self.count = 0
        self._max = max_attempts
        self._endpoint = endpoint
        self._uncertain = False
        self._redirected = False

    def begin(self) -> int:
        self.count += 1
        if self.count > 1:
            note_retry()
        return self.count

    def after(self, error: WireError) -> float:
        """Seconds to wait before the next attempt (0 after a region redirect).

        Raises:
            WireError: ``error``, with ``attempts`` and ``uncertain`` set, when
                there is no next attempt.
        """
        error.attempts, error.uncertain = self.count, self._uncertain
        region = redirected_region(error, self._endpoint.region)
        if region is not None and not self._redirected:
            self._redirected = True
            self._endpoint.move_to(region)
            return 0.0
        delay = backoff(error, self.count, self._max)
        if delay is None:
            raise error
        self._uncertain = self._uncertain or maybe_applied(error)
        return delay


def span(endpoint: Any, request: Any, prepared: Any, operation: str, attempt: int) -> Any:
    """The CLIENT span of one attempt (a no-op while OpenTelemetry is not configured)."""
    query = dict(request.query)
    part = query.get("partNumber")
    return request_span(
        prepared.method,
        prepared.target,
        bucket=endpoint.bucket,
        key=request.key,
        upload_id=query.get("uploadId"),
        part_number=int(part) if part else None,
        operation=operation,
        attempt=attempt,
        server_address=endpoint.hostname,
        server_port=endpoint.port,
    )
