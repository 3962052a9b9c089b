"""Events, log lines and spans of the S3 backend on moto's server.

``tests/faultproxy.py`` sits between the backend and moto and answers chosen
requests with ``503 SlowDown`` itself, so the transport retries them for real.
Both transports report those retries (``attempts``): the native one from its
attempt loop, boto3 through a botocore hook. The native transport also makes a
CLIENT span per HTTP request, a child of the operation's span.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from faultproxy import FaultProxy, matching

import objstore

if TYPE_CHECKING:
    from servers import S3Server
    from telemetry import Telemetry

pytest.importorskip("opentelemetry.sdk", reason="the test extra has opentelemetry-sdk")

from opentelemetry import trace
from opentelemetry.trace import StatusCode

SECRET = "planted-secret-access-key-0123456789ABCDEF"


@pytest.fixture
def proxy(moto_http: S3Server) -> Iterator[FaultProxy]:
    port = urlsplit(moto_http.endpoint_url).port
    assert port is not None
    with FaultProxy(port) as proxy:
        yield proxy


def configuration(
    server: S3Server, bucket: str, proxy: FaultProxy, transport: str
) -> dict[str, Any]:
    """A configuration through the proxy, with a secret key planted (moto accepts any)."""
    return {
        "backend": "s3",
        "s3": {
            "bucket": bucket,
            "endpoint_url": proxy.url,
            "region": server.region,
            "access_key_id": server.access_key_id,
            "secret_access_key": SECRET,
            "addressing_style": "path",
            "transport": transport,
        },
        "retries": {"max_attempts": 3},
    }


@pytest.fixture(params=["native", "boto3"])
def config(
    moto_http: S3Server, proxy: FaultProxy, request: pytest.FixtureRequest
) -> Iterator[dict[str, Any]]:
    """Each transport through the proxy."""
    with moto_http.bucket() as bucket:
        yield configuration(moto_http, bucket, proxy, request.param)


def fired(proxy: FaultProxy, method: str) -> int:
    return sum(1 for line in proxy.fired if line.startswith(f"status {method} "))


def attributes(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


@pytest.mark.parametrize("transport", ["native", "boto3"])
def test_spans_of_s3_operations(
    telemetry: Telemetry, moto_http: S3Server, proxy: FaultProxy, transport: str
) -> None:
    tracer = trace.get_tracer("tests")
    with (
        moto_http.bucket() as bucket,
        objstore.open(configuration(moto_http, bucket, proxy, transport)) as store,
        tracer.start_as_current_span("handler") as outer,
    ):
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
        proxy.arm("status", matching("GET"), times=1)
        assert store.get("k") == b"data"
    assert fired(proxy, "GET") == 1
    assert [(e.op, e.outcome, e.attempts, e.bytes) for e in events] == [("get", "ok", 2, 4)]
    span = telemetry.span("objstore.get")
    assert attributes(span)["objstore.attempts"] == 2
    assert span.status.status_code == StatusCode.UNSET
    if config["s3"]["transport"] == "native":  # a CLIENT span per attempt, child of the get
        first, retry = [s for s in telemetry.spans("S3.GetObject")]
        assert first.kind == trace.SpanKind.CLIENT and retry.kind == trace.SpanKind.CLIENT
        for client in (first, retry):
            assert client.parent is not None and client.parent.span_id == span.context.span_id
            assert attributes(client)["rpc.system"] == "aws-api"
            assert attributes(client)["aws.s3.bucket"] == config["s3"]["bucket"]
            assert attributes(client)["aws.s3.key"] == "k"
        assert attributes(first)["http.response.status_code"] == 503
        assert first.status.status_code == StatusCode.ERROR
        assert attributes(retry)["http.response.status_code"] in (200, 206)
        assert attributes(retry)["http.request.resend_count"] == 1


def test_retries_that_finally_fail_are_a_warning(
    telemetry: Telemetry,
    config: dict[str, Any],
    proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with objstore.open(config) as store:
        store.put("k", b"data")
        proxy.arm("status", matching("HEAD"), times=3)  # max_attempts is 3
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
            proxy.arm("status", matching("HEAD"), times=1)
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
        proxy.arm("status", matching("GET"), times=3)
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
        # the first part (parts go up in threads of the backend's own)
        proxy.arm("status", matching("PUT", "partNumber="), times=1)
        store.put("big", iter([b"x" * (6 << 20)] * 2))
    assert fired(proxy, "PUT") == 1
    assert [(e.op, e.outcome, e.attempts, e.bytes) for e in events] == [("put", "ok", 2, 12 << 20)]
