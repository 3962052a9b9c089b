"""The async kit on the S3 backend: the native transport awaited on the event loop (moto
over HTTP), and the boto3 transport in the store's worker pool (moto, rclone).

Each store is opened from configuration (``objstore.open_async``), so the ``s3``
section, the circuit breaker and the worker pool are the ones users get. The
matrix with tests/conformance/test_s3.py is explained there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from servers import S3Server
from test_s3 import _HeadersMayLagData, _RcloneMetadataLimit

import objstore
from objstore.testing import AsyncConformanceSuite


def _open(server: S3Server, bucket: str, **section: Any) -> objstore.AsyncStore:
    return objstore.open_async(
        {
            "backend": "s3",
            "s3": {
                "bucket": bucket,
                "endpoint_url": server.endpoint_url,
                "region": server.region,
                "access_key_id": server.access_key_id,
                "secret_access_key": server.secret_access_key,
                "provider": server.provider,
                "verify": server.verify,
                **section,
            },
            "max_workers": 4,  # docs/async.md: lag grows with the pool
        }
    )


class TestAsyncS3MotoServer(_HeadersMayLagData, AsyncConformanceSuite):
    """The native transport: ``aput``, ``aget``... on the loop, no worker pool."""

    @pytest.fixture
    def async_store(self, moto_http: S3Server) -> Iterator[objstore.AsyncStore]:
        with moto_http.bucket() as bucket:
            yield _open(moto_http, bucket)


class TestAsyncS3MotoBoto3(_HeadersMayLagData, AsyncConformanceSuite):
    """The boto3 transport in the store's worker pool (boto3 over TLS is
    tests/backends/test_s3_backend.py's, with its aws-chunked uploads)."""

    @pytest.fixture
    def async_store(self, moto_http: S3Server) -> Iterator[objstore.AsyncStore]:
        with moto_http.bucket() as bucket:
            yield _open(moto_http, bucket, transport="boto3")


class TestAsyncS3RcloneBoto3(_RcloneMetadataLimit, _HeadersMayLagData, AsyncConformanceSuite):
    """The boto3 transport on rclone, in the store's worker pool."""

    @pytest.fixture
    def async_store(self, rclone_s3: S3Server) -> Iterator[objstore.AsyncStore]:
        with rclone_s3.bucket() as bucket:
            yield _open(rclone_s3, bucket, transport="boto3")
