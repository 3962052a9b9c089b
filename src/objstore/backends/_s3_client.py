"""Building the one boto3 client an S3 backend uses (boto3 is imported here, on first use).

boto3 ships no type information, so the client crosses into objstore as
``Any`` at this one boundary; everything that reads its answers is typed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any

from .._attempts import note_retry
from ..errors import ConfigError
from ._s3_presets import S3Options

S3Client = Any


def make_client(options: S3Options) -> S3Client:
    """Create a thread-safe S3 client from the options (credentials, retries, timeouts)."""
    boto3, config_class = _import_boto3()
    from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped]

    try:
        session = boto3.session.Session(
            botocore_session=_botocore_session(),
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


@functools.cache
def _shared_loader() -> Any:
    from botocore.loaders import create_loader  # type: ignore[import-untyped]

    return create_loader()


def _botocore_session() -> Any:
    """A new botocore session that shares the parsed service models of earlier ones.

    Parsing S3's model takes most of the ~0.1 s a client costs; backends made
    later in the process (several buckets, tests) reuse it. Credentials and
    configuration stay per session.
    """
    from botocore.session import get_session  # type: ignore[import-untyped]

    session = get_session()
    session.register_component("data_loader", _shared_loader())
    return session


def _import_boto3() -> tuple[Any, Any]:
    try:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ConfigError(
            "the s3 backend needs boto3, which is not installed: install objstore[s3]",
            backend="s3",
        ) from exc
    return boto3, Config
