"""Real HTTP servers on 127.0.0.1 for the signed-URL apps, and a plain HTTP client.

- :func:`wsgi_server`: the WSGI app on ``wsgiref`` with a thread per request;
- :func:`asgi_server`: the ASGI app on uvicorn, in a thread of the test process;
- :func:`request`: one request with ``http.client``, which sends the target
  exactly as given (no normalisation of ``..``, no re-encoding).

The listening socket is bound first, so the store's ``base_url`` can name the
real port before the app exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import objstore
import objstore.server

SIGNING_KEY = "test-signing-key-0123456789abcdef"


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def request(
    port: int,
    method: str,
    target: str,
    body: bytes | Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    """Send one request to 127.0.0.1:``port``; ``target`` may be a full URL or a path."""
    if target.startswith("http"):
        parts = urlsplit(target)
        target = parts.path + ("?" + parts.query if parts.query else "")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        # the server may answer early and close while the body goes: read its answer
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(method, target, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        data = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        connection.close()


def listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


# -- WSGI -------------------------------------------------------------------------------------


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        # wsgiref invents "text/plain" for a request without Content-Type; real
        # servers (gunicorn, waitress) do not: be one of them.
        if self.headers.get("content-type") is None:
            environ.pop("CONTENT_TYPE", None)
        return environ


@contextlib.contextmanager
def wsgi_server(make_app: Callable[[int], Any]) -> Iterator[int]:
    """Serve ``make_app(port)`` on a threaded wsgiref server; yield the port."""
    server = _ThreadingWSGIServer(("127.0.0.1", 0), _QuietHandler)
    port = int(server.server_address[1])
    server.set_app(make_app(port))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- ASGI -------------------------------------------------------------------------------------


@contextlib.contextmanager
def asgi_server(make_app: Callable[[int], Any]) -> Iterator[int]:
    """Serve ``make_app(port)`` on uvicorn in a thread; yield the port."""
    import uvicorn

    sock = listening_socket()
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(make_app(port), log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


# -- a store served both ways -----------------------------------------------------------------


def file_config(root: str, port: int, **section: Any) -> dict[str, Any]:
    settings = {
        "root": root,
        "base_url": f"http://127.0.0.1:{port}/objstore",
        "signing_key": SIGNING_KEY,
        **section,
    }
    return {"backend": "file", "file": settings}


@dataclass
class Served:
    """A file store served over HTTP by one of the apps.

    Attributes:
        kind: ``"wsgi"`` or ``"asgi"``.
        port: Where the server listens.
        store: A synchronous store with the same configuration, to presign and
            to look behind the server.
    """

    kind: str
    port: int
    store: objstore.Store
    root: str

    def request(
        self,
        method: str,
        target: str,
        body: bytes | Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        answer = request(self.port, method, target, body, headers)
        assert self.root not in answer.body.decode("latin-1"), "an answer names a file path"
        return answer


@contextlib.contextmanager
def serving(kind: str, root: str, **section: Any) -> Iterator[Served]:
    """The file store at ``root`` served by the ``kind`` app (options: its section keys,
    and ``idle_timeout`` for the ASGI app)."""
    idle = section.pop("idle_timeout", None)
    top = {"max_workers": section.pop("max_workers")} if "max_workers" in section else {}
    opened: list[Any] = []

    def wsgi(port: int) -> Any:
        store = objstore.open(file_config(root, port, **section))
        opened.append(store)
        return objstore.server.wsgi_app(store)

    def asgi(port: int) -> Any:
        store = objstore.open_async({**top, **file_config(root, port, **section)})
        opened.append(store)
        extra = {"idle_timeout": idle} if idle is not None else {}
        return objstore.server.asgi_app(store, **extra)

    server = wsgi_server(wsgi) if kind == "wsgi" else asgi_server(asgi)
    with server as port, objstore.open(file_config(root, port, **section)) as store:
        yield Served(kind, port, store, root)
    for each in opened:
        if isinstance(each, objstore.AsyncStore):
            asyncio.run(each.aclose())
        else:
            each.close()


# -- ``objstore serve`` in its own process ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    log: Path
    port: int

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the process; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "objstore", *args]


def objstore_serve(
    config: Path, port: int, log: Path
) -> contextlib.AbstractContextManager[ServeProcess]:
    """Run ``objstore --config CONFIG serve --port PORT`` until it announces itself."""
    command = serve_command("--config", str(config), "serve", "--port", str(port))
    return serve_process(command, port, log)


@contextlib.contextmanager
def serve_process(command: list[str], port: int, log: Path) -> Iterator[ServeProcess]:
    """Run a server process until its log says "serving the signed URLs"; stop it after."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)  # fmt: skip
    served = ServeProcess(process, log, port)
    try:
        deadline = time.monotonic() + 60
        while "serving the signed URLs" not in served.log_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"objstore serve did not start:\n{served.log_text()}")
            time.sleep(0.05)
        yield served
    finally:
        served.stop()
