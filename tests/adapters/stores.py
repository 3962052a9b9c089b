"""Stores for the adapter tests: memory, a directory, and a bucket on moto's S3 server."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from servers import S3Server

BACKENDS = ["memory", "file", "moto"]


def s3_target(server: S3Server, bucket: str) -> dict[str, Any]:
    """The configuration mapping a user would write for a bucket on ``server``."""
    return {
        "backend": "s3",
        "s3": {
            "bucket": bucket,
            "endpoint_url": server.endpoint_url,
            "region": server.region,
            "access_key_id": server.access_key_id,
            "secret_access_key": server.secret_access_key,
            "provider": server.provider,
        },
    }


@contextlib.contextmanager
def store_target(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str | dict[str, Any]]:
    """A fresh, empty store's target (URL or mapping) on ``backend``."""
    if backend == "memory":
        yield "memory://"
    elif backend == "file":
        yield f"file://{tmp_path / 'store'}"
    else:
        server: S3Server = request.getfixturevalue("moto_http")
        bucket: str = request.getfixturevalue("moto_bucket")
        yield {**s3_target(server, bucket), "prefix": f"test-{uuid.uuid4().hex[:12]}/"}
