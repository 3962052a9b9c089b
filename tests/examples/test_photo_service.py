"""The cookbook's photo service, on two local directories and on two buckets of moto's server."""

from __future__ import annotations

import re
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import s3_section

import objstore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from examples.photo_service import PhotoError, PhotoService, Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

BREAKER = {"enabled": True, "fail_max": 5, "reset_timeout": 60}
MiB = 1 << 20


def photos(originals: dict[str, Any], visualisations: dict[str, Any]) -> dict[str, Any]:
    return {"photos": {"originals": originals, "visualisations": visualisations}}


@pytest.fixture
def s3_config(moto_http: Any) -> Iterator[dict[str, Any]]:
    with moto_http.bucket() as one, moto_http.bucket() as two:
        stores = [
            {
                "backend": "s3",
                "s3": {**s3_section(moto_http, bucket), "multipart_threshold": "5MiB"},
                "circuit_breaker": BREAKER,
            }
            for bucket in (one, two)
        ]
        yield photos(*stores)


@pytest.fixture(params=["file", "s3"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "s3":
        return dict(request.getfixturevalue("s3_config"))
    stores = [
        {"backend": "file", "file": {"root": str(tmp_path / name)}, "circuit_breaker": BREAKER}
        for name in ("originals", "visualisations")
    ]
    return photos(*stores)


@pytest.fixture
def service(config: dict[str, Any]) -> Iterator[PhotoService]:
    opened = PhotoService(config, Settings(max_bytes=3 * MiB))
    yield opened
    opened.close()


def test_originals_and_visualisations_live_apart(service: PhotoService) -> None:
    service.upload("originals", "s-1", "cat.jpg", b"\xff\xd8 original")
    service.upload("originals", "s-1", "dog.jpg", iter([b"\xff\xd8", b" dog"]))
    service.upload("visualisations", "s-1", "cat.jpg", b"heatmap")
    service.upload("originals", "s-2", "cat.jpg", b"another session")
    assert [i.key for i in service.session("originals", "s-1")] == ["s-1/cat.jpg", "s-1/dog.jpg"]
    assert [i.key for i in service.session("visualisations", "s-1")] == ["s-1/cat.jpg"]
    assert service.health() == {"ok": True, "originals": "closed", "visualisations": "closed"}


@pytest.mark.parametrize(
    ("session", "filename"), [("", "a.jpg"), ("s/1", "a.jpg"), ("s", "a/b.jpg"), ("s", "..")]
)
def test_bad_names_are_refused(service: PhotoService, session: str, filename: str) -> None:
    with pytest.raises(PhotoError):
        service.upload("originals", session, filename, b"x")


def test_sizes_are_enforced_as_the_bytes_flow(
    service: PhotoService, config: dict[str, Any]
) -> None:
    with pytest.raises(PhotoError, match="at least 1"):
        service.upload("originals", "s", "empty.jpg", b"")
    too_big = (bytes(MiB) for _ in range(4))  # 4 MiB of unknown length, limit 3
    with pytest.raises(PhotoError, match="at most"):
        service.upload("originals", "s", "big.jpg", too_big)
    assert service.session("originals", "s") == []
    assert service.upload("originals", "s", "max.jpg", bytes(3 * MiB)).size == 3 * MiB


def test_presigned_urls_last_24_hours_by_default(s3_config: dict[str, Any]) -> None:
    service = PhotoService(s3_config)
    try:
        service.upload("visualisations", "s", "plot.png", b"\x89PNG...")
        url = service.url("visualisations", "s", "plot.png")
        assert "X-Amz-Expires=86400" in url
        assert "X-Amz-Expires=3600" in service.url("visualisations", "s", "plot.png", hours=1)
        assert "X-Amz-Expires=604800" in service.url("visualisations", "s", "plot.png", hours=168)
        with urllib.request.urlopen(url) as answer:
            assert answer.read() == b"\x89PNG..."
        for hours in (0, 169, True):
            with pytest.raises(PhotoError, match="1 to 168 hours"):
                service.url("visualisations", "s", "plot.png", hours=hours)
    finally:
        service.close()


def test_large_uploads_go_in_parts(s3_config: dict[str, Any]) -> None:
    service = PhotoService(s3_config)
    try:
        info = service.upload("originals", "s", "huge.tiff", bytes(6 * MiB))
        assert re.fullmatch(r"[0-9a-f]{32}-[0-9]+", info.etag)  # the etag of a multipart upload
        small = service.upload("originals", "s", "small.tiff", bytes(MiB))
        assert "-" not in small.etag
    finally:
        service.close()


def test_an_outage_opens_the_circuit_and_links_still_work() -> None:
    dead = {
        "bucket": "photos", "endpoint_url": "http://127.0.0.1:9", "region": "us-east-1",
        "access_key_id": "key", "secret_access_key": "secret", "provider": "other",
    }  # fmt: skip
    store = {
        "backend": "s3",
        "s3": dead,
        "circuit_breaker": BREAKER,
        "retries": {"max_attempts": 1},
    }
    service = PhotoService(photos(store, store))
    try:
        for _ in range(5):
            with pytest.raises(objstore.UnavailableError):
                service.upload("originals", "s", "a.jpg", b"x")
        with pytest.raises(objstore.CircuitOpenError):
            service.upload("originals", "s", "a.jpg", b"x")
        assert service.health() == {"ok": False, "originals": "open", "visualisations": "closed"}
        assert "X-Amz-Signature=" in service.url("originals", "s", "a.jpg")  # no I/O, no breaker
    finally:
        service.close()


def test_the_shipped_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    service = PhotoService(str(EXAMPLES / "photos.yaml"))
    try:
        service.upload("originals", "s", "cat.jpg", b"meow")
        assert (tmp_path / "photos" / "originals" / "s" / "cat.jpg").read_bytes() == b"meow"
        assert service.health()["ok"]
        with pytest.raises(objstore.UnsupportedOperationError):
            service.url("originals", "s", "cat.jpg")  # a directory needs base_url to sign
    finally:
        service.close()
