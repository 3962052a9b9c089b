"""The one place where boto3's errors become objstore's.

:class:`ErrorMapper` is a context manager factory: ``with errors(key): ...`` turns
any botocore, urllib3 or socket error raised inside into the most specific
:mod:`objstore.errors` class, chained. Messages are objstore's own: the S3 error
code, the HTTP status, the key and the bucket, and the server's message with
any configured secret scrubbed out. Errors that are not storage failures (a
bug, the caller's own exception) pass through unchanged.
"""

from __future__ import annotations

import contextlib
import http.client
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import (
    ConfigError,
    KeyConflictError,
    NotFoundError,
    ObjstoreError,
    PermissionDeniedError,
    PreconditionFailedError,
    UnavailableError,
    UnsupportedOperationError,
)

NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
PRECONDITION = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})
DENIED = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "AllAccessDisabled",
     "ExpiredToken", "InvalidToken", "TokenRefreshRequired", "AccountProblem"}
)  # fmt: skip
TRANSIENT = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError",
     "ServiceUnavailable", "RequestLimitExceeded", "TooManyRequests", "NoSuchUpload"}
)  # fmt: skip
TOO_LARGE = frozenset({"MetadataTooLarge"})
CONFLICT = "ConditionalRequestConflict"
NO_BUCKET = "NoSuchBucket"


def error_code(exc: BaseException) -> tuple[str, int]:
    """The S3 error code and HTTP status of a botocore ``ClientError``, else ``("", 0)``."""
    response: Any = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return "", 0
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the connection failed or dropped (worth resuming or retrying)."""
    from botocore import exceptions as bce  # type: ignore[import-untyped]
    from urllib3.exceptions import HTTPError as URLLib3Error

    network = (bce.ConnectionError, bce.HTTPClientError, bce.IncompleteReadError, URLLib3Error)
    return isinstance(exc, (*network, http.client.HTTPException, OSError))


def is_missing_credentials(exc: BaseException) -> bool:
    """Whether boto3 found no credentials at all."""
    from botocore.exceptions import NoCredentialsError  # type: ignore[import-untyped]

    return isinstance(exc, NoCredentialsError)


@dataclass(frozen=True, slots=True)
class ErrorMapper:
    """Maps the errors of one backend (its bucket, its secrets, its provider's codes)."""

    bucket: str
    secrets: tuple[str, ...] = ()
    conflict_codes: frozenset[str] = frozenset()

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
            raise mapped from exc

    def translate(
        self, exc: BaseException, key: str | None, missing: type[ObjstoreError] = NotFoundError
    ) -> ObjstoreError | None:
        """The objstore error for ``exc``, or ``None`` if it is not a storage failure."""
        from botocore import exceptions as bce

        if isinstance(exc, bce.ClientError):
            return self._client_error(exc, key, missing)
        credentials = (bce.NoCredentialsError, bce.PartialCredentialsError,
                       bce.CredentialRetrievalError)  # fmt: skip
        if isinstance(exc, credentials):
            return ConfigError(
                "s3: no usable credentials: give access_key_id and secret_access_key, a "
                "profile, or configure boto3's default chain (AWS_ACCESS_KEY_ID, ...)",
                key=key,
                backend="s3",
            )
        if isinstance(exc, bce.SSLError):
            return self._unavailable(key, "TLS failed (check verify / the CA bundle)")
        if is_connection_error(exc):
            return self._unavailable(key, f"cannot reach the server ({type(exc).__name__})")
        return None

    def _client_error(
        self, exc: BaseException, key: str | None, missing: type[ObjstoreError]
    ) -> ObjstoreError:
        code, status = error_code(exc)
        detail = f"({code or 'error'}, HTTP {status}{self._server_message(exc)})"
        where = f" {key!r}" if key is not None else ""
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
        if code in self.conflict_codes:
            return KeyConflictError(
                f"s3: cannot store{where}: the server cannot hold a key beside keys below it "
                f"(a and a/b) {detail}",
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
        if code in TRANSIENT or status >= 500 or status == 429:
            return self._unavailable(key, f"the server keeps failing {detail}")
        return ObjstoreError(f"s3: request on{where} failed {detail}", key=key, backend="s3")

    def _unavailable(self, key: str | None, why: str) -> UnavailableError:
        where = f" for {key!r}" if key is not None else ""
        return UnavailableError(
            f"s3: bucket {self.bucket!r} unavailable{where}: {why}", key=key, backend="s3"
        )

    def _server_message(self, exc: BaseException) -> str:
        response: Any = getattr(exc, "response", {})
        message = str(response.get("Error", {}).get("Message", "") or "")[:200]
        for secret in self.secrets:
            message = message.replace(secret, "***")
        return f": {message}" if message else ""
