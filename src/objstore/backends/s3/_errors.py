"""The one place where S3's failures become objstore's errors.

Both transports report a failed request as a :class:`WireError`: an
:class:`S3AnswerError` when the service answered with an error, a
:class:`TransportError` when no answer came (refused, reset, timed out, TLS),
and :class:`NotS3Error` when the endpoint answered something that is not S3.
Their messages are already scrubbed of every secret and they chain nothing
that could hold one (the boto3 transport drops botocore's exception, whose
text quotes the server). :class:`ErrorMapper` turns them into the most
specific :mod:`objstore.errors` class, chained; errors that are not storage
failures (a bug, the caller's own exception) pass through unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..._keys import show_key
from ...errors import (
    ConfigError,
    KeyConflictError,
    NotFoundError,
    ObjstoreError,
    PermissionDeniedError,
    PreconditionFailedError,
    UnavailableError,
    UnsupportedOperationError,
)
from ._credentials import NoCredentialsError

NOT_FOUND = frozenset({"NoSuchKey", "NotFound"})
PRECONDITION = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
DENIED = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
     "InvalidToken", "TokenRefreshRequired", "AccountProblem"}
)  # fmt: skip
EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
SKEWED = frozenset({"RequestTimeTooSkewed"})
THROTTLED = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
     "TooManyRequestsException", "ProvisionedThroughputExceededException",
     "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
     "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
     "EC2ThrottledException"}
)  # fmt: skip
TRANSIENT = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "InternalError", "ServiceUnavailable"}
)
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
CONFLICT = "ConditionalRequestConflict"
TOO_LARGE = frozenset({"MetadataTooLarge"})
NO_BUCKET = "NoSuchBucket"
NO_UPLOAD = "NoSuchUpload"


class WireError(Exception):
    """A request that failed (internal: :class:`ErrorMapper` maps it).

    Attributes:
        attempts: How many times the request was sent.
        uncertain: An earlier attempt ended without a definite answer, so the
            service may have applied the request (see docs/s3.md, lost answers).
    """

    def __init__(self, message: str, *, attempts: int = 1, uncertain: bool = False):
        super().__init__(message)
        self.attempts = attempts
        self.uncertain = uncertain


class S3AnswerError(WireError):
    """The service answered with an error."""

    def __init__(
        self,
        code: str,
        status: int,
        message: str = "",
        *,
        region: str | None = None,
        attempts: int = 1,
        uncertain: bool = False,
    ):
        self.code = code or f"HTTP {status}"
        self.status = status
        self.server_message = message[:200]
        self.region = region  # x-amz-bucket-region, where the service tells it
        shown = self.code if self.code == f"HTTP {status}" else f"{self.code}, HTTP {status}"
        super().__init__(
            f"({shown}{': ' + self.server_message if self.server_message else ''})",
            attempts=attempts,
            uncertain=uncertain,
        )

    @property
    def retryable(self) -> bool:
        """Worth retrying after a backoff (botocore's standard mode, plus 409 conflicts)."""
        return (
            self.code in THROTTLED
            or self.code in TRANSIENT
            or self.code == CONFLICT
            or self.status in TRANSIENT_STATUS
            or self.status == 429
        )


class TransportError(WireError):
    """No answer: the connection failed, dropped, timed out, or TLS refused the server."""

    def __init__(
        self, reason: str, *, tls: bool = False, attempts: int = 1, uncertain: bool = True
    ):
        super().__init__(reason, attempts=attempts, uncertain=uncertain)
        self.tls = tls


class NotS3Error(WireError):
    """The endpoint answered, but not as an S3 service does (HTML, no XML error)."""


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(frozen=True, slots=True)
class ErrorMapper:
    """Maps the errors of one backend: its bucket, endpoint and provider's codes."""

    bucket: str
    endpoint: str
    conflict_codes: frozenset[str] = frozenset()
    secrets: Callable[[], tuple[str, ...]] = tuple

    @contextlib.contextmanager
    def __call__(
        self, key: str | None, *, missing: type[ObjstoreError] = NotFoundError
    ) -> Iterator[None]:
        """Translate errors raised inside; ``missing`` is the class for a missing key."""
        try:
            yield
        except ObjstoreError:
            raise
        except Exception as exc:
            mapped = self.translate(exc, key, missing)
            if mapped is None:
                raise
            mapped.message += getattr(exc, "lingering", "")
            raise mapped from exc

    def translate(
        self, exc: BaseException, key: str | None, missing: type[ObjstoreError] = NotFoundError
    ) -> ObjstoreError | None:
        """The objstore error for ``exc``, or ``None`` if it is not a storage failure."""
        if isinstance(exc, S3AnswerError):
            return self._answered(exc, key, missing)
        if isinstance(exc, NoCredentialsError):
            return ConfigError(
                "s3: no usable credentials: give access_key_id and secret_access_key, a "
                "profile, or configure boto3's default chain (AWS_ACCESS_KEY_ID, ...)",
                key=key,
                backend="s3",
            )
        if isinstance(exc, TransportError):
            why = "TLS failed (check verify / the CA bundle)" if exc.tls else "cannot reach it"
            return self._unavailable(key, f"{why}: {exc}")
        if isinstance(exc, NotS3Error):
            return ConfigError(
                f"s3: the endpoint {self.endpoint} does not answer like an S3 service: {exc}",
                key=key,
                backend="s3",
            )
        return None

    def _answered(
        self, exc: S3AnswerError, key: str | None, missing: type[ObjstoreError]
    ) -> ObjstoreError:
        code, status = exc.code, exc.status
        detail = scrub(str(exc), self.secrets())
        where = f" {show_key(key)}" if key is not None else ""
        if code == NO_BUCKET:
            return ConfigError(
                f"s3: the bucket {self.bucket!r} does not exist {detail}", key=key, backend="s3"
            )
        if code in NOT_FOUND or (status == 404 and not code.startswith("NoSuch")):
            text = f"s3: no object{where} in bucket {self.bucket!r}"
            if missing is not NotFoundError:
                text += ", so it cannot match the expected etag"
            return missing(text, key=key, backend="s3")
        if code in PRECONDITION or status == 412:
            return PreconditionFailedError(
                f"s3: a condition on{where} did not hold {detail}", key=key, backend="s3"
            )
        if status in (301, 307) or code in ("PermanentRedirect", "AuthorizationHeaderMalformed"):
            elsewhere = f"in region {exc.region!r}" if exc.region else "in another region"
            return ConfigError(
                f"s3: the bucket {self.bucket!r} is {elsewhere} {detail}: set the region",
                key=key,
                backend="s3",
            )
        if code in self.conflict_codes:
            return KeyConflictError(
                f"s3: cannot store{where}: the server cannot hold a key beside keys below it "
                f"(a and a/b) {detail}",
                key=key,
                backend="s3",
            )
        return self._refused(exc, key, where, detail)

    def _refused(
        self, exc: S3AnswerError, key: str | None, where: str, detail: str
    ) -> ObjstoreError:
        code, status = exc.code, exc.status
        if code in EXPIRED:
            return PermissionDeniedError(
                f"s3: the credentials have expired {detail}: renew them (or let boto3's "
                "default chain refresh them)",
                key=key,
                backend="s3",
            )
        if code in SKEWED:
            return PermissionDeniedError(
                f"s3: the service refused the request because this machine's clock is off by "
                f"more than 15 minutes {detail}: set the clock right (NTP)",
                key=key,
                backend="s3",
            )
        if code in DENIED or status == 403:
            return PermissionDeniedError(
                f"s3: access to{where or ' the bucket'} in bucket {self.bucket!r} was refused "
                f"{detail}: check the credentials and the bucket's policy",
                key=key,
                backend="s3",
            )
        if code in TOO_LARGE:
            return UnsupportedOperationError(
                f"s3: the server refused the metadata of{where} as too large {detail}; it "
                "counts more than objstore's 2 KiB (see docs/s3.md)",
                key=key,
                backend="s3",
            )
        if exc.retryable or code == NO_UPLOAD:
            return self._unavailable(key, f"the server keeps failing {detail}")
        return ObjstoreError(f"s3: request on{where} failed {detail}", key=key, backend="s3")

    def _unavailable(self, key: str | None, why: str) -> UnavailableError:
        where = f" for {show_key(key)}" if key is not None else ""
        return UnavailableError(
            f"s3: {self.endpoint} (bucket {self.bucket!r}) unavailable{where}: {why}",
            key=key,
            backend="s3",
        )
