"""OpenTelemetry: a span and metrics per operation, and CLIENT spans per HTTP request.

The SDK's in-memory exporters (tests/telemetry.py) receive what objstore records
through the API package. The CLIENT spans come from a backend of this file that
talks real HTTP to a server on 127.0.0.1 the way the native S3 transport does,
through :func:`objstore._otel.request_span`.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import http.server
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

import objstore
from objstore._otel import request_span
from objstore.backend import note_retry
from objstore.backends.memory import MemoryBackend

if TYPE_CHECKING:
    from telemetry import Telemetry

pytest.importorskip("opentelemetry.sdk", reason="the test extra has opentelemetry-sdk")

from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode


def attributes(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_each_operation_is_an_internal_span(telemetry: Telemetry) -> None:
    with objstore.open("memory://") as store:
        store.put("photos/cat.jpg", b"12345")
        assert store.get("photos/cat.jpg") == b"12345"
        with pytest.raises(objstore.NotFoundError):
            store.stat("missing")
        with pytest.raises(objstore.PreconditionFailedError):
            store.put("photos/cat.jpg", b"x", if_match="not-the-etag")
    put, get, stat, refused = telemetry.spans("objstore.")
    assert [s.name for s in (put, get, stat, refused)] == [
        "objstore.put", "objstore.get", "objstore.stat", "objstore.put",
    ]  # fmt: skip
    assert {s.kind for s in (put, get, stat, refused)} == {SpanKind.INTERNAL}
    assert attributes(get) == {
        "objstore.key": "photos/cat.jpg",
        "objstore.backend": "memory",
        "objstore.bytes": 5,
        "objstore.outcome": "ok",
        "objstore.attempts": 1,
    }
    assert get.status.status_code == StatusCode.UNSET
    for span, error in ((stat, "NotFoundError"), (refused, "PreconditionFailedError")):
        assert span.status.status_code == StatusCode.ERROR
        assert span.status.description == error  # the class, never the message
        assert attributes(span)["error.type"] == error
        assert attributes(span)["objstore.outcome"] == error


def test_an_operation_span_is_a_child_of_the_callers_span(telemetry: Telemetry) -> None:
    tracer = trace.get_tracer("tests")
    with objstore.open("memory://") as store, tracer.start_as_current_span("handler") as outer:
        store.exists("k")
    span = telemetry.span("objstore.exists")
    assert span.parent is not None
    assert span.parent.span_id == outer.get_span_context().span_id


def test_streams_end_their_span_when_closed(telemetry: Telemetry) -> None:
    with objstore.open("memory://") as store:
        for key in ("a/1", "a/2"):
            store.put(key, b"0123456789")
        with contextlib.closing(store.get_stream("a/1", chunk_size=4)) as chunks:
            next(chunks)
            assert telemetry.spans("objstore.get_stream") == []  # still open
        assert len(list(store.list("a/"))) == 2
        store.delete_many(["a/1", "a/2"])
    stream = telemetry.span("objstore.get_stream")
    assert attributes(stream)["objstore.bytes"] == 4
    assert attributes(telemetry.span("objstore.list"))["objstore.items"] == 2
    assert attributes(telemetry.span("objstore.list"))["objstore.key"] == "a/"
    assert attributes(telemetry.span("objstore.delete_many"))["objstore.keys"] == 2


def test_metrics_count_durations_and_bytes(telemetry: Telemetry) -> None:
    with objstore.open("memory://") as store:
        store.put("k", b"x" * 100)
        store.get("k")
        store.get("k", offset=90)
        with pytest.raises(objstore.NotFoundError):
            store.get("missing")
    recorded = telemetry.metrics()
    moved = {
        tuple(sorted(p.attributes.items())): p.value for p in recorded["objstore.operation.bytes"]
    }

    def labels(op: str, outcome: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted({"objstore.op": op, "objstore.backend": "memory",
                             "objstore.outcome": outcome}.items()))  # fmt: skip

    assert moved == {
        labels("put", "ok"): 100,
        labels("get", "ok"): 110,
        labels("get", "NotFoundError"): 0,
    }
    durations = recorded["objstore.operation.duration"]
    counts = {p.attributes["objstore.op"] + "/" + p.attributes["objstore.outcome"]: p.count
              for p in durations}  # fmt: skip
    assert counts == {"put/ok": 1, "get/ok": 2, "get/NotFoundError": 1}


def test_async_operations_are_spans_too(telemetry: Telemetry) -> None:
    async def main() -> None:
        async with objstore.open_async("memory://") as store:
            await store.put("k", b"abc")
            async with store.get_stream("k") as chunks:
                assert [chunk async for chunk in chunks] == [b"abc"]

    asyncio.run(main())
    assert [(s.name, attributes(s)["objstore.bytes"]) for s in telemetry.spans()] == [
        ("objstore.put", 3),
        ("objstore.get_stream", 3),
    ]


# -- CLIENT spans of HTTP requests ------------------------------------------------------------


class Answers(http.server.BaseHTTPRequestHandler):
    """Answers HEAD with the statuses queued on the server, then 200."""

    server: Server

    def do_HEAD(self) -> None:
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.server.seen.append(self.path)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


class Server(http.server.ThreadingHTTPServer):
    statuses: list[int]
    seen: list[str]


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = Server(("127.0.0.1", 0), Answers)
    httpd.statuses, httpd.seen = [], []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


class Probing(MemoryBackend):
    """A memory backend whose ``stat`` first asks an HTTP server, retrying a 503, the way
    the native S3 transport sends a HeadObject: one ``request_span`` per attempt."""

    reports_retries = True

    def __init__(self, port: int):
        super().__init__()
        self.port = port

    def _span(self, key: str, attempt: int) -> Any:
        return request_span(
            "HEAD", f"/bucket/{key}?X-Amz-Signature=planted-signature", bucket="bucket",
            key=key, operation="HeadObject", attempt=attempt, server_address="127.0.0.1",
            server_port=self.port,
        )  # fmt: skip

    def stat(self, key: str) -> objstore.ObjectInfo:
        for attempt in (1, 2, 3):
            if attempt > 1:
                note_retry()
            with self._span(key, attempt) as span:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                try:
                    connection.request("HEAD", f"/bucket/{key}")
                    status = connection.getresponse().status
                finally:
                    connection.close()
                span.answered(status)
            if status < 500:
                break
        return super().stat(key)

    async def astat(self, key: str) -> objstore.ObjectInfo:
        for attempt in (1, 2, 3):
            if attempt > 1:
                note_retry()
            with self._span(key, attempt) as span:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(f"HEAD /bucket/{key} HTTP/1.0\r\n\r\n".encode())
                status = int((await reader.readline()).split()[1])
                writer.close()
                await writer.wait_closed()
                span.answered(status)
            if status < 500:
                break
        return super().stat(key)


class BlockingProbing(Probing):
    """The same as a blocking backend: ``AsyncStore`` calls it in its worker pool."""

    native_async = False
    blocking = True


def check_request_spans(telemetry: Telemetry, events: list[objstore.Event]) -> None:
    operation = telemetry.span("objstore.stat")
    first, second = telemetry.spans("S3.")
    for request in (first, second):
        assert request.kind == SpanKind.CLIENT
        assert request.parent is not None
        assert request.parent.span_id == operation.context.span_id
        assert request.context.trace_id == operation.context.trace_id
    assert attributes(first) == {
        "rpc.system": "aws-api",
        "rpc.service": "S3",
        "rpc.method": "HeadObject",
        "http.request.method": "HEAD",
        "url.path": "/bucket/k",  # the query string (a signature) is dropped
        "aws.s3.bucket": "bucket",
        "aws.s3.key": "k",
        "server.address": "127.0.0.1",
        "server.port": attributes(first)["server.port"],
        "http.response.status_code": 503,
        "error.type": "503",
    }
    assert first.status.status_code == StatusCode.ERROR
    assert attributes(second)["http.response.status_code"] == 200
    assert attributes(second)["http.request.resend_count"] == 1
    assert second.status.status_code == StatusCode.UNSET
    assert attributes(operation)["objstore.attempts"] == 2
    assert [(e.op, e.attempts) for e in events] == [("stat", 2)]


def test_http_requests_are_client_spans_under_the_operation(
    telemetry: Telemetry, server: Server
) -> None:
    backend = Probing(server.server_address[1])
    with objstore.Store(backend) as store:
        store.put("k", b"x")
        telemetry.reset()
        events: list[objstore.Event] = []
        store.subscribe(events.append)
        server.statuses.append(503)
        store.stat("k")
    assert server.seen == ["/bucket/k", "/bucket/k"]
    check_request_spans(telemetry, events)


@pytest.mark.parametrize("backend", [Probing, BlockingProbing], ids=["native", "pool"])
def test_async_http_requests_are_client_spans_under_the_operation(
    telemetry: Telemetry, server: Server, backend: type[Probing]
) -> None:
    events: list[objstore.Event] = []

    async def main() -> None:
        async with objstore.AsyncStore(backend(server.server_address[1])) as store:
            await store.put("k", b"x")
            telemetry.reset()
            store.subscribe(events.append)
            server.statuses.append(503)
            await store.stat("k")

    asyncio.run(main())
    check_request_spans(telemetry, events)


def test_a_request_that_raises_is_an_error_span(telemetry: Telemetry) -> None:
    span_args: dict[str, Any] = {"bucket": "b", "key": "k", "upload_id": "u-1", "part_number": 3}
    with pytest.raises(ConnectionRefusedError), request_span("GET", "/b/k", **span_args):
        raise ConnectionRefusedError("nobody listens")
    (span,) = telemetry.spans()
    assert span.name == "GET"  # no operation name given
    assert span.status.status_code == StatusCode.ERROR
    assert attributes(span)["error.type"] == "ConnectionRefusedError"
    assert attributes(span)["aws.s3.upload_id"] == "u-1"
    assert attributes(span)["aws.s3.part_number"] == 3
    assert "http.request.resend_count" not in attributes(span)


UNCONFIGURED = """
import sys
from opentelemetry import trace  # imported, but no provider: OpenTelemetry is not configured
import objstore
from objstore import _otel
with objstore.open("memory://") as store:
    store.put("k", b"x")
    assert not store._watch.observed(), "an unconfigured OpenTelemetry observes the store"
with _otel.request_span("GET", "/b/k", bucket="b") as span:
    span.answered(200)
assert span is _otel._NO_SPAN
trace.set_tracer_provider(trace.NoOpTracerProvider())  # OpenTelemetry turned off: still quiet
with objstore.open("memory://") as store:
    store.put("k", b"x")
    assert not store._watch.observed(), "a no-op tracer provider observes the store"
assert "opentelemetry.sdk" not in sys.modules
print("quiet")
"""


def test_an_unconfigured_or_no_op_opentelemetry_costs_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(UNCONFIGURED)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.stdout.strip() == "quiet", result.stderr
