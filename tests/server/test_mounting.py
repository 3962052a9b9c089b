"""The apps mounted under a path inside other applications: Flask (WSGI), FastAPI (ASGI).

The full path, mount point included, must start with ``base_url``'s path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from signed_servers import SIGNING_KEY, asgi_server, request, wsgi_server

import objstore
import objstore.server


def config(root: Path, port: int, path: str) -> dict[str, Any]:
    section = {"root": str(root), "base_url": f"http://127.0.0.1:{port}{path}",
               "signing_key": SIGNING_KEY}  # fmt: skip
    return {"backend": "file", "file": section}


def flask_app(root: Path, port: int, path: str) -> Any:
    from flask import Flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    app = Flask("host")
    app.add_url_rule("/hello", "hello", lambda: "the host app")
    store = objstore.open(config(root, port, path))
    app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, {"/storage": objstore.server.wsgi_app(store)}
    )
    return app


def fastapi_app(root: Path, port: int, path: str) -> Any:
    from fastapi import FastAPI

    app = FastAPI()
    app.get("/hello")(lambda: "the host app")
    app.mount("/storage", objstore.server.asgi_app(objstore.open_async(config(root, port, path))))
    return app


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_mounted_under_the_base_path(kind: str, tmp_path: Path) -> None:
    make = flask_app if kind == "flask" else fastapi_app
    server = wsgi_server if kind == "flask" else asgi_server
    with server(lambda port: make(tmp_path, port, "/storage")) as port:
        store = objstore.open(config(tmp_path, port, "/storage"))
        url = store.presign("a/b.txt", method="PUT")
        assert url.startswith(f"http://127.0.0.1:{port}/storage/a/b.txt?")
        assert request(port, "PUT", url, b"mounted").status == 200
        assert request(port, "GET", store.presign("a/b.txt")).body == b"mounted"
        assert b"the host app" in request(port, "GET", "/hello").body
    assert (tmp_path / "a" / "b.txt").read_bytes() == b"mounted"


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_a_base_url_that_misses_the_mount_point_is_not_served(kind: str, tmp_path: Path) -> None:
    make = flask_app if kind == "flask" else fastapi_app
    server = wsgi_server if kind == "flask" else asgi_server
    # base_url says /files, but the app only sees requests under /storage
    with server(lambda port: make(tmp_path, port, "/files")) as port:
        store = objstore.open(config(tmp_path, port, "/files"))
        store.put("k", b"v")
        path_and_query = store.presign("k").split(str(port), 1)[1]
        assert request(port, "GET", path_and_query).status == 404
        mounted = "/storage" + path_and_query.removeprefix("/files")
        assert request(port, "GET", mounted).status == 404
