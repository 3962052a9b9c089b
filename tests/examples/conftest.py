"""Configurations the cookbook's tests run on: a local directory and moto's S3 server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


def s3_section(server: Any, bucket: str) -> dict[str, Any]:
    """The ``s3:`` section of a configuration for a bucket of a tests/servers.py server."""
    return {
        "bucket": bucket,
        "endpoint_url": server.endpoint_url,
        "region": server.region,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
        "provider": server.provider,
    }


@pytest.fixture
def moto_bucket(moto_http: Any) -> Iterator[dict[str, Any]]:
    """The ``s3:`` section of a fresh bucket on moto's server, removed afterwards."""
    with moto_http.bucket() as bucket:
        yield s3_section(moto_http, bucket)
