"""The S3 backend: Amazon S3 and S3-compatible services (docs/s3.md).

One module per concern: ``_backend`` (the backend, sync) and ``_abackend`` (its
asyncio methods) over ``_plans`` (the logic of every operation, written once);
``_ops`` (each S3 request and its answer), ``_xml``, ``_answers`` and
``_metadata`` (reading and writing S3's formats); the transports ``_native``
(``_endpoint``, ``_signing``, ``_http``, ``_retry``), ``_aio`` and ``_boto3``;
``_credentials``; ``_errors`` (the one error mapping); ``_multipart``,
``_stream`` and ``_tokens``; ``_presets`` (options and providers' quirks).
"""

from ._backend import S3Backend

__all__ = ["S3Backend"]
