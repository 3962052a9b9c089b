"""The ASGI app: signed URLs served from an :class:`~objstore.AsyncStore`.

Every storage call goes through the ``AsyncStore``, so the event loop never
blocks; bodies move a piece at a time both ways, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from .. import _defaults
from .._async_io import AsyncObjectReader
from .._async_store import AsyncStore
from ..errors import NotFoundError, ObjstoreError, PreconditionFailedError
from ._http import (
    CHUNK,
    Body,
    BodyIncomplete,
    BodyTimeout,
    BodyTooLarge,
    Read,
    Reply,
    Request,
    Router,
    UploadFailed,
    Write,
    router_for,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class AsgiApp:
    """An ASGI application serving one store's signed URLs; see :func:`objstore.server.asgi_app`."""

    def __init__(self, store: AsyncStore, *, idle_timeout: float = _defaults.UPLOAD_IDLE_TIMEOUT):
        if not isinstance(store, AsyncStore):
            raise TypeError(
                "asgi_app() takes an AsyncStore (objstore.open_async, from_config_async), "
                f"not {type(store).__name__}"
            )
        self.store = store
        self.router: Router = router_for(store._backend, store._name)
        self.idle_timeout = idle_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:
            await send({"type": "websocket.close", "code": 1003})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = _request(scope)
        plan = self.router.route(request)
        started = _Started(send)
        try:
            if isinstance(plan, Read):
                await self._read(request, plan, receive, started)
                return
            reply = await self._write(request, plan, receive) if isinstance(plan, Write) else plan
        except (ObjstoreError, UploadFailed) as exc:
            if started.done:
                raise  # the answer is on its way: only dropping the connection can tell
            reply = self.router.failed(request, exc)
        await _reply(started, reply)

    async def _read(self, request: Request, plan: Read, receive: Receive, send: _Started) -> None:
        if plan.head:
            body = self.router.read(request, await self.store.stat(plan.key), head=True)
            await _reply(send, Reply(body.status, body.headers, body.text))
            return
        reader = await self.store.open(plan.key)
        try:
            body = self.router.read(request, reader.info, head=False)
            if not body.send:
                await _reply(send, Reply(body.status, body.headers, body.text))
                return
            await reader.seek(body.start)
            await send.start(body.status, body.headers)
            await _stream(reader, body, receive, send)
        finally:
            await reader.aclose()

    async def _write(self, request: Request, plan: Write, receive: Receive) -> Reply:
        if_match = plan.if_match
        if if_match == "*":
            try:
                if_match = (await self.store.stat(plan.key)).etag
            except NotFoundError as exc:
                raise PreconditionFailedError("no object to match", key=plan.key) from exc
        info = await self.store.put(
            plan.key,
            _body_chunks(receive, plan, self.idle_timeout),
            content_type=plan.content_type,
            if_match=if_match,
            if_none_match=plan.if_none_match,
        )
        return self.router.written(request, info)


class _Started:
    """``send``, remembering whether the answer has started."""

    def __init__(self, send: Send):
        self.send = send
        self.done = False

    async def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.done = True
        encoded = [(name.lower().encode("latin-1"), val.encode("latin-1")) for name, val in headers]
        await self.send({"type": "http.response.start", "status": status, "headers": encoded})

    async def body(self, data: bytes, more: bool = False) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": more})


async def _reply(send: _Started, reply: Reply) -> None:
    await send.start(reply.status, reply.headers)
    await send.body(reply.body)


async def _stream(reader: AsyncObjectReader, body: Body, receive: Receive, send: _Started) -> None:
    """Send ``body.length`` bytes; stop early if the client goes away."""
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        remaining = body.length
        while remaining > 0 and not gone.done():
            chunk = await reader.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            await send.body(chunk, more=True)
        await send.body(b"")
    finally:
        gone.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gone


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _body_chunks(receive: Receive, plan: Write, idle_timeout: float) -> AsyncIterator[bytes]:
    """The request body, checked: raising here makes ``put`` store nothing.

    The server's pieces are small (64 KiB on uvicorn); they are gathered into
    pieces of ``CHUNK`` so that each costs the worker one trip, not sixteen.
    """
    received = 0
    more = True
    gathered = bytearray()
    while more:
        try:
            message = await asyncio.wait_for(receive(), idle_timeout)
        except TimeoutError:
            raise BodyTimeout() from None
        if message["type"] == "http.disconnect":
            raise BodyIncomplete()
        gathered += message.get("body", b"")
        more = bool(message.get("more_body", False))
        received += len(message.get("body", b""))
        if received > plan.limit:
            raise BodyTooLarge()
        if plan.length is not None and not more and received != plan.length:
            raise BodyIncomplete()
        if len(gathered) >= CHUNK or (gathered and not more):
            yield bytes(gathered)
            gathered.clear()


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _request(scope: Scope) -> Request:
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and not path.startswith(root):
        path = root + path  # a server that strips the mount point from path (older ASGI)
    raw = scope.get("raw_path")
    if raw is not None and not _is_utf8(unquote_to_bytes(raw)):
        path = None  # the server replaced undecodable bytes; no key has them
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        text_name, text = name.decode("latin-1").lower(), value.decode("latin-1")
        headers[text_name] = f"{headers[text_name]},{text}" if text_name in headers else text
    query = scope.get("query_string", b"").decode("latin-1")
    return Request(scope["method"].upper(), path, query, headers)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
