"""A model registry on objstore: browsers upload and download model files directly.

The API never carries the model bytes. It hands out signed URLs, and the
browser (or any HTTP client) ``PUT``s and ``GET``s the file itself:

- ``POST /models/{name}/versions/{version}/upload``: a URL to ``PUT`` the file to;
- ``POST /models/{name}/versions/{version}/confirm``: after the upload, record
  the version (size, etag, content type) in a small manifest object;
- ``GET /models``: every confirmed version;
- ``GET /models/{name}/versions/{version}/download``: a URL to ``GET`` the file.

The storage comes from the ``storage:`` block of the app's own YAML file
(``objstore.from_config_async(path, section="storage")``), so the same code
runs on local disk in development and on S3 in production. On S3 the URLs are
S3's own presigned URLs. On the file backend they are objstore signed URLs,
served by ``objstore.server.asgi_app`` mounted at ``/storage`` (``base_url``
must end in ``/storage``).

Run it (the ``registry:`` block of the same file sets the URLs' lifetimes)::

    export REGISTRY_SIGNING_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')
    REGISTRY_CONFIG=examples/model_registry/registry.yaml \\
        uvicorn --factory examples.model_registry.app:from_env
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import yaml
from fastapi import FastAPI, HTTPException
from fastapi import Path as PathParam
from pydantic import BaseModel

import objstore
import objstore.server

Name = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class Settings(BaseModel):
    """The ``registry:`` block of the configuration file."""

    upload_expires: int = 15 * 60
    download_expires: int = 60 * 60


class UploadRequest(BaseModel):
    filename: str = "model.bin"
    content_type: str = "application/octet-stream"


class SignedUrl(BaseModel):
    method: str
    url: str
    headers: dict[str, str]
    expires_in: int


class ModelVersion(BaseModel):
    name: str
    version: str
    filename: str
    size: int
    etag: str
    content_type: str
    uploaded_at: str


def data_key(name: str, version: str) -> str:
    return f"models/{name}/{version}/model"


def manifest_key(name: str, version: str) -> str:
    return f"models/{name}/{version}/manifest.json"


def create_app(config: str | os.PathLike[str]) -> FastAPI:
    """The registry, with its storage configured by the ``storage:`` block of ``config``."""
    settings = Settings.model_validate(yaml.safe_load(Path(config).read_text()).get("registry", {}))
    store = objstore.from_config_async(config, section="storage")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await store.aclose()

    app = FastAPI(title="model registry", lifespan=lifespan)
    # objstore's signed URLs (file, memory, plugins) are served by this app; a
    # backend that presigns natively (S3) has none: its URLs point at the service.
    with contextlib.suppress(objstore.ConfigError):
        app.mount("/storage", objstore.server.asgi_app(store))

    @app.post("/models/{name}/versions/{version}/upload")
    async def request_upload(name: Name, version: Name, body: UploadRequest) -> SignedUrl:
        """A URL to ``PUT`` the model file to, unless this version already exists."""
        if await store.exists(manifest_key(name, version)):
            raise HTTPException(409, f"{name} {version} is already registered")
        url = await store.presign(
            data_key(name, version),
            method="PUT",
            expires=settings.upload_expires,
            content_type=body.content_type,
        )
        await store.put(f"pending/{name}/{version}.json", body.model_dump_json().encode())
        headers = {"Content-Type": body.content_type}
        return SignedUrl(method="PUT", url=url, headers=headers, expires_in=settings.upload_expires)

    @app.post("/models/{name}/versions/{version}/confirm", status_code=201)
    async def confirm_upload(name: Name, version: Name) -> ModelVersion:
        """Record an uploaded version; the first confirmation wins."""
        if await store.exists(manifest_key(name, version)):
            raise HTTPException(409, f"{name} {version} is already registered")
        try:
            pending = UploadRequest.model_validate_json(
                await store.get(f"pending/{name}/{version}.json")
            )
            info = await store.stat(data_key(name, version))
        except objstore.NotFoundError:
            raise HTTPException(404, f"no upload of {name} {version} to confirm") from None
        record = ModelVersion(
            name=name,
            version=version,
            filename=pending.filename,
            size=info.size,
            etag=info.etag,
            content_type=info.content_type or pending.content_type,
            uploaded_at=datetime.now(UTC).isoformat(),
        )
        try:
            await store.put(
                manifest_key(name, version), record.model_dump_json().encode(), if_none_match="*"
            )
        except objstore.PreconditionFailedError:
            raise HTTPException(409, f"{name} {version} is already registered") from None
        await store.delete(f"pending/{name}/{version}.json")
        return record

    @app.get("/models")
    async def list_models() -> list[ModelVersion]:
        """Every confirmed version, by name then version."""
        found: list[ModelVersion] = []
        async with aclosing(store.list("models/")) as items:
            async for item in items:
                if item.key.endswith("/manifest.json"):
                    found.append(ModelVersion.model_validate_json(await store.get(item.key)))
        return found

    @app.get("/models/{name}/versions/{version}/download")
    async def download_url(name: Name, version: Name) -> SignedUrl:
        """A URL to ``GET`` the model file of a confirmed version."""
        if not await store.exists(manifest_key(name, version)):
            raise HTTPException(404, f"{name} {version} is not registered")
        expires = settings.download_expires
        url = await store.presign(data_key(name, version), expires=expires)
        return SignedUrl(method="GET", url=url, headers={}, expires_in=expires)

    return app


def from_env() -> FastAPI:
    """The app for ``uvicorn --factory``, configured by the file ``$REGISTRY_CONFIG``."""
    return create_app(os.environ.get("REGISTRY_CONFIG", Path(__file__).with_name("registry.yaml")))
