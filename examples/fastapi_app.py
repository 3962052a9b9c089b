"""A FastAPI service that stores uploads with objstore's ``AsyncStore``.

Nothing here blocks the event loop: uploads stream from the client into
``put`` (multipart ``UploadFile`` or a raw request body), downloads stream from
``get_stream`` through ``StreamingResponse``, and every storage call runs in the
store's own worker pool.

Run it (the store comes from the environment, see docs/configuration.md)::

    OBJSTORE_URL=file://./uploads uvicorn examples.fastapi_app:app

    curl -T cat.jpg http://127.0.0.1:8000/objects/photos/cat.jpg
    curl -F file=@cat.jpg http://127.0.0.1:8000/files/photos/cat.jpg
    curl http://127.0.0.1:8000/objects/photos/cat.jpg -o copy.jpg
    curl 'http://127.0.0.1:8000/objects?prefix=photos/&delimiter=/'
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Header, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse

import objstore

# objstore errors as HTTP answers; anything else is a 500.
STATUS = {
    objstore.NotFoundError: 404,
    objstore.InvalidKeyError: 400,
    objstore.KeyConflictError: 409,
    objstore.PreconditionFailedError: 412,
    objstore.PermissionDeniedError: 403,
    objstore.UnavailableError: 503,
}


def describe(info: objstore.ObjectInfo) -> dict[str, Any]:
    return {
        "key": info.key,
        "size": info.size,
        "etag": info.etag,
        "last_modified": info.last_modified.isoformat(),
        "content_type": info.content_type,
        "metadata": dict(info.metadata) if info.metadata is not None else None,
    }


def create_app(open_store: Callable[[], objstore.AsyncStore] = objstore.from_env_async) -> FastAPI:
    """Build the service; ``open_store`` is called once at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = open_store()
        try:
            yield
        finally:
            await app.state.store.aclose()

    app = FastAPI(title="objstore example", lifespan=lifespan)

    def store(request: Request) -> objstore.AsyncStore:
        opened: objstore.AsyncStore = request.app.state.store
        return opened

    @app.exception_handler(objstore.ObjstoreError)
    async def storage_error(request: Request, exc: objstore.ObjstoreError) -> JSONResponse:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)
        return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status)

    @app.put("/objects/{key:path}", status_code=201)
    async def upload_body(
        key: str,
        request: Request,
        content_type: str | None = Header(default=None),
        if_none_match: str | None = Header(default=None),
    ) -> dict[str, Any]:
        """Store the raw request body, streamed (``curl -T file URL``)."""
        info = await store(request).put(
            key, request.stream(), content_type=content_type, if_none_match=if_none_match
        )
        return describe(info)

    @app.post("/files/{key:path}", status_code=201)
    async def upload_form(key: str, file: UploadFile, request: Request) -> dict[str, Any]:
        """Store a multipart upload, streamed from the spooled ``UploadFile``."""
        metadata = {"filename": file.filename} if file.filename else None
        info = await store(request).put(
            key, file, content_type=file.content_type, metadata=metadata
        )
        return describe(info)

    @app.get("/objects/{key:path}")
    async def download(key: str, request: Request) -> Response:
        """Stream the object; the first chunk is read before the response starts, so a
        missing key is a clean 404."""
        chunks = store(request).get_stream(key, chunk_size=256 * 1024)
        first = await anext(chunks, b"")
        info = chunks.info
        assert info is not None

        async def body() -> AsyncIterator[bytes]:
            try:
                yield first
                async for chunk in chunks:
                    yield chunk
            finally:
                await chunks.aclose()

        headers = {"ETag": f'"{info.etag}"', "Content-Length": str(info.size),
                   "Last-Modified": info.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT")}
        return StreamingResponse(body(), media_type=info.content_type, headers=headers)

    @app.get("/metadata/{key:path}")
    async def metadata(key: str, request: Request) -> dict[str, Any]:
        return describe(await store(request).stat(key))

    @app.get("/objects")
    async def listing(
        request: Request, prefix: str = "", delimiter: str | None = None, limit: int = 1000
    ) -> dict[str, Any]:
        objects: list[dict[str, Any]] = []
        prefixes: list[str] = []
        async with aclosing(store(request).list(prefix, delimiter=delimiter)) as items:
            async for item in items:
                if isinstance(item, objstore.CommonPrefix):
                    prefixes.append(item.key)
                else:
                    objects.append(describe(item))
                if len(objects) + len(prefixes) >= limit:
                    break
        return {"objects": objects, "prefixes": prefixes}

    @app.delete("/objects/{key:path}", status_code=204)
    async def remove(key: str, request: Request) -> Response:
        await store(request).delete(key)
        return Response(status_code=204)

    return app


app = create_app()
