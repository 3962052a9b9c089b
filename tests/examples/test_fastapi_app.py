"""The example FastAPI service, through an in-process ASGI client."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

import objstore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from examples.fastapi_app import create_app

MIB = 1 << 20


def run(
    body: Callable[[httpx.AsyncClient], object], open_store: Callable[[], objstore.AsyncStore]
) -> None:
    async def main() -> None:
        app = create_app(open_store)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                await body(client)  # type: ignore[misc]

    asyncio.run(main())


@pytest.fixture(params=["memory", "file"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], objstore.AsyncStore]:
    if request.param == "memory":
        return lambda: objstore.open_async("memory://")
    return lambda: objstore.open_async(f"file://{tmp_path}")


def test_upload_download_and_describe(open_store: Callable[[], objstore.AsyncStore]) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        data = bytes(range(256)) * 20_000  # ~5 MiB

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), 64 * 1024):
                yield data[start : start + 64 * 1024]

        put = await client.put("/objects/photos/cat.jpg", content=chunks())
        assert put.status_code == 201, put.text
        assert put.json()["size"] == len(data)
        assert put.json()["content_type"] == "image/jpeg"
        got = await client.get("/objects/photos/cat.jpg")
        assert got.status_code == 200
        assert got.content == data
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["etag"] == f'"{put.json()["etag"]}"'
        assert int(got.headers["content-length"]) == len(data)
        meta = (await client.get("/metadata/photos/cat.jpg")).json()
        assert meta["etag"] == put.json()["etag"] and meta["size"] == len(data)

    run(body, open_store)


def test_multipart_upload_keeps_type_and_filename(
    open_store: Callable[[], objstore.AsyncStore],
) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        files = {"file": ("Zoë's report.pdf", b"%PDF-1.7 ..." * 1000, "application/pdf")}
        response = await client.post("/files/docs/report.pdf", files=files)
        assert response.status_code == 201, response.text
        info = response.json()
        assert info["content_type"] == "application/pdf"
        assert info["metadata"] == {"filename": "Zoë's report.pdf"}
        assert (await client.get("/objects/docs/report.pdf")).content == b"%PDF-1.7 ..." * 1000

    run(body, open_store)


def test_listing_with_prefix_and_delimiter(open_store: Callable[[], objstore.AsyncStore]) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        for key in ("a/1.txt", "a/2.txt", "a/deep/3.txt", "b.txt"):
            assert (await client.put(f"/objects/{key}", content=b"x")).status_code == 201
        flat = (await client.get("/objects", params={"prefix": "a/"})).json()
        assert [o["key"] for o in flat["objects"]] == ["a/1.txt", "a/2.txt", "a/deep/3.txt"]
        tree = (await client.get("/objects", params={"delimiter": "/"})).json()
        assert tree == {"objects": [tree["objects"][0]], "prefixes": ["a/"]}
        assert tree["objects"][0]["key"] == "b.txt"
        limited = (await client.get("/objects", params={"limit": 2})).json()
        assert len(limited["objects"]) == 2

    run(body, open_store)


def test_errors_are_http_statuses(open_store: Callable[[], objstore.AsyncStore]) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        assert (await client.get("/objects/missing")).status_code == 404
        assert (await client.get("/metadata/missing")).status_code == 404
        assert (await client.put("/objects/bad//key", content=b"x")).status_code == 400
        first = await client.put("/objects/once", content=b"1", headers={"If-None-Match": "*"})
        assert first.status_code == 201
        again = await client.put("/objects/once", content=b"2", headers={"If-None-Match": "*"})
        assert again.status_code == 412
        assert (await client.get("/objects/once")).content == b"1"
        assert (await client.delete("/objects/once")).status_code == 204
        assert (await client.get("/objects/once")).status_code == 404

    run(body, open_store)


def test_empty_object_downloads(open_store: Callable[[], objstore.AsyncStore]) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        await client.put("/objects/empty.txt", content=b"")
        got = await client.get("/objects/empty.txt")
        assert (got.status_code, got.content, got.headers["content-type"]) == (
            200,
            b"",
            "text/plain; charset=utf-8",
        )

    run(body, open_store)
