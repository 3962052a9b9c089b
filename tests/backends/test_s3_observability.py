"""Events, log lines and spans of the S3 backend (boto3 transport) on moto's server.

A small fault-injecting HTTP proxy of this file sits between the backend and
moto and answers chosen requests with ``503 SlowDown`` itself, so botocore
retries them for real; the backend reports those retries (``attempts``).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import http.server
import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest

import objstore

if TYPE_CHECKING:
    from servers import S3Server
    from telemetry import Telemetry

pytest.importorskip("opentelemetry.sdk", reason="the test extra has opentelemetry-sdk")

from opentelemetry import trace
from opentelemetry.trace import StatusCode

SECRET = "planted-secret-access-key-0123456789ABCDEF"
SLOW_DOWN = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
    b"<Message>Please reduce your request rate.</Message></Error>"
)
_HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive", "content-length", "date", "server"}


class FaultProxy(http.server.ThreadingHTTPServer):
    """Forwards each request to ``upstream`` whole, except the next ``count`` requests
    with a method in ``fail``, which it answers ``503 SlowDown`` without forwarding."""

    daemon_threads = True

    def __init__(self, upstream: str):
        super().__init__(("127.0.0.1", 0), _Forward)
        where = urlsplit(upstream)
        self.upstream = (where.hostname or "127.0.0.1", where.port or 80)
        self.failing: dict[str, int] = {}
        self.answered: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def fail(self, method: str, count: int) -> None:
        with self._lock:
            self.failing[method] = count

    def should_fail(self, method: str) -> bool:
        with self._lock:
            if self.failing.get(method, 0) <= 0:
                return False
            self.failing[method] -= 1
            return True


class _Forward(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultProxy

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.server.should_fail(self.command):
            self._answer(503, [("Content-Type", "application/xml")], SLOW_DOWN)
            return
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=30)
        try:
            upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
            answer = upstream.getresponse()
            self._answer(answer.status, answer.getheaders(), answer.read())
        finally:
            upstream.close()

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.server.answered.append((self.command, status))
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def proxy(moto_http: S3Server) -> Iterator[FaultProxy]:
    server = FaultProxy(moto_http.endpoint_url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def config(moto_http: S3Server, proxy: FaultProxy) -> Iterator[dict[str, Any]]:
    """A configuration through the proxy, with a secret key planted (moto accepts any)."""
    with moto_http.bucket() as bucket:
        yield {
            "backend": "s3",
            "s3": {
                "bucket": bucket,
                "endpoint_url": proxy.url,
                "region": moto_http.region,
                "access_key_id": moto_http.access_key_id,
                "secret_access_key": SECRET,
                "addressing_style": "path",
            },
            "retries": {"max_attempts": 3},
        }


def attributes(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_spans_of_s3_operations(telemetry: Telemetry, config: dict[str, Any]) -> None:
    tracer = trace.get_tracer("tests")
    with objstore.open(config) as store, tracer.start_as_current_span("handler") as outer:
        store.put("models/a.bin", b"x" * 10)
        assert store.get("models/a.bin") == b"x" * 10
        with pytest.raises(objstore.NotFoundError):
            store.get("models/missing.bin")
        with pytest.raises(objstore.PreconditionFailedError):
            store.put("models/a.bin", b"y", if_none_match="*")
    put, get, missing, refused = telemetry.spans("objstore.")
    for span in (put, get, missing, refused):
        assert span.parent is not None
        assert span.parent.span_id == outer.get_span_context().span_id
        assert attributes(span)["objstore.backend"] == "s3"
        assert attributes(span)["objstore.attempts"] == 1
    assert (put.name, attributes(put)["objstore.bytes"]) == ("objstore.put", 10)
    assert (get.name, attributes(get)["objstore.outcome"]) == ("objstore.get", "ok")
    assert get.status.status_code == StatusCode.UNSET
    for span, error in ((missing, "NotFoundError"), (refused, "PreconditionFailedError")):
        assert attributes(span)["objstore.outcome"] == error
        assert span.status.status_code == StatusCode.ERROR
        assert span.status.description == error


def test_a_retried_503_counts_two_attempts(
    telemetry: Telemetry, config: dict[str, Any], proxy: FaultProxy
) -> None:
    events: list[objstore.Event] = []
    with objstore.open(config) as store:
        store.put("k", b"data")
        store.subscribe(events.append)
        proxy.fail("GET", 1)
        assert store.get("k") == b"data"
    assert ("GET", 503) in proxy.answered and proxy.answered[-1] == ("GET", 200)
    assert [(e.op, e.outcome, e.attempts, e.bytes) for e in events] == [("get", "ok", 2, 4)]
    span = telemetry.span("objstore.get")
    assert attributes(span)["objstore.attempts"] == 2
    assert span.status.status_code == StatusCode.UNSET


def test_retries_that_finally_fail_are_a_warning(
    telemetry: Telemetry,
    config: dict[str, Any],
    proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with objstore.open(config) as store:
        store.put("k", b"data")
        proxy.fail("HEAD", 3)  # max_attempts is 3
        with caplog.at_level(logging.WARNING, "objstore"), pytest.raises(objstore.UnavailableError):
            store.stat("k")
    assert [r.getMessage() for r in caplog.records if r.name == "objstore"] == [
        "objstore: s3 stat 'k' failed after 3 attempts: UnavailableError"
    ]
    span = telemetry.span("objstore.stat")
    assert attributes(span)["objstore.attempts"] == 3
    assert attributes(span)["error.type"] == "UnavailableError"


def test_async_retries_are_counted_in_the_pool(config: dict[str, Any], proxy: FaultProxy) -> None:
    events: list[objstore.Event] = []

    async def main() -> None:
        async with objstore.open_async(config) as store:
            await store.put("k", b"data")
            store.subscribe(events.append)
            proxy.fail("HEAD", 1)
            await store.stat("k")

    asyncio.run(main())
    assert [(e.op, e.attempts) for e in events] == [("stat", 2)]


def test_no_secret_in_events_logs_or_spans(
    telemetry: Telemetry,
    config: dict[str, Any],
    proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[objstore.Event] = []
    with objstore.open(config) as store, caplog.at_level(logging.DEBUG, logger="objstore"):
        store.subscribe(events.append)
        store.put("k", b"data")
        urls = [store.presign("k"), store.presign("k", method="PUT")]
        proxy.fail("GET", 3)
        with pytest.raises(objstore.UnavailableError):
            store.get("k")
        with contextlib.suppress(objstore.NotFoundError):
            store.stat("missing")
    signatures = [parse_qs(urlsplit(url).query)["X-Amz-Signature"][0] for url in urls]
    logged = [r.getMessage() for r in caplog.records if r.name == "objstore"]
    text = "\n".join([repr(events), *logged, telemetry.everything()])
    assert [e.op for e in events] == ["put", "presign", "presign", "get", "stat"]
    assert len(logged) == 6  # a DEBUG line each, and the WARNING of the failed retries
    for secret in (SECRET, *signatures):
        assert secret not in text


def test_a_retried_part_of_a_multipart_upload_counts(
    config: dict[str, Any], proxy: FaultProxy
) -> None:
    config["s3"].update(multipart_threshold="5MiB", part_size="5MiB")
    events: list[objstore.Event] = []
    with objstore.open(config) as store:
        store.subscribe(events.append)
        proxy.fail("PUT", 1)  # the first part (parts go up in threads of the backend's own)
        store.put("big", iter([b"x" * (6 << 20)] * 2))
    assert ("PUT", 503) in proxy.answered
    assert [(e.op, e.outcome, e.attempts, e.bytes) for e in events] == [("put", "ok", 2, 12 << 20)]
