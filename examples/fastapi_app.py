"""A FastAPI storage module on objstore's ``AsyncStore``, in place of aioboto3.

What a service's storage module usually does with aioboto3 (a client per request,
``upload_fileobj``, ``get_object`` and its ``Body``, ``list_objects_v2`` pages,
``generate_presigned_url``, ``ClientError`` codes turned into HTTP statuses), done
with one store opened in the app's lifespan; the same code runs on a local
directory, in memory and on S3 (docs/migrate/aioboto3.md shows both side by side):

- ``PUT /objects/{key}``: the raw request body, streamed (``If-Match`` and
  ``If-None-Match: *`` make it conditional);
- ``POST /files/{key}``: a multipart ``UploadFile``, streamed;
- ``POST /batch/{prefix}``: several files at once, each stored under
  ``{prefix}/{filename}``; the answer says what became of each;
- ``GET /objects/{key}``: a streaming download; a missing key is a clean 404,
  answered before the first byte;
- ``GET /metadata/{key}``, ``DELETE /objects/{key}``;
- ``GET /objects?prefix=&delimiter=&limit=&cursor=``: one page of a listing and the
  cursor of the next;
- ``POST /presign/{key}?method=GET|PUT&expires=&content_type=``: a URL a browser can
  use without credentials.

objstore's errors become HTTP statuses in one place (``STATUS``): a bad key 400,
not found 404, a key the backend cannot hold 409, a failed condition 412, no
permission 403, out of space 507, unsupported 501, unreachable (or the circuit
breaker open) 503; a bad expiry is FastAPI's own 422.

Run it (the store comes from the environment, see docs/configuration.md)::

    OBJSTORE_URL=file://./uploads uvicorn examples.fastapi_app:app

    curl -T cat.jpg http://127.0.0.1:8000/objects/photos/cat.jpg
    curl -F file=@cat.jpg http://127.0.0.1:8000/files/photos/cat.jpg
    curl -F files=@a.jpg -F files=@b.jpg http://127.0.0.1:8000/batch/photos
    curl http://127.0.0.1:8000/objects/photos/cat.jpg -o copy.jpg
    curl 'http://127.0.0.1:8000/objects?prefix=photos/&limit=100'
    curl -X POST 'http://127.0.0.1:8000/presign/photos/cat.jpg?expires=600'
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse

import objstore

# objstore errors as HTTP answers, most specific first; anything else is a 500.
STATUS: tuple[tuple[type[objstore.ObjstoreError], int], ...] = (
    (objstore.InvalidKeyError, 400),
    (objstore.NotFoundError, 404),
    (objstore.KeyConflictError, 409),
    (objstore.PreconditionFailedError, 412),
    (objstore.PermissionDeniedError, 403),
    (objstore.InsufficientStorageError, 507),
    (objstore.UnsupportedOperationError, 501),
    (objstore.UnavailableError, 503),  # CircuitOpenError included
)
MAX_EXPIRES = 7 * 24 * 3600  # what presign accepts: 1 second to 7 days
BATCH_CONCURRENCY = 4


def status_of(exc: objstore.ObjstoreError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)


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

    app = FastAPI(title="objstore storage module", lifespan=lifespan)

    @app.exception_handler(objstore.ObjstoreError)
    async def storage_error(request: Request, exc: objstore.ObjstoreError) -> JSONResponse:
        return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_of(exc))

    _uploads(app)
    _downloads(app)
    return app


def store_of(request: Request) -> objstore.AsyncStore:
    store: objstore.AsyncStore = request.app.state.store
    return store


def _uploads(app: FastAPI) -> None:
    @app.put("/objects/{key:path}", status_code=201)
    async def upload_body(
        key: str,
        request: Request,
        content_type: Annotated[str | None, Header()] = None,
        if_match: Annotated[str | None, Header()] = None,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        """Store the raw request body, streamed (``curl -T file URL``)."""
        info = await store_of(request).put(
            key,
            request.stream(),
            content_type=content_type,
            if_match=if_match,
            if_none_match=if_none_match,
        )
        return describe(info)

    @app.post("/files/{key:path}", status_code=201)
    async def upload_form(key: str, file: UploadFile, request: Request) -> dict[str, Any]:
        """Store a multipart upload, streamed from the spooled ``UploadFile``."""
        return describe(await _put_upload(store_of(request), key, file))

    @app.post("/batch/{prefix:path}")
    async def upload_batch(prefix: str, files: list[UploadFile], request: Request) -> JSONResponse:
        """Store each file under ``prefix/filename``, a few at a time. Each put is atomic on
        its own: the answer (201, or 207 when some failed) lists every outcome."""
        store, slots = store_of(request), asyncio.Semaphore(BATCH_CONCURRENCY)

        async def one(file: UploadFile) -> dict[str, Any]:
            async with slots:
                try:
                    info = await _put_upload(store, f"{prefix}/{file.filename}", file)
                except objstore.ObjstoreError as exc:
                    return {"filename": file.filename, "status": status_of(exc), "error": str(exc)}
                return {"filename": file.filename, "status": 201, "object": describe(info)}

        results = await asyncio.gather(*(one(file) for file in files))
        failed = any(result["status"] != 201 for result in results)
        return JSONResponse({"results": results}, status_code=207 if failed else 201)


async def _put_upload(
    store: objstore.AsyncStore, key: str, file: UploadFile
) -> objstore.ObjectInfo:
    metadata = {"filename": file.filename} if file.filename else None
    return await store.put(key, file, content_type=file.content_type, metadata=metadata)


def _downloads(app: FastAPI) -> None:
    @app.get("/objects/{key:path}")
    async def download(key: str, request: Request) -> Response:
        """Stream the object. The first chunk is read before the response starts, so a
        missing key is a clean 404 rather than a stream broken after its headers."""
        chunks = store_of(request).get_stream(key, chunk_size=256 * 1024)
        try:
            first = await anext(chunks, b"")
        except BaseException:
            await chunks.aclose()
            raise
        info = chunks.info
        assert info is not None  # known once the first step succeeded

        async def body() -> AsyncIterator[bytes]:
            async with aclosing(chunks):
                yield first
                async for chunk in chunks:
                    yield chunk

        headers = {
            "ETag": f'"{info.etag}"',
            "Content-Length": str(info.size),
            "Last-Modified": info.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }
        return StreamingResponse(body(), media_type=info.content_type, headers=headers)

    @app.get("/metadata/{key:path}")
    async def metadata(key: str, request: Request) -> dict[str, Any]:
        return describe(await store_of(request).stat(key))

    @app.get("/objects")
    async def listing(
        request: Request,
        prefix: str = "",
        delimiter: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page of the listing. Pass ``next_cursor`` back as ``cursor`` for the next
        page: it is the last key of this one (``start_after``), so no state is kept here."""
        page: list[objstore.ObjectInfo | objstore.CommonPrefix] = []
        items = store_of(request).list(prefix, delimiter=delimiter, start_after=cursor)
        async with aclosing(items):
            async for item in items:
                if item.key == cursor:  # a common prefix that ended the last page
                    continue
                page.append(item)
                if len(page) > limit:  # one more than asked: there is a next page
                    break
        more = len(page) > limit
        page = page[:limit]
        return {
            "objects": [describe(i) for i in page if isinstance(i, objstore.ObjectInfo)],
            "prefixes": [i.key for i in page if isinstance(i, objstore.CommonPrefix)],
            "next_cursor": page[-1].key if more else None,
        }

    @app.delete("/objects/{key:path}", status_code=204)
    async def remove(key: str, request: Request) -> Response:
        await store_of(request).delete(key)
        return Response(status_code=204)

    @app.post("/presign/{key:path}")
    async def presign(
        key: str,
        request: Request,
        method: Literal["GET", "PUT"] = "GET",
        expires: Annotated[int, Query(ge=1, le=MAX_EXPIRES)] = 3600,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        """A URL to ``GET`` the object, or to ``PUT`` a new one, without credentials."""
        url = await store_of(request).presign(
            key, method=method, expires=expires, content_type=content_type
        )
        return {"url": url, "method": method, "expires": expires}


app = create_app()
