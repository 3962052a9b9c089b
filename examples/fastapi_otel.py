"""objstore's logs, events and OpenTelemetry in a FastAPI service, printed to the console.

What it shows (docs/observability.md explains each part):

- logging: one DEBUG line per storage operation on logger ``objstore``;
- events: ``store.subscribe`` feeding the service's own counters (``GET /stats``);
- OpenTelemetry: the SDK with console exporters; each request is a SERVER span
  and the storage operations it makes are ``objstore.<op>`` spans below it;
  objstore's duration histogram and bytes counter are printed at shutdown.

Run it::

    pip install "objstore[otel]" opentelemetry-sdk fastapi uvicorn
    OBJSTORE_URL=memory:// uvicorn examples.fastapi_otel:app

    curl -T cat.jpg http://127.0.0.1:8000/objects/photos/cat.jpg
    curl http://127.0.0.1:8000/objects/photos/cat.jpg -o copy.jpg
    curl http://127.0.0.1:8000/stats

The middleware below makes each request a span for any FastAPI version; recent
FastAPI versions, or ``opentelemetry-instrumentation-fastapi``, add spans of
their own, and objstore's spans then sit below theirs.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

import objstore


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("objstore").setLevel(logging.DEBUG)  # one line per operation


def setup_telemetry() -> tuple[TracerProvider, MeterProvider]:
    """The SDK, exporting to the console; in production, an OTLP exporter instead."""
    resource = Resource.create({"service.name": "photos"})
    tracing = TracerProvider(resource=resource)
    tracing.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(tracing)
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=60_000)
    metering = MeterProvider(resource=resource, metric_readers=[reader])
    metrics.set_meter_provider(metering)
    return tracing, metering


def create_app(open_store: Callable[[], objstore.AsyncStore] = objstore.from_env_async) -> FastAPI:
    """Build the service; ``open_store`` is called once at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_logging()
        tracing, metering = setup_telemetry()
        app.state.operations = Counter()
        app.state.store = open_store()

        def count(event: objstore.Event) -> None:
            app.state.operations[f"{event.op} {event.outcome}"] += 1

        app.state.store.subscribe(count)
        try:
            yield
        finally:
            await app.state.store.aclose()
            metering.shutdown()  # prints the metrics one last time
            tracing.shutdown()  # flushes the spans

    app = FastAPI(title="objstore observability example", lifespan=lifespan)
    tracer = trace.get_tracer("photos")

    @app.middleware("http")
    async def request_span(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        name = f"{request.method} {request.url.path}"
        with tracer.start_as_current_span(name, kind=trace.SpanKind.SERVER):
            return await call_next(request)

    @app.exception_handler(objstore.NotFoundError)
    async def not_found(request: Request, exc: objstore.NotFoundError) -> JSONResponse:
        return JSONResponse({"error": "NotFoundError", "key": exc.key}, 404)

    @app.put("/objects/{key:path}", status_code=201)
    async def upload(key: str, request: Request) -> dict[str, Any]:
        info = await request.app.state.store.put(key, request.stream())
        return {"key": info.key, "size": info.size, "etag": info.etag}

    @app.get("/objects/{key:path}")
    async def download(key: str, request: Request) -> Response:
        data = await request.app.state.store.get(key)
        return Response(data, media_type="application/octet-stream")

    @app.get("/stats")
    async def stats(request: Request) -> dict[str, int]:
        return dict(request.app.state.operations)

    return app


app = create_app()
