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
