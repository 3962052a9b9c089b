"""The WSGI app: signed URLs served from a synchronous :class:`~objstore.Store`."""

from __future__ import annotations

import http
from collections.abc import Iterable, Iterator
from typing import IO
from wsgiref.types import StartResponse, WSGIEnvironment

from .._reader import ObjectReader
from .._store import Store
from ..errors import NotFoundError, ObjstoreError, PreconditionFailedError
from ._http import (
    CHUNK,
    Body,
    BodyIncomplete,
    BodyTooLarge,
    Read,
    Reply,
    Request,
    Router,
    UploadFailed,
    Write,
    router_for,
)


class WsgiApp:
    """A WSGI application serving one store's signed URLs; see :func:`objstore.server.wsgi_app`."""

    def __init__(self, store: Store):
        if not isinstance(store, Store):
            raise TypeError(
                f"wsgi_app() takes a Store (objstore.open, from_config), not {type(store).__name__}"
            )
        self.store = store
        self.router: Router = router_for(store._backend, store._name)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = _request(environ)
        plan = self.router.route(request)
        try:
            if isinstance(plan, Read):
                return self._read(request, plan, start_response)
            if isinstance(plan, Write):
                return self._write(request, plan, environ, start_response)
        except (ObjstoreError, UploadFailed) as exc:
            plan = self.router.failed(request, exc)
        return _send(start_response, plan)

    def _read(self, request: Request, plan: Read, start_response: StartResponse) -> Iterable[bytes]:
        if plan.head:
            body = self.router.read(request, self.store.stat(plan.key), head=True)
            return _send(start_response, Reply(body.status, body.headers, body.text))
        reader = self.store.open(plan.key)
        try:
            body = self.router.read(request, reader.info, head=False)
            if not body.send:
                reader.close()
                return _send(start_response, Reply(body.status, body.headers, body.text))
            reader.seek(body.start)
        except BaseException:
            reader.close()
            raise
        start_response(_status(body.status), body.headers)
        return _ReaderBody(reader, body)

    def _write(
        self, request: Request, plan: Write, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if plan.length is None and not environ.get("wsgi.input_terminated"):
            # Without a length, reading past the body is undefined in WSGI (PEP 3333).
            reply = self.router.reply(request, 411, "a Content-Length is required")
            return _send(start_response, reply)
        if_match = plan.if_match
        if if_match == "*":
            try:
                if_match = self.store.stat(plan.key).etag
            except NotFoundError as exc:
                raise PreconditionFailedError("no object to match", key=plan.key) from exc
        info = self.store.put(
            plan.key,
            _input_chunks(environ["wsgi.input"], plan.length, plan.limit),
            content_type=plan.content_type,
            if_match=if_match,
            if_none_match=plan.if_none_match,
        )
        return _send(start_response, self.router.written(request, info))


class _ReaderBody:
    """The body of a ``GET``: ``length`` bytes from the reader, which ``close`` releases."""

    def __init__(self, reader: ObjectReader, body: Body):
        self._reader = reader
        self._remaining = body.length

    def __iter__(self) -> Iterator[bytes]:
        while self._remaining > 0:
            chunk = self._reader.read(min(CHUNK, self._remaining))
            if not chunk:
                return
            self._remaining -= len(chunk)
            yield chunk

    def close(self) -> None:
        self._reader.close()


def _input_chunks(stream: IO[bytes], length: int | None, limit: int) -> Iterator[bytes]:
    """The request body, checked: raising here makes ``put`` store nothing."""
    received = 0
    while length is None or received < length:
        want = CHUNK if length is None else min(CHUNK, length - received)
        try:
            chunk = stream.read(want)
        except OSError as exc:
            raise BodyIncomplete() from exc
        if not chunk:
            if length is None:
                return
            raise BodyIncomplete()
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge()
        yield chunk


def _request(environ: WSGIEnvironment) -> Request:
    # PEP 3333: paths are the request's bytes decoded as latin-1; keys are UTF-8.
    raw = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    try:
        path: str | None = raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        path = None
    headers = {
        name[5:].replace("_", "-").lower(): str(value)
        for name, value in environ.items()
        if name.startswith("HTTP_")
    }
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = environ[name]
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    return Request(method, path, environ.get("QUERY_STRING", ""), headers)


def _status(code: int) -> str:
    return f"{code} {http.HTTPStatus(code).phrase}"


def _send(start_response: StartResponse, reply: Reply) -> list[bytes]:
    start_response(_status(reply.status), reply.headers)
    return [reply.body] if reply.body else []
