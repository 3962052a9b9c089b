"""The cookbook's FastAPI storage module, through an in-process ASGI client, on memory, on a
local directory and on moto's S3 server."""

from __future__ import annotations

import asyncio
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import objstore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from examples.fastapi_app import create_app

Body = Callable[[httpx.AsyncClient], Any]


def run(body: Body, config: Any) -> None:
    async def main() -> None:
        app = create_app(lambda: objstore.open_async(config))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                await body(client)

    asyncio.run(main())


@pytest.fixture(params=["memory", "file", "s3"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        return "memory://"
    if request.param == "file":
        return f"file://{tmp_path}"
    return {"backend": "s3", "s3": request.getfixturevalue("moto_bucket")}


def test_upload_download_and_describe(config: Any) -> None:
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

    run(body, config)


def test_multipart_and_batch_uploads(config: Any) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        files = {"file": ("Zoë's report.pdf", b"%PDF-1.7 ..." * 1000, "application/pdf")}
        response = await client.post("/files/docs/report.pdf", files=files)
        assert response.status_code == 201, response.text
        assert response.json()["content_type"] == "application/pdf"
        assert response.json()["metadata"] == {"filename": "Zoë's report.pdf"}
        assert (await client.get("/objects/docs/report.pdf")).content == b"%PDF-1.7 ..." * 1000

        batch = [("files", (f"p{n}.png", bytes([n]) * 1000, "image/png")) for n in range(6)]
        response = await client.post("/batch/album", files=batch)
        assert response.status_code == 201, response.text
        assert [r["status"] for r in response.json()["results"]] == [201] * 6
        assert (await client.get("/objects/album/p5.png")).content == bytes([5]) * 1000

        mixed = [("files", ("ok.txt", b"x", "text/plain")), ("files", ("..", b"y", "text/plain"))]
        response = await client.post("/batch/mixed", files=mixed)
        assert response.status_code == 207
        assert [r["status"] for r in response.json()["results"]] == [201, 400]

    run(body, config)


def test_listing_pages(config: Any) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        keys = ["a/1.txt", "a/2.txt", "a/deep/3.txt", "b/x.txt", "c.txt", "d.txt", "e.txt"]
        for key in keys:
            assert (await client.put(f"/objects/{key}", content=b"x")).status_code == 201

        async def pages(**params: Any) -> list[list[str]]:
            found, cursor = [], None
            while True:
                query = {**params, **({"cursor": cursor} if cursor else {})}
                page = (await client.get("/objects", params=query)).json()
                found.append([o["key"] for o in page["objects"]] + page["prefixes"])
                if (cursor := page["next_cursor"]) is None:
                    return found

        assert await pages(limit=3) == [keys[:3], keys[3:6], keys[6:]]
        assert await pages(limit=2, delimiter="/") == [["a/", "b/"], ["c.txt", "d.txt"], ["e.txt"]]
        assert await pages(prefix="a/", limit=10) == [["a/1.txt", "a/2.txt", "a/deep/3.txt"]]
        assert (await client.get("/objects", params={"limit": 0})).status_code == 422

    run(body, config)


def test_errors_are_http_statuses(config: Any) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        assert (await client.get("/objects/missing")).status_code == 404
        assert (await client.get("/metadata/missing")).status_code == 404
        assert (await client.put("/objects/bad//key", content=b"x")).status_code == 400
        first = await client.put("/objects/once", content=b"1", headers={"If-None-Match": "*"})
        assert first.status_code == 201
        again = await client.put("/objects/once", content=b"2", headers={"If-None-Match": "*"})
        assert again.status_code == 412
        stale = await client.put("/objects/once", content=b"3", headers={"If-Match": '"stale"'})
        assert stale.status_code == 412
        fresh = {"If-Match": f'"{first.json()["etag"]}"'}
        assert (await client.put("/objects/once", content=b"4", headers=fresh)).status_code == 201
        assert (await client.get("/objects/once")).content == b"4"
        assert (await client.delete("/objects/once")).status_code == 204
        assert (await client.get("/objects/once")).status_code == 404
        assert (await client.put("/objects/n", content=b"1")).status_code == 201
        nested = await client.put("/objects/n/x", content=b"2")  # a file cannot be a directory
        assert nested.status_code == (409 if str(config).startswith("file:") else 201)
        for expires in (0, 7 * 24 * 3600 + 1):
            too = await client.post("/presign/x", params={"expires": expires})
            assert too.status_code == 422

    run(body, config)


def test_empty_object_downloads(config: Any) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        await client.put("/objects/empty.txt", content=b"")
        got = await client.get("/objects/empty.txt")
        assert (got.status_code, got.content, got.headers["content-type"]) == (
            200,
            b"",
            "text/plain; charset=utf-8",
        )

    run(body, config)


def test_unreachable_store_is_503() -> None:
    secret = "never-shown-secret-0123456789"
    config = {
        "backend": "s3",
        "s3": {"bucket": "b", "endpoint_url": "http://127.0.0.1:9", "region": "us-east-1",
               "access_key_id": "k", "secret_access_key": secret, "provider": "other"},
        "retries": {"max_attempts": 1},
        "timeouts": {"connect": 2, "read": 2},
    }  # fmt: skip

    async def body(client: httpx.AsyncClient) -> None:
        response = await client.get("/metadata/anything")
        assert response.status_code == 503, response.text
        assert secret not in response.text

    run(body, config)


def test_presigned_urls_on_s3(moto_bucket: dict[str, Any]) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        put = await client.post(
            "/presign/up/cat.jpg", params={"method": "PUT", "content_type": "image/jpeg"}
        )
        assert put.status_code == 200, put.text
        request = urllib.request.Request(
            put.json()["url"], data=b"meow", method="PUT", headers={"Content-Type": "image/jpeg"}
        )
        await asyncio.to_thread(lambda: urllib.request.urlopen(request).close())
        get = await client.post("/presign/up/cat.jpg", params={"expires": 600})
        fetched = await asyncio.to_thread(lambda: urllib.request.urlopen(get.json()["url"]).read())
        assert fetched == b"meow"

    run(body, {"backend": "s3", "s3": moto_bucket})


def test_presign_without_a_signer_is_501(tmp_path: Path) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        response = await client.post("/presign/x")
        assert response.status_code == 501
        assert "base_url" in response.json()["detail"] or "presign" in response.json()["detail"]

    run(body, f"file://{tmp_path}")
