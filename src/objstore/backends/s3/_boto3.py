"""The boto3 transport: the operations of :mod:`._ops` made through one boto3 client.

The choice for moto's in-process ``mock_aws`` and for botocore event hooks
(``S3Backend.client``). botocore retries (standard mode) and signs; this module
turns each operation into its boto3 call and the answer into the operation's
result, and botocore's errors into :class:`~._errors.WireError` values whose
text is scrubbed of secrets and which chain nothing (botocore's exceptions
quote the server's message, which may echo a secret).

boto3 ships no type information, so the client crosses into objstore as
``Any`` at this one boundary; everything that reads its answers is typed.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from ..._attempts import note_retry
from ...errors import ConfigError
from . import _ops as ops
from ._credentials import NoCredentialsError, boto3_missing, botocore_session
from ._errors import CONFLICT, S3AnswerError, TransportError, scrub
from ._presets import S3Options
from ._retry import backoff

S3Client = Any
T = TypeVar("T")


def make_client(options: S3Options) -> S3Client:
    """Create a thread-safe S3 client from the options (credentials, retries, timeouts)."""
    boto3, config_class = _import_boto3()
    from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped]

    try:
        session = boto3.session.Session(
            botocore_session=botocore_session(options, explicit=False),
            aws_access_key_id=options.access_key_id,
            aws_secret_access_key=options.secret_access_key,
            aws_session_token=options.session_token,
            profile_name=options.profile,
            region_name=options.region,
        )
        client = session.client(
            "s3",
            endpoint_url=options.endpoint_url,
            # True: boto3's default (AWS_CA_BUNDLE or the profile's ca_bundle, else its own).
            verify=None if options.verify is True else options.verify,
            config=config_class(**client_config(options)),
        )
    except (BotoCoreError, ValueError) as exc:
        # ProfileNotFound, an invalid endpoint URL or region: named, never with secrets.
        raise ConfigError(
            f"cannot configure the S3 client: {type(exc).__name__}", backend="s3"
        ) from exc
    if options.preset.content_md5:
        client.meta.events.register("before-sign.s3.DeleteObjects", add_content_md5)
    client.meta.events.register("request-created.s3", report_retry)
    return client


def report_retry(request: Any, **_: Any) -> None:
    """Count botocore's retries in the operation's ``attempts`` (``note_retry``).

    botocore builds a new request for every attempt and numbers it in the
    request's context; attempt 2 and later are retries.
    """
    retries = getattr(request, "context", {}).get("retries", {})
    if retries.get("attempt", 1) > 1:
        note_retry()


def client_config(options: S3Options) -> dict[str, Any]:
    """The ``botocore.config.Config`` arguments for these options."""
    return {
        "signature_version": "s3v4",  # presigned URLs too (botocore would pick SigV2 there)
        "max_pool_connections": options.max_connections,
        # botocore's own "max_attempts" counts retries only; ours counts every attempt.
        "retries": {"mode": "standard", "total_max_attempts": options.max_attempts},
        "connect_timeout": options.connect_timeout,
        "read_timeout": options.read_timeout,
        "s3": {"addressing_style": options.addressing_style},
        "request_checksum_calculation": options.checksums,
        "response_checksum_validation": options.checksums,
    }


def add_content_md5(request: Any, **_: Any) -> None:
    """Give DeleteObjects the ``Content-MD5`` older S3-compatible services require.

    boto3 1.36+ sends a CRC32 checksum instead, which such services reject with
    "Missing required header for this request: Content-Md5".
    """
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if isinstance(body, bytes) and "Content-MD5" not in request.headers:
        digest = hashlib.md5(body, usedforsecurity=False).digest()
        request.headers["Content-MD5"] = base64.b64encode(digest).decode("ascii")


def _import_boto3() -> tuple[Any, Any]:
    try:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]
    except ImportError as exc:
        raise boto3_missing() from exc
    return boto3, Config


# -- the operations through boto3 ------------------------------------------------------------

_PARAMS = {
    "content-type": "ContentType",
    "cache-control": "CacheControl",
    "content-disposition": "ContentDisposition",
    "content-encoding": "ContentEncoding",
    "content-language": "ContentLanguage",
    "if-match": "IfMatch",
    "if-none-match": "IfNoneMatch",
}


def params(headers: Mapping[str, str]) -> dict[str, Any]:
    """boto3's parameters for the headers an operation sends."""
    out: dict[str, Any] = {}
    metadata = {}
    for name, value in headers.items():
        if name.startswith("x-amz-meta-"):
            metadata[name[len("x-amz-meta-") :]] = value
        elif name in _PARAMS:
            out[_PARAMS[name]] = value
    if metadata:
        out["Metadata"] = metadata
    return out


class Boto3Wire:
    """Runs the operations of :mod:`._ops` through one boto3 client; thread-safe."""

    def __init__(self, options: S3Options):
        self.client: Any = make_client(options)
        self.bucket = options.bucket
        self._secrets = options.secrets
        self._attempts = options.max_attempts
        self._calls: dict[type[Any], Callable[[Any], Any]] = {
            ops.HeadObject: self._head,
            ops.GetObject: self._get,
            ops.PutObject: self._put,
            ops.DeleteObject: self._delete,
            ops.DeleteObjects: self._delete_many,
            ops.ListObjectsV2: self._list,
            ops.CopyObject: self._copy,
            ops.CreateMultipartUpload: self._create,
            ops.UploadPart: self._part,
            ops.UploadPartCopy: self._part_copy,
            ops.CompleteMultipartUpload: self._complete,
            ops.AbortMultipartUpload: self._abort,
            ops.HeadBucket: self._head_bucket,
        }

    def secrets(self) -> tuple[str, ...]:
        """The configured secrets, to scrub from any text that leaves objstore."""
        return self._secrets

    def call(self, op: ops.Op[T]) -> T:
        """Make ``op``'s boto3 call and read its answer.

        Raises:
            WireError: the call failed (after botocore's own retries).
        """
        attempt = 1
        while True:
            try:
                result: T = self._calls[type(op)](op)
                return result
            except Exception as exc:
                error = wire_error(exc, self.secrets())
                if error is None:
                    raise
            # botocore's standard mode does not retry 409 ConditionalRequestConflict
            conflict = isinstance(error, S3AnswerError) and error.code == CONFLICT
            delay = backoff(error, attempt, self._attempts) if conflict else None  # type: ignore[arg-type]
            if delay is None:
                raise error  # outside the handler: botocore's exception is not chained
            time.sleep(delay)
            attempt += 1
            note_retry()

    def presign(self, key: str, method: str, expires: int, headers: dict[str, str]) -> str:
        """boto3's ``generate_presigned_url``; the client must send ``headers``."""
        params = {"Bucket": self.bucket, "Key": key}
        if "content-type" in headers:
            params["ContentType"] = headers["content-type"]  # signed: the uploader must send it
        operation = "get_object" if method == "GET" else "put_object"
        try:
            url: str = self.client.generate_presigned_url(
                operation, Params=params, ExpiresIn=expires, HttpMethod=method
            )
            return url
        except Exception as exc:
            error = wire_error(exc, self.secrets())
            if error is None:
                raise
        raise error

    def close(self) -> None:
        self.client.close()

    def _head(self, op: ops.HeadObject) -> ops.Headers:
        extra = {"IfMatch": f'"{op.if_match}"'} if op.if_match is not None else {}
        answer = self.client.head_object(Bucket=self.bucket, Key=op.key, **extra)
        return _headers(answer)

    def _get(self, op: ops.GetObject) -> ops.Reply:
        extra = {"IfMatch": f'"{op.if_match}"'} if op.if_match is not None else {}
        if op.range is not None:
            extra["Range"] = op.range
        answer = self.client.get_object(Bucket=self.bucket, Key=op.key, **extra)
        status = answer["ResponseMetadata"]["HTTPStatusCode"]
        return ops.Reply(status, _headers(answer), stream=Boto3Body(answer["Body"]))

    def _put(self, op: ops.PutObject) -> ops.Headers:
        answer = self.client.put_object(
            Bucket=self.bucket, Key=op.key, Body=op.body, **params(op.headers)
        )
        return {"etag": answer.get("ETag", ""), **_headers(answer)}

    def _delete(self, op: ops.DeleteObject) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=op.key)

    def _delete_many(self, op: ops.DeleteObjects) -> list[tuple[str, str]]:
        objects = [{"Key": key} for key in op.keys]
        answer = self.client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
        )
        return [(e.get("Key", "?"), e.get("Code", "?")) for e in answer.get("Errors", [])]

    def _list(self, op: ops.ListObjectsV2) -> ops.Page:
        extra: dict[str, Any] = {}
        for name, value in (
            ("Delimiter", op.delimiter),
            ("StartAfter", op.start_after),
            ("ContinuationToken", op.token),
            ("MaxKeys", op.max_keys),
        ):
            if value is not None:
                extra[name] = value
        page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=op.prefix, **extra)
        objects = [
            (i["Key"], int(i.get("Size", 0)), i.get("ETag", ""), _utc(i.get("LastModified")))
            for i in page.get("Contents", [])
        ]
        prefixes = [item["Prefix"] for item in page.get("CommonPrefixes", [])]
        token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
        return ops.Page(objects, prefixes, token or None)

    def _copy(self, op: ops.CopyObject) -> ops.Copied:
        extra = {"MetadataDirective": "COPY"}
        if op.headers is not None:
            extra = {"MetadataDirective": "REPLACE", **params(op.headers)}
        answer = self.client.copy_object(
            Bucket=self.bucket,
            Key=op.key,
            CopySource={"Bucket": op.bucket, "Key": op.source},
            CopySourceIfMatch=f'"{op.source_etag}"',
            **extra,
        )
        result = answer.get("CopyObjectResult", {})
        return ops.Copied(
            result.get("ETag", ""), _utc(result.get("LastModified")), _headers(answer)
        )

    def _create(self, op: ops.CreateMultipartUpload) -> str:
        extra = params(op.headers)
        if op.checksum:
            extra["ChecksumAlgorithm"] = "CRC32"
        answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=op.key, **extra)
        return str(answer["UploadId"])

    def _part(self, op: ops.UploadPart) -> dict[str, str]:
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=op.key, UploadId=op.upload_id, PartNumber=op.number,
            Body=op.body,
        )  # fmt: skip
        part = {"PartNumber": str(op.number), "ETag": answer["ETag"]}
        if answer.get("ChecksumCRC32"):
            part["ChecksumCRC32"] = answer["ChecksumCRC32"]
        return part

    def _part_copy(self, op: ops.UploadPartCopy) -> dict[str, str]:
        extra = {"CopySourceRange": f"bytes={op.first}-{op.last}"} if op.last >= 0 else {}
        answer = self.client.upload_part_copy(
            Bucket=self.bucket, Key=op.key, UploadId=op.upload_id, PartNumber=op.number,
            CopySource={"Bucket": op.bucket, "Key": op.source},
            CopySourceIfMatch=f'"{op.source_etag}"', **extra,
        )  # fmt: skip
        return {"PartNumber": str(op.number), "ETag": answer["CopyPartResult"]["ETag"]}

    def _complete(self, op: ops.CompleteMultipartUpload) -> ops.Copied:
        parts = [{**part, "PartNumber": int(part["PartNumber"])} for part in op.parts]
        answer = self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=op.key, UploadId=op.upload_id,
            MultipartUpload={"Parts": parts}, **params(op.headers),
        )  # fmt: skip
        return ops.Copied(answer.get("ETag", ""), None, _headers(answer))

    def _abort(self, op: ops.AbortMultipartUpload) -> None:
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=op.key, UploadId=op.upload_id)

    def _head_bucket(self, op: ops.HeadBucket) -> None:
        self.client.head_bucket(Bucket=self.bucket)


class Boto3Body:
    """A GetObject body from boto3, failing with :class:`TransportError` when it drops."""

    def __init__(self, body: Any):
        self._body = body

    def read(self, n: int) -> bytes:
        try:
            data: bytes = self._body.read(n)
        except Exception as exc:
            error = wire_error(exc, ())
            if error is None:
                raise
        else:
            return data
        self.close()
        raise error

    def close(self) -> None:
        self._body.close()


def wire_error(exc: BaseException, secrets: tuple[str, ...]) -> Exception | None:
    """The transport-neutral error for a botocore or network exception, else ``None``."""
    from botocore import exceptions as bce  # type: ignore[import-untyped]
    from urllib3.exceptions import HTTPError as URLLib3Error

    if isinstance(exc, bce.ClientError):
        response: Any = exc.response
        error, meta = response.get("Error", {}), response.get("ResponseMetadata", {})
        retries = int(meta.get("RetryAttempts", 0) or 0)
        return S3AnswerError(
            str(error.get("Code", "")),
            int(meta.get("HTTPStatusCode", 0) or 0),
            scrub(str(error.get("Message", "") or ""), secrets),
            region=meta.get("HTTPHeaders", {}).get("x-amz-bucket-region"),
            attempts=retries + 1,
            uncertain=retries > 0,
        )
    credentials = (bce.NoCredentialsError, bce.PartialCredentialsError,
                   bce.CredentialRetrievalError)  # fmt: skip
    if isinstance(exc, credentials):
        return NoCredentialsError("no credentials")
    if isinstance(exc, bce.SSLError):
        return TransportError(f"TLS: {type(exc).__name__}", tls=True)
    network = (bce.ConnectionError, bce.HTTPClientError, bce.IncompleteReadError, URLLib3Error)
    if isinstance(exc, (*network, http.client.HTTPException, OSError)):
        return TransportError(type(exc).__name__)
    return None


def _headers(answer: Mapping[str, Any]) -> dict[str, str]:
    raw = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return {str(k).lower(): str(v) for k, v in raw.items()}


def _utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
