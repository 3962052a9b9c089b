"""``objstore serve``: the ASGI app on uvicorn, one log line per request."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from .. import _defaults
from .._async_store import AsyncStore
from ..errors import ConfigError
from ._asgi import AsgiApp, Message, Receive, Scope, Send

log = logging.getLogger("objstore.server")


def serve(
    store: AsyncStore, host: str = _defaults.SERVE_HOST, port: int = _defaults.SERVE_PORT
) -> None:
    """Serve ``store``'s signed URLs over HTTP until SIGINT or SIGTERM.

    Runs :func:`asgi_app` on uvicorn (``objstore[server]``) and logs one line per
    request on logger ``objstore.server`` (method, path without the query, which
    holds the signature, status, bytes, seconds). A signal stops it gracefully:
    requests in flight finish, then it returns. The caller closes the store.

    Args:
        store: The store to serve; its section sets ``base_url`` and ``signing_key``.
        host: The address to listen on.
        port: The port to listen on; ``0`` picks a free one (the log says which).

    Raises:
        ConfigError: uvicorn is missing, the store has no signed URLs, or the
            address cannot be listened on.
    """
    app = AsgiApp(store)
    uvicorn = _uvicorn()
    listener = _listen(host, port)
    config = uvicorn.Config(
        _AccessLog(app), log_config=None, access_log=False, lifespan="off", server_header=False
    )
    server = uvicorn.Server(config)
    bound = listener.getsockname()
    settings = app.router.settings
    log.info(
        "serving the signed URLs of %s (base_url %s) on http://%s:%d%s/",
        settings.section,
        settings.base_url,
        host if ":" not in host else f"[{host}]",
        bound[1],
        settings.base_path,
    )
    with _signals_end_quietly() as caught:
        server.run(sockets=[listener])
    log.info("stopped%s", f" ({caught[0]})" if caught else "")


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError:
        raise ConfigError("serving signed URLs needs uvicorn: install objstore[server]") from None
    return uvicorn


def _listen(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        listener = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return listener


@contextlib.contextmanager
def _signals_end_quietly() -> Iterator[list[str]]:
    """Let SIGINT and SIGTERM end the server without ending the process.

    uvicorn stops gracefully on both, then raises the signal again for the
    handlers it found; these handlers only note it (in the list yielded), so
    ``serve`` returns.
    """
    caught: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {
        sig: signal.signal(sig, lambda signum, frame: caught.append(signal.Signals(signum).name))
        for sig in handled
    }
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _AccessLog:
    """One log line per request, written when its answer is complete."""

    def __init__(self, app: AsgiApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        answer = {"status": 0, "bytes": 0}

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            client = scope.get("client") or ("-", 0)
            # raw_path is percent-encoded ASCII: no line break can forge a log line
            path = bytes(scope.get("raw_path") or b"?").decode("latin-1")
            log.info(
                '%s "%s %s" %d %d %.3fs',
                client[0],
                scope["method"],
                path,
                answer["status"] or 500,
                answer["bytes"],
                time.perf_counter() - began,
            )
