"""The async kit on the S3 backend, over moto's server on loopback.

The store is opened from configuration (``objstore.open_async``), so the
``s3`` section, the circuit breaker and the worker pool are the ones users get.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import S3Server
from test_s3 import _HeadersMayLagData

import objstore
from objstore.testing import AsyncConformanceSuite


class TestAsyncS3MotoServer(_HeadersMayLagData, AsyncConformanceSuite):
    @pytest.fixture
    def async_store(self, moto_http: S3Server) -> Iterator[objstore.AsyncStore]:
        with moto_http.bucket() as bucket:
            yield objstore.open_async(
                {
                    "backend": "s3",
                    "s3": {
                        "bucket": bucket,
                        "endpoint_url": moto_http.endpoint_url,
                        "region": moto_http.region,
                        "access_key_id": moto_http.access_key_id,
                        "secret_access_key": moto_http.secret_access_key,
                    },
                    "max_workers": 4,  # docs/async.md: lag grows with the pool
                }
            )
