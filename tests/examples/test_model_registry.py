"""The model registry example, over real HTTP, on the file backend and on moto's S3 server.

The same app and the same test run on both: only the ``storage:`` block of the
app's YAML differs. Every upload and download goes to the URL the registry
hands out — its own ``/storage`` mount on file, moto itself on S3.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml
from signed_servers import SIGNING_KEY, asgi_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from examples.model_registry.app import create_app

if TYPE_CHECKING:
    from servers import S3Server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "model_registry" / "registry.yaml"


def configure(tmp_path: Path, storage: dict[str, Any]) -> Path:
    """The example's YAML with its storage block replaced (the registry block kept)."""
    config = yaml.safe_load(EXAMPLE.read_text())
    config["storage"] = storage
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(params=["file", "s3"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The registry's base URL, and where the file backend keeps its objects."""
    root = tmp_path / "data"

    def make_app(port: int) -> Any:
        if request.param == "file":
            storage = {"backend": "file", "file": {
                "root": str(root), "base_url": f"http://127.0.0.1:{port}/storage",
                "signing_key": SIGNING_KEY}}  # fmt: skip
        else:
            server: S3Server = request.getfixturevalue("moto_http")
            storage = {"backend": "s3", "s3": {
                "bucket": server.new_bucket(), "prefix": "registry/",
                "endpoint_url": server.endpoint_url, "region": server.region,
                "access_key_id": server.access_key_id,
                "secret_access_key": server.secret_access_key,
                "addressing_style": "path"}}  # fmt: skip
        return create_app(configure(tmp_path, storage))

    with asgi_server(make_app) as port:
        yield f"http://127.0.0.1:{port}", root


def test_upload_confirm_list_download(registry: tuple[str, Path]) -> None:
    base, root = registry
    data = os.urandom(1 << 20)
    with httpx.Client(base_url=base, timeout=60) as api:
        wanted = {"filename": "resnet.onnx", "content_type": "application/onnx"}
        ticket = api.post("/models/resnet/versions/1.0.0/upload", json=wanted)
        assert ticket.status_code == 200, ticket.text
        upload = ticket.json()
        assert upload["method"] == "PUT" and upload["expires_in"] == 900
        put = httpx.put(upload["url"], content=data, headers=upload["headers"])
        assert put.status_code == 200, put.text

        confirmed = api.post("/models/resnet/versions/1.0.0/confirm")
        assert confirmed.status_code == 201, confirmed.text
        record = confirmed.json()
        assert (record["size"], record["filename"]) == (len(data), "resnet.onnx")
        assert record["content_type"] == "application/onnx"
        assert put.headers["etag"].strip('"') == record["etag"]

        assert api.get("/models").json() == [record]
        link = api.get("/models/resnet/versions/1.0.0/download").json()
        assert link["method"] == "GET" and link["expires_in"] == 3600
        got = httpx.get(link["url"])
        assert got.status_code == 200 and got.content == data

        # a version is registered once; an unconfirmed or unknown one has no URL
        assert api.post("/models/resnet/versions/1.0.0/upload", json={}).status_code == 409
        assert api.post("/models/resnet/versions/1.0.0/confirm").status_code == 409
        assert api.get("/models/resnet/versions/2.0.0/download").status_code == 404
    if root.exists():  # the file backend: the model is a plain file
        assert (root / "models" / "resnet" / "1.0.0" / "model").read_bytes() == data


def test_confirming_without_an_upload_is_404(registry: tuple[str, Path]) -> None:
    base, _ = registry
    with httpx.Client(base_url=base, timeout=60) as api:
        assert api.post("/models/vit/versions/0.1/upload", json={}).status_code == 200
        assert api.post("/models/vit/versions/0.1/confirm").status_code == 404
        assert api.post("/models/vit/versions/0.2/confirm").status_code == 404
        assert api.get("/models").json() == []
        assert api.post("/models/Bad Name/versions/1/upload", json={}).status_code == 422
