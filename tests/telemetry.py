"""The OpenTelemetry SDK's in-memory exporters, installed once per test session.

A process can set its tracer and meter providers only once, so the
``telemetry`` fixture (tests/conftest.py) installs them on first use and each
test starts from empty exporters. Spans are recorded only while a test holds
the fixture (a sampler that drops them otherwise), so the thousands of
operations of the tests that follow neither pile up in memory nor pay for the
SDK's spans. Metrics use delta temporality: what a test reads is what happened
since it started.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult


class Switch(Sampler):
    """Records every span while on, none while off."""

    on = False

    def should_sample(
        self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
        attributes: Any = None, *args: Any, **kwargs: Any,
    ) -> SamplingResult:  # fmt: skip
        # the result's attributes become the span's: hand the span's own back
        decision = Decision.RECORD_AND_SAMPLE if self.on else Decision.DROP
        return SamplingResult(decision, attributes if self.on else None)

    def get_description(self) -> str:
        return "Switch"


@dataclass
class Telemetry:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    switch: Switch

    def reset(self) -> None:
        """Start recording, from empty exporters."""
        self.exporter.clear()
        self.reader.get_metrics_data()  # delta temporality: reading empties it
        self.switch.on = True

    def stop(self) -> None:
        self.switch.on = False
        self.exporter.clear()

    def spans(self, prefix: str = "") -> list[ReadableSpan]:
        """Finished spans whose name starts with ``prefix``, in the order they ended."""
        return [s for s in self.exporter.get_finished_spans() if s.name.startswith(prefix)]

    def span(self, name: str) -> ReadableSpan:
        (found,) = [s for s in self.spans() if s.name == name]
        return found

    def metrics(self) -> dict[str, list[Any]]:
        """Each metric's data points since the last reading (which this is)."""
        data = self.reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found

    def everything(self) -> str:
        """Every span's name, attributes, events and status, as one text to search."""
        return "\n".join(
            f"{s.name} {dict(s.attributes or {})} {s.status} {[e.attributes for e in s.events]}"
            for s in self.exporter.get_finished_spans()
        )


def install() -> Telemetry:
    """Install the providers in the API modules that ``sys.modules`` holds now.

    (pytester's in-process runs drop the modules a nested session imported; the
    ``opentelemetry`` package may then still name a dropped submodule, which
    ``from opentelemetry import metrics`` would return: the providers would be set
    where nobody looks.)
    """
    metrics = importlib.import_module("opentelemetry.metrics")
    trace = importlib.import_module("opentelemetry.trace")
    exporter = InMemorySpanExporter()
    switch = Switch()
    tracer_provider = TracerProvider(sampler=switch)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    delta = AggregationTemporality.DELTA
    reader = InMemoryMetricReader(preferred_temporality={Counter: delta, Histogram: delta})
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return Telemetry(exporter, reader, switch)
