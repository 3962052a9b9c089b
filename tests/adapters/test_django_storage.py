"""``objstore.django.ObjstoreStorage`` in a real Django project (tests/adapters/djangoproject):
uploads through Django's test client land in the store, ``url()`` downloads them, and two
concurrent saves of one name keep both; on memory, file and moto's S3 server."""

from __future__ import annotations

import contextlib
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

django = pytest.importorskip("django", reason="the django extra is not installed")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangoproject.settings")
django.setup()

from django.core.exceptions import SuspiciousFileOperation  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import storages  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from djangoproject.models import Document  # noqa: E402

import objstore  # noqa: E402
from objstore.django import ObjstoreStorage  # noqa: E402

STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


@pytest.fixture(scope="module", autouse=True)
def tables() -> Iterator[None]:
    with connection.schema_editor() as editor:
        editor.create_model(Document)
    yield
    with connection.schema_editor() as editor:
        editor.delete_model(Document)


@pytest.fixture(autouse=True)
def no_documents() -> Iterator[None]:
    yield
    Document.objects.all().delete()


@pytest.fixture
def storage(target: str | dict[str, Any]) -> Iterator[ObjstoreStorage]:
    """The project's default storage, configured through ``STORAGES`` for ``target``."""
    options = {"target": target, "expires": 120}
    default = {"BACKEND": "objstore.django.ObjstoreStorage", "OPTIONS": options}
    with override_settings(STORAGES={"default": default, "staticfiles": STATIC}):
        found = storages["default"]
        assert isinstance(found, ObjstoreStorage)
        yield found


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as answer:
        data: bytes = answer.read()
        return data


def test_uploads_through_the_test_client_are_stored_in_objstore(storage: ObjstoreStorage) -> None:
    client = Client()
    names = []
    for body in (b"%PDF-1.7 first", b"%PDF-1.7 second"):
        upload = SimpleUploadedFile("report.pdf", body, content_type="text/html")
        answer = client.post("/upload/", {"title": "Q3", "file": upload})
        assert answer.status_code == 200, answer.content
        names.append(answer.json()["name"])
    assert names[0] == "uploads/report.pdf"
    assert names[1].startswith("uploads/report_") and names[1].endswith(".pdf")
    assert storage.store.get(names[0]) == b"%PDF-1.7 first"
    assert storage.store.get(names[1]) == b"%PDF-1.7 second"
    # the type comes from the name, never from what the uploader claimed
    assert storage.store.stat(names[0]).content_type == "application/pdf"
    document = Document.objects.get(upload=names[0])
    assert document.upload.size == len(b"%PDF-1.7 first")
    with document.upload.open("rb") as f:
        assert f.read() == b"%PDF-1.7 first"
    assert storage.listdir("uploads") == ([], sorted(n.removeprefix("uploads/") for n in names))
    assert storage.listdir("") == (["uploads"], [])
    storage.delete(names[1])
    assert not storage.exists(names[1]) and storage.exists(names[0])


def test_two_concurrent_saves_of_one_name_keep_both(storage: ObjstoreStorage) -> None:
    both_uploading = threading.Barrier(2, timeout=30)

    class RacingContent(ContentFile):  # type: ignore[type-arg]
        """Holds its first upload until the other one is uploading too, so both have
        passed Django's ``exists`` check before either commits."""

        waited = False

        def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
            if not self.waited:
                self.waited = True
                both_uploading.wait()
            yield from super().chunks(chunk_size)

    saved: list[str] = []
    errors: list[BaseException] = []

    def save(body: bytes) -> None:
        try:
            saved.append(storage.save("race/same.txt", RacingContent(body)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(body,)) for body in (b"one", b"two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert "race/same.txt" in saved and len(set(saved)) == 2
    assert sorted(storage.open(name).read() for name in saved) == [b"one", b"two"]
    assert storage.listdir("race")[1] == sorted(n.removeprefix("race/") for n in saved)


def test_times_sizes_and_refusals(storage: ObjstoreStorage) -> None:
    name = storage.save("t/a.txt", ContentFile("text content, saved as UTF-8: é"))
    assert storage.size(name) == len("text content, saved as UTF-8: é".encode())
    modified = storage.get_modified_time(name)
    assert modified.tzinfo is not None and abs(datetime.now(UTC) - modified) < timedelta(hours=1)
    assert storage.get_created_time(name) == modified
    with pytest.raises(NotImplementedError):
        storage.get_accessed_time(name)
    with override_settings(USE_TZ=False):
        assert storage.get_modified_time(name) == modified.replace(tzinfo=None)
    with storage.open(name, "r") as f:
        assert f.read() == "text content, saved as UTF-8: é"
    with pytest.raises(objstore.UnsupportedOperationError):
        storage.open(name, "wb")
    with pytest.raises(SuspiciousFileOperation):
        storage.save("bad\x01name.txt", ContentFile(b"x"))
    with pytest.raises(SuspiciousFileOperation):
        storage.save("../escape.txt", ContentFile(b"x"))
    assert storage.listdir("") == (["t"], [])


def test_url_on_the_file_backend_is_served_by_objstore_s_server(tmp_path: Path) -> None:
    """The project serves objstore's WSGI app under ``/media`` beside Django's own; the
    file store's ``base_url`` points there."""
    from django.core.wsgi import get_wsgi_application
    from signed_servers import SIGNING_KEY, wsgi_server
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    import objstore.server

    def project(port: int) -> Any:
        section = {"root": str(tmp_path / "media"), "signing_key": SIGNING_KEY,
                   "base_url": f"http://127.0.0.1:{port}/media"}  # fmt: skip
        options = {"target": {"backend": "file", "file": section}, "expires": 120}
        default = {"BACKEND": "objstore.django.ObjstoreStorage", "OPTIONS": options}
        stack.enter_context(override_settings(STORAGES={"default": default, "staticfiles": STATIC}))
        media = objstore.server.wsgi_app(storages["default"].store)  # type: ignore[attr-defined]
        return DispatcherMiddleware(get_wsgi_application(), {"/media": media})

    with contextlib.ExitStack() as stack:
        port = stack.enter_context(wsgi_server(project))
        upload = SimpleUploadedFile("notes.txt", b"served by objstore")
        answer = Client().post("/upload/", {"title": "notes", "file": upload})
        document = Document.objects.get(pk=answer.json()["id"])
        url = document.upload.url
        assert url.startswith(f"http://127.0.0.1:{port}/media/uploads/notes.txt?")
        assert download(url) == b"served by objstore"
        assert (tmp_path / "media" / "uploads" / "notes.txt").read_bytes() == b"served by objstore"
        with pytest.raises(urllib.error.HTTPError) as refused:
            download(url.replace("notes.txt", "other.txt"))
        assert refused.value.code == 403


@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_url_is_a_presigned_url_that_downloads_the_file(storage: ObjstoreStorage) -> None:
    client = Client()
    upload = SimpleUploadedFile("photo.jpg", b"\xff\xd8 jpeg bytes")
    answer = client.post("/upload/", {"title": "cat", "file": upload})
    url = Document.objects.get(pk=answer.json()["id"]).upload.url
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=120" in url
    assert download(url) == b"\xff\xd8 jpeg bytes"


def test_the_storage_is_deconstructible_and_opens_its_store_lazily(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"not a directory")
    target = {"backend": "file", "file": {"root": str(tmp_path / "a-file")}}
    storage = ObjstoreStorage(target=target, expires=60)
    path, args, kwargs = storage.deconstruct()
    assert (path, args, kwargs) == (
        "objstore.django.ObjstoreStorage",
        (),
        {"target": target, "expires": 60},
    )
    with pytest.raises(objstore.ConfigError):
        storage.exists("anything")  # the bad root is found at first use, not at import
