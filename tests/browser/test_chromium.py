"""A real browser uploads and downloads through signed URLs on another origin.

A page served by the test on ``http://127.0.0.1:<page port>`` fetches a file
from its own origin, ``PUT``s it with ``fetch`` to a signed URL on another origin
and downloads it back; the test checks the bytes on the store and in the page.
Against ``objstore serve`` on the file backend (CORS from ``cors_origins``) and
against moto's S3 server (CORS from the bucket's configuration). The same page
loaded from ``http://localhost:<page port>``, an origin neither allows, is the
control: the browser must refuse to upload from there.

moto's server does answer CORS preflight from the bucket's rules (403 for an
origin they do not allow). But by default it also runs flask-cors over every
answer, which echoes any origin in ``Access-Control-Allow-Origin``: a page on
any origin could then read downloads, and a bucket without CORS rules would
look usable from every page. This module therefore runs its own moto with
``MOTO_DISABLE_GLOBAL_CORS`` set, so that only the bucket's rules answer, as on
S3, and its controls check downloads as well as uploads. moto does not check
presigned signatures at all (docs/s3.md); they are checked on rclone in the S3
suite, and objstore's own signatures by tests/server/.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from chromium import Chromium, chromium, find_chromium
from signed_servers import SIGNING_KEY, free_port, objstore_serve

import objstore

PAYLOAD = os.urandom(3 << 20)
CONTENT_TYPE = "application/octet-stream"

PAGE = b"""<!doctype html>
<title>objstore browser test</title>
<script>
async function roundTrip(putUrl, getUrl, contentType) {
  const payload = await (await fetch("/payload")).blob();
  const file = new File([payload], "model.bin", {type: contentType});
  const result = {};
  try {
    const put = await fetch(putUrl, {method: "PUT", body: file,
                                     headers: {"Content-Type": contentType}});
    result.putStatus = put.status;
    result.etag = put.headers.get("ETag");
    const got = await fetch(getUrl);
    result.getStatus = got.status;
    const blob = await got.blob();
    result.body = await new Promise(resolve => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result.split(",")[1]);
      reader.readAsDataURL(blob);
    });
  } catch (error) {
    result.error = String(error);
  }
  return result;
}

async function download(getUrl) {
  try {
    return {status: (await fetch(getUrl)).status};
  } catch (error) {
    return {error: String(error)};
  }
}
</script>
"""


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body, kind = (PAGE, "text/html") if self.path == "/" else (PAYLOAD, CONTENT_TYPE)
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium here (.ci/run installs Debian's chromium with apt-get)")
    with chromium(binary) as opened:
        yield opened


@pytest.fixture(scope="module")
def page_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def in_page(browser: Chromium, page: str, function: str, *args: str) -> dict[str, Any]:
    """Load ``page`` in a new tab, await ``function(*args)`` there, close the tab."""
    session = browser.open_page(page)
    try:
        result: dict[str, Any] = browser.evaluate(session, f"{function}({json.dumps(args)[1:-1]})")
    finally:
        browser.close_page(session)
    return result


def round_trip(browser: Chromium, page: str, put_url: str, get_url: str) -> dict[str, Any]:
    return in_page(browser, page, "roundTrip", put_url, get_url, CONTENT_TYPE)


def assert_refused(browser: Chromium, page: str, store: objstore.Store, key: str) -> None:
    """From ``page``, neither an upload nor a download of ``key`` gets through."""
    put = store.presign(key, method="PUT", content_type=CONTENT_TYPE)
    result = round_trip(browser, page, put, store.presign(key))
    assert "Failed to fetch" in result.get("error", ""), result
    assert not store.exists(key)
    store.put(key, b"stored behind the page's back")
    result = in_page(browser, page, "download", store.presign(key))
    assert "Failed to fetch" in result.get("error", ""), result


def assert_arrived(result: dict[str, Any]) -> None:
    assert "error" not in result, result.get("error")
    assert (result["putStatus"], result["getStatus"]) == (200, 200)
    assert base64.b64decode(result["body"]) == PAYLOAD  # the bytes in the page


# -- objstore serve on the file backend -------------------------------------------------------


@pytest.fixture(scope="module")
def served_store(
    page_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[objstore.Store, Path]]:
    directory = tmp_path_factory.mktemp("serve")
    port = free_port()
    section = {
        "root": str(directory / "data"),
        "base_url": f"http://127.0.0.1:{port}/files",
        "signing_key": SIGNING_KEY,
        "cors_origins": [f"http://127.0.0.1:{page_port}"],
    }
    config = directory / "objstore.json"
    config.write_text(json.dumps({"backend": "file", "file": section}))
    with objstore_serve(config, port, directory / "serve.log"), objstore.from_config(config) as s:
        yield s, directory / "data"


def test_a_page_uploads_and_downloads_through_objstore_serve(
    browser: Chromium, page_port: int, served_store: tuple[objstore.Store, Path]
) -> None:
    store, root = served_store
    key = "uploads/from the browser.bin"
    put = store.presign(key, method="PUT", content_type=CONTENT_TYPE, expires=300)
    result = round_trip(browser, f"http://127.0.0.1:{page_port}/", put, store.presign(key))
    assert_arrived(result)
    assert (root / key).read_bytes() == PAYLOAD  # the bytes on disk
    assert result["etag"] == f'"{store.stat(key).etag}"'  # exposed to the page by CORS
    assert store.stat(key).content_type == CONTENT_TYPE


def test_an_origin_not_in_cors_origins_cannot_upload(
    browser: Chromium, page_port: int, served_store: tuple[objstore.Store, Path]
) -> None:
    assert_refused(browser, f"http://localhost:{page_port}/", served_store[0], "refused.bin")


# -- moto's S3 server, CORS from the bucket -----------------------------------------------------


@pytest.fixture(scope="module")
def s3_store(
    page_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[objstore.Store, Any, str]]:
    import servers

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOTO_DISABLE_GLOBAL_CORS", "true")  # only the bucket's rules answer
        context = servers.moto_server(tmp_path_factory.mktemp("moto-cors"))
        server = context.__enter__()
    try:
        bucket = server.new_bucket()
        server.client().put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={"CORSRules": [{
                "AllowedOrigins": [f"http://127.0.0.1:{page_port}"],
                "AllowedMethods": ["GET", "HEAD", "PUT"],
                "AllowedHeaders": ["content-type"],
                "ExposeHeaders": ["ETag"],
            }]},
        )  # fmt: skip
        with objstore.Store(server.backend(bucket)) as store:
            yield store, server, bucket
    finally:
        context.__exit__(None, None, None)


def test_a_page_uploads_and_downloads_through_s3_presigned_urls(
    browser: Chromium, page_port: int, s3_store: tuple[objstore.Store, Any, str]
) -> None:
    store, server, bucket = s3_store
    key = "uploads/from the browser.bin"
    put = store.presign(key, method="PUT", content_type=CONTENT_TYPE, expires=300)
    assert "X-Amz-Signature" in put  # a real presigned URL, served by the S3 server
    result = round_trip(browser, f"http://127.0.0.1:{page_port}/", put, store.presign(key))
    assert_arrived(result)
    stored = server.client().get_object(Bucket=bucket, Key=key)
    assert stored["Body"].read() == PAYLOAD  # the bytes in the bucket
    assert result["etag"] == stored["ETag"]


def test_an_origin_the_bucket_does_not_allow_cannot_upload(
    browser: Chromium, page_port: int, s3_store: tuple[objstore.Store, Any, str]
) -> None:
    assert_refused(browser, f"http://localhost:{page_port}/", s3_store[0], "refused.bin")
