"""Content-addressed blobs: each payload stored once, under the SHA-256 of its bytes."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import objstore

CHUNK = 1 << 20


class BlobStore:
    """Blobs named ``blobs/sha256/<2 hex>/<64 hex>``, written once and never changed.

    A payload of any size, and of unknown size, is streamed into a staging object
    while it is hashed, then copied under its name with ``if_none_match="*"`` (a
    server-side copy where the backend has one) and the staging object deleted. Two
    writers of the same bytes both succeed and one object remains.

    Args:
        store: Where the blobs live (use a store with a ``prefix`` to confine them).
    """

    def __init__(self, store: objstore.Store):
        self._store = store

    def put(self, data: BinaryIO | Iterable[bytes], *, content_type: str | None = None) -> str:
        """Store ``data`` (a binary file or an iterable of chunks); return its SHA-256.

        Raises:
            objstore.ObjstoreError: the store failed; nothing is left behind but, if
                this process dies midway, a staging object (see :meth:`sweep`).
        """
        digest = hashlib.sha256()
        staging = f"staging/{uuid.uuid4().hex}"
        try:
            self._store.put(staging, _hashed(data, digest), content_type=content_type)
            # Create-if-absent: if somebody stored these bytes already, one copy is enough.
            with contextlib.suppress(objstore.PreconditionFailedError):
                self._store.copy(staging, self.key(digest.hexdigest()), if_none_match="*")
        finally:
            self._store.delete(staging)
        return digest.hexdigest()

    def open(self, digest: str) -> objstore.ObjectReader:
        """The blob as a binary file. Raises ``objstore.NotFoundError`` if absent."""
        return self._store.open(self.key(digest))

    def exists(self, digest: str) -> bool:
        return self._store.exists(self.key(digest))

    def sweep(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Delete staging objects left by writers that died; return how many."""
        cutoff = datetime.now(UTC) - older_than
        stale = [
            item.key
            for item in self._store.list("staging/")
            if isinstance(item, objstore.ObjectInfo) and item.last_modified < cutoff
        ]
        self._store.delete_many(stale)
        return len(stale)

    @staticmethod
    def key(digest: str) -> str:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
        return f"blobs/sha256/{digest[:2]}/{digest}"


def _hashed(data: BinaryIO | Iterable[bytes], digest: hashlib._Hash) -> Iterator[bytes]:
    """The chunks of ``data``, each added to ``digest`` on its way to the store."""
    chunks = iter(lambda: data.read(CHUNK), b"") if hasattr(data, "read") else data
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
