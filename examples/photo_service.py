"""A photo service: originals and visualisations in two buckets, handed out by presigned URLs.

Clients upload a session's photos; the service stores each original, and the
visualisations computed from it, under ``{session_id}/{filename}`` in two stores
(two buckets on S3, two directories locally), and hands out presigned URLs (24
hours by default, 1 to 168 accepted) so that nobody downloads through the service.

- Sizes are checked as the bytes flow: from 1 byte to 500 MB, and an upload that
  crosses the limit is abandoned whole (no object, no multipart upload left).
- On S3, uploads above 100 MB go in parallel parts (``multipart_threshold``).
- Each store has a circuit breaker (5 failures open it for 60 s), so an outage
  fails fast instead of piling up timeouts; presigning does no I/O and never
  passes through it, so links keep working while the circuit is open.
- ``health()`` reports each store's ``circuit_state``.

The configuration is the ``photos:`` block of the application's YAML file, one
store per bucket, each with its breaker and (on S3) its multipart threshold;
``examples/photos.yaml`` is the local version, for development::

    photos:
      originals:
        backend: s3
        s3: {bucket: photos-originals, region: eu-west-1, multipart_threshold: 100MB}
        circuit_breaker: {enabled: true, fail_max: 5, reset_timeout: 60}
      visualisations:
        backend: s3
        s3: {bucket: photos-visualisations, region: eu-west-1, multipart_threshold: 100MB}
        circuit_breaker: {enabled: true, fail_max: 5, reset_timeout: 60}

Run the demo on the local configuration (presigned URLs there need objstore's
signed-URL server, SPEC §8, so the demo prints the stored key and the health)::

    python examples/photo_service.py examples/photos.yaml cat.jpg
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import objstore

MB = 1000 * 1000
SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
FILENAME = re.compile(r"[^/\x00-\x1f\x7f]{1,255}")
STORES = ("originals", "visualisations")


class PhotoError(ValueError):
    """A request the service refuses: a bad name, size or lifetime (the client's mistake)."""


@dataclass(frozen=True)
class Settings:
    """The product's rules (each store's breaker and multipart size are configuration)."""

    min_bytes: int = 1
    max_bytes: int = 500 * MB
    url_hours: int = 24
    min_url_hours: int = 1
    max_url_hours: int = 168


class PhotoService:
    """Originals and visualisations of photo sessions.

    Args:
        config: A YAML or JSON file, or a mapping, whose ``photos:`` block holds the
            configuration of the ``originals`` store and of the ``visualisations`` one.
        settings: The rules to enforce.
    """

    def __init__(self, config: str | Mapping[str, Any], settings: Settings = Settings()):
        self.settings = settings
        self._stores: dict[str, objstore.Store] = {}
        try:
            for name in STORES:
                self._stores[name] = objstore.from_config(config, section=f"photos.{name}")
        except BaseException:
            self.close()
            raise

    def upload(
        self, kind: str, session_id: str, filename: str, data: bytes | BinaryIO | Iterable[bytes]
    ) -> objstore.ObjectInfo:
        """Store an original (``kind="originals"``) or a visualisation of a session.

        Raises:
            PhotoError: a bad session id or file name, or a size outside the limits
                (nothing is stored).
            objstore.CircuitOpenError: the store is failing; try again later.
        """
        key = self.key(session_id, filename)
        return self._store(kind).put(key, self._limited(data))

    def url(self, kind: str, session_id: str, filename: str, *, hours: int | None = None) -> str:
        """A presigned ``GET`` URL, valid ``hours`` (default 24, from 1 to 168).

        Raises:
            PhotoError: a bad name or a lifetime out of range.
            objstore.UnsupportedOperationError: the store cannot presign.
        """
        hours = self.settings.url_hours if hours is None else hours
        low, high = self.settings.min_url_hours, self.settings.max_url_hours
        if isinstance(hours, bool) or not isinstance(hours, int) or not low <= hours <= high:
            raise PhotoError(f"a URL lasts {low} to {high} hours, not {hours!r}")
        key = self.key(session_id, filename)
        return self._store(kind).presign(key, expires=timedelta(hours=hours))

    def session(self, kind: str, session_id: str) -> list[objstore.ObjectInfo]:
        """The photos of a session, by file name."""
        prefix = self.key(session_id, "x")[:-1]
        listing = self._store(kind).list(prefix, delimiter="/")
        return [item for item in listing if isinstance(item, objstore.ObjectInfo)]

    def health(self) -> dict[str, Any]:
        """Each store's circuit state; ``ok`` only when every circuit is closed."""
        states = {name: store.circuit_state for name, store in self._stores.items()}
        return {"ok": all(state == "closed" for state in states.values()), **states}

    def close(self) -> None:
        for store in self._stores.values():
            store.close()

    @staticmethod
    def key(session_id: str, filename: str) -> str:
        if not SESSION_ID.fullmatch(session_id):
            raise PhotoError(f"bad session id {session_id!r}")
        if not FILENAME.fullmatch(filename) or filename in {".", ".."}:
            raise PhotoError(f"bad file name {filename!r}")
        return f"{session_id}/{filename}"

    def _store(self, kind: str) -> objstore.Store:
        if kind not in self._stores:
            raise PhotoError(f"no store {kind!r}; choose one of {', '.join(STORES)}")
        return self._stores[kind]

    def _limited(self, data: bytes | BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
        """The chunks of ``data``, refused as soon as they break the size limits."""
        chunks: Iterable[bytes]
        if isinstance(data, bytes | bytearray | memoryview):
            chunks = [bytes(data)]
        elif hasattr(data, "read"):
            chunks = iter(lambda: data.read(1 << 20), b"")
        else:
            chunks = data
        size, low, high = 0, self.settings.min_bytes, self.settings.max_bytes
        for chunk in chunks:
            size += len(chunk)
            if size > high:  # raising here makes the store abandon the upload
                raise PhotoError(f"a photo is at most {high} bytes")
            yield chunk
        if size < low:
            raise PhotoError(f"a photo is at least {low} byte(s)")


def main(config: str, photo: str) -> None:
    service = PhotoService(config)
    try:
        with open(photo, "rb") as data:
            info = service.upload("originals", "demo-session", Path(photo).name, data)
        print(f"stored {info.key} ({info.size} bytes); health: {service.health()}")
    finally:
        service.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
