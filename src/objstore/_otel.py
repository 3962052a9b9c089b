"""OpenTelemetry for objstore, through the API package only (``objstore[otel]``).

objstore never imports OpenTelemetry itself: it uses it only once the
application has imported ``opentelemetry.trace`` or ``opentelemetry.metrics``
*and* installed a tracer or meter provider (an SDK, or a distribution such as
``opentelemetry-instrument``). Until then :func:`active` is one dictionary
lookup (a few when the application imported the API without configuring it),
and nothing else runs.

What it records:

- a span ``objstore.<op>`` (kind INTERNAL) per operation, current while the
  operation runs, so spans started below it (the native S3 transport's
  requests, a user's own) are its children; attributes ``objstore.key``,
  ``objstore.bytes``, ``objstore.outcome``, ``objstore.attempts``,
  ``objstore.backend``, and per operation ``objstore.items`` (``list``),
  ``objstore.keys`` (``delete_many``) and ``objstore.source_key`` (``copy``);
  status ERROR and ``error.type`` (the error's class name) on failure. Never
  the error's message or traceback: a server's answer may be quoted there.
- two instruments on meter ``objstore``: ``objstore.operation.duration`` (a
  histogram, seconds) and ``objstore.operation.bytes`` (a counter, bytes), both
  by ``objstore.op``, ``objstore.backend`` and ``objstore.outcome``.
- :func:`request_span`: the CLIENT span of one HTTP request, following the
  semantic conventions for AWS S3, for a transport to wrap each attempt in.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context.context import Context
    from opentelemetry.trace import Span

    from ._events import Event

_MODULES = sys.modules
_OK = "ok"
# seconds: from a cached local read (tens of microseconds) to a slow multi-gigabyte upload
DURATION_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip


class _State:
    """What has been found out about the process's OpenTelemetry."""

    on = False  # configured: a provider, once set, cannot be unset
    api: Any = None  # the API's modules holding the providers, once the application imported it
    idle: tuple[object, ...] = ()  # providers set that record nothing (no-op providers)
    tracer: Any = None
    duration: Any = None
    transferred: Any = None


class _Unknown:
    """Stands for the API's modules when their globals are not where this file expects
    them (another API version): every look then goes to the public getters."""

    _TRACER_PROVIDER = _METER_PROVIDER = True


_state = _State()
_setup = threading.Lock()
_TRACE = "opentelemetry.trace"
_METRICS = "opentelemetry.metrics._internal"  # where the meter provider is kept


def active() -> bool:
    """Whether the application has configured OpenTelemetry (tracing or metrics)."""
    if _state.on:
        return True
    api: Any = _state.api
    trace: Any = _MODULES.get(_TRACE)
    metrics: Any = _MODULES.get(_METRICS)
    if api is None or trace is not api[0] or metrics is not api[1]:
        # first time, or the API's modules were imported again (a test runner may drop
        # and re-import modules): look again rather than read a stale module's globals
        if "opentelemetry" not in _MODULES:
            return False  # the application has not even imported it: nothing to ask
        return _first_look()
    # the API's globals that hold the providers once set: two reads, no call
    tracer_provider, meter_provider = trace._TRACER_PROVIDER, metrics._METER_PROVIDER
    idle = _state.idle
    if (tracer_provider is None or tracer_provider in idle) and (
        meter_provider is None or meter_provider in idle
    ):
        return False
    return _configured()


def _first_look() -> bool:
    """Find the API's modules; ask the public getters once, which also load a provider
    named by the environment (``OTEL_PYTHON_TRACER_PROVIDER``)."""
    trace, metrics = importlib.import_module(_TRACE), importlib.import_module(_METRICS)
    expected = hasattr(trace, "_TRACER_PROVIDER") and hasattr(metrics, "_METER_PROVIDER")
    _state.api = (trace, metrics) if expected else (_Unknown, _Unknown)
    return _configured()


def _configured() -> bool:
    # by their full names, from sys.modules: a package's attribute may still name a
    # submodule that was dropped and imported again
    trace = importlib.import_module("opentelemetry.trace")
    metrics = importlib.import_module("opentelemetry.metrics")

    # the API's placeholders until a provider is set, and its no-op providers (set to
    # turn OpenTelemetry off) record nothing: no need to pay for spans and metrics
    tracer_provider, meter_provider = trace.get_tracer_provider(), metrics.get_meter_provider()
    tracing = not isinstance(tracer_provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))
    metering = not isinstance(meter_provider, metrics.NoOpMeterProvider) and (
        type(meter_provider).__name__ != "_ProxyMeterProvider"  # private: known by its name
    )
    if not (tracing or metering):
        _state.idle = (tracer_provider, meter_provider)  # set once: the answer stays
        return False
    with _setup:
        if not _state.on:
            _instruments(metrics, trace)
    return True


def _instruments(metrics: Any, trace: Any) -> None:
    meter = metrics.get_meter("objstore", __version__)
    _state.duration = meter.create_histogram(
        "objstore.operation.duration",
        unit="s",
        description="Duration of objstore operations",
        explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
    )
    _state.transferred = meter.create_counter(
        "objstore.operation.bytes", unit="By", description="Object bytes moved by operations"
    )
    _state.tracer = trace.get_tracer("objstore", __version__)
    _state.on = True


# -- one span per operation ------------------------------------------------------------------


def start_span(op: str, key: str | None, backend: str) -> Span:
    """Start the INTERNAL span of one operation (not yet current)."""
    from opentelemetry.trace import SpanKind

    attributes = {"objstore.backend": backend}
    if key is not None:
        attributes["objstore.key"] = key
    span: Span = _state.tracer.start_span(
        f"objstore.{op}", kind=SpanKind.INTERNAL, attributes=attributes
    )
    return span


def attach(span: Span) -> Token[Context]:
    """Make ``span`` the current span (until :func:`detach`)."""
    from opentelemetry import context, trace

    return context.attach(trace.set_span_in_context(span))


def detach(token: Token[Context]) -> None:
    from opentelemetry import context

    context.detach(token)


def finish(span: Span | None, event: Event, detail: Mapping[str, str | int]) -> None:
    """End the operation's span with its outcome, and count it in the metrics."""
    labels = {"objstore.op": event.op, "objstore.backend": event.backend,
              "objstore.outcome": event.outcome}  # fmt: skip
    _state.duration.record(event.seconds, labels)
    _state.transferred.add(event.bytes, labels)
    if span is None:
        return
    span.set_attributes(
        {
            "objstore.bytes": event.bytes,
            "objstore.outcome": event.outcome,
            "objstore.attempts": event.attempts,
            **{f"objstore.{name}": value for name, value in detail.items()},
        }
    )
    if event.outcome != _OK:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("error.type", event.outcome)
        span.set_status(Status(StatusCode.ERROR, event.outcome))
    span.end()


# -- one CLIENT span per HTTP request ----------------------------------------------------------


class RequestSpan:
    """The CLIENT span of one HTTP request to S3; see :func:`request_span`."""

    def __init__(self, name: str, attributes: dict[str, str | int]):
        self._name = name
        self._attributes = attributes
        self._span: Span | None = None
        self._token: Token[Context] | None = None

    def __enter__(self) -> RequestSpan:
        from opentelemetry.trace import SpanKind

        self._span = _state.tracer.start_span(
            self._name, kind=SpanKind.CLIENT, attributes=self._attributes
        )
        self._token = attach(self._span)
        return self

    def answered(self, status: int) -> None:
        """Record the HTTP status of the answer (4xx and 5xx mark the span as an error)."""
        span = self._span
        if span is None:
            return
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            self._error(str(status))

    def __exit__(self, kind: type[BaseException] | None, exc: object, tb: object) -> None:
        span, token = self._span, self._token
        if span is None or token is None:
            return
        if kind is not None:
            self._error(kind.__qualname__)
        detach(token)
        span.end()

    def _error(self, error_type: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        assert self._span is not None
        self._span.set_attribute("error.type", error_type)
        self._span.set_status(Status(StatusCode.ERROR))


class _NoSpan:
    """What :func:`request_span` gives while OpenTelemetry is not configured."""

    def __enter__(self) -> _NoSpan:
        return self

    def answered(self, status: int) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


_NO_SPAN = _NoSpan()


def request_span(
    method: str,
    path: str,
    *,
    bucket: str | None,
    key: str | None = None,
    upload_id: str | None = None,
    part_number: int | None = None,
    operation: str | None = None,
    attempt: int = 1,
    server_address: str | None = None,
    server_port: int | None = None,
) -> RequestSpan | _NoSpan:
    """The CLIENT span of one attempt of one HTTP request to S3, as a context manager.

    Wrap each attempt (a retry is a new span, with ``http.request.resend_count``);
    call ``answered(status)`` once the status line is in. An exception leaving the
    block marks the span as an error with the exception's class name. Inside an
    objstore operation the span is a child of the operation's span. Without a
    configured OpenTelemetry this returns a shared object that does nothing.

    Args:
        method: The HTTP method.
        path: The request's path; anything from ``?`` on is dropped, so a
            signature in a query string never reaches a span.
        bucket: ``aws.s3.bucket``.
        key: ``aws.s3.key``, the object's full key in the bucket.
        upload_id: ``aws.s3.upload_id`` of a multipart upload's requests.
        part_number: ``aws.s3.part_number`` of an UploadPart(Copy).
        operation: The S3 API operation (``"GetObject"``): ``rpc.method``, and the
            span's name ``S3.<operation>`` (else the span is named by ``method``).
        attempt: 1 for the first attempt, 2 for the first retry...
        server_address: ``server.address``, the host name.
        server_port: ``server.port``.
    """
    if not active():
        return _NO_SPAN
    attributes: dict[str, str | int] = {
        "rpc.system": "aws-api",
        "rpc.service": "S3",
        "http.request.method": method,
        "url.path": path.split("?", 1)[0],
    }
    optional = {
        "rpc.method": operation, "aws.s3.bucket": bucket, "aws.s3.key": key,
        "aws.s3.upload_id": upload_id, "aws.s3.part_number": part_number,
        "server.address": server_address, "server.port": server_port,
        "http.request.resend_count": attempt - 1 if attempt > 1 else None,
    }  # fmt: skip
    attributes.update({name: value for name, value in optional.items() if value is not None})
    return RequestSpan(f"S3.{operation}" if operation else method, attributes)
