"""The observability example: its console output has the spans, metrics and log lines.

It runs in a child process: it installs OpenTelemetry's providers, which a
process can do only once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the test extra has opentelemetry-sdk")

ROOT = Path(__file__).resolve().parents[2]

CLIENT = """
import asyncio, httpx, objstore
from examples.fastapi_otel import create_app

async def main():
    app = create_app(lambda: objstore.open_async("memory://"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.put("/objects/photos/cat.jpg", content=b"meow")).status_code == 201
            assert (await client.get("/objects/photos/cat.jpg")).content == b"meow"
            assert (await client.get("/objects/photos/dog.jpg")).status_code == 404
            print("STATS", (await client.get("/stats")).json(), flush=True)

asyncio.run(main())
"""


def json_objects(text: str) -> list[Any]:
    """The JSON documents printed one after another (the console exporters' format)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (start := text.find("{", at)) != -1:
        try:
            value, at = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            at = start + 1
            continue
        found.append(value)
    return found


def ancestors(span: dict[str, Any], printed: list[Any]) -> list[str]:
    """The names of the spans above ``span`` (FastAPI may add spans of its own between)."""
    by_id = {s["context"]["span_id"]: s for s in printed if "context" in s}
    names = []
    while (parent := by_id.get(span["parent_id"])) is not None:
        names.append(parent["name"])
        span = parent
    return names


def test_the_example_prints_spans_metrics_and_log_lines() -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CLIENT)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    stats = next(line for line in result.stdout.splitlines() if line.startswith("STATS"))
    assert stats == "STATS {'put ok': 1, 'get ok': 1, 'get NotFoundError': 1}"
    printed = json_objects(result.stdout)
    spans = {s["name"]: s for s in printed if "context" in s and "name" in s}
    put = spans["objstore.put"]
    assert put["kind"] == "SpanKind.INTERNAL"
    assert "PUT /objects/photos/cat.jpg" in ancestors(put, printed)  # the request's span
    assert put["attributes"]["objstore.key"] == "photos/cat.jpg"
    assert put["attributes"]["objstore.bytes"] == 4
    assert spans["objstore.get"]["status"]["status_code"] == "ERROR"  # the last get: 404
    metric_names = {
        metric["name"]
        for document in printed
        for resource in document.get("resource_metrics", [])
        for scope in resource["scope_metrics"]
        for metric in scope["metrics"]
    }
    assert {"objstore.operation.duration", "objstore.operation.bytes"} <= metric_names
    assert "objstore: memory put 'photos/cat.jpg': ok, 4 bytes in" in result.stderr
