"""A metadata store in a bucket: a SQLite database under etag locking, and content-addressed blobs.

This is the shape of AutoCRUD's S3 meta store, on objstore, so the same code runs on
a local directory (development, one machine) and on S3 (production, many):

- :class:`BucketDatabase` keeps a SQLite database as one object. It downloads it,
  applies your statements to a local copy, and uploads it with ``if_match`` (or
  ``if_none_match="*"`` the first time). When another writer got there first, it
  downloads the new version and replays your pending statements on it. Statements
  queue locally until :meth:`BucketDatabase.sync`, so one upload carries a batch.
- :class:`BlobStore` stores payloads under the SHA-256 of their bytes: streamed in
  whatever size, written once (create-if-absent), shared by every record that
  names them.

Give both one store confined to a prefix (the top-level ``prefix`` key), and they
share nothing with the rest of the bucket::

    store = objstore.open({"backend": "s3", "s3": {"bucket": "apps"}, "prefix": "autocrud/"})
    with BucketDatabase(store, "meta.sqlite3") as db:
        db.execute("CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, blob TEXT)")
        digest = BlobStore(store).put(open("photo.jpg", "rb"))
        db.execute("INSERT INTO items VALUES (?, ?)", ("item-1", digest))
        db.sync()

Run the demo (any store URL; a local directory by default)::

    OBJSTORE_URL=file://./meta-demo python -m examples.meta_store
"""

from __future__ import annotations

from .blobs import BlobStore
from .database import BucketDatabase, ConflictError

__all__ = ["BlobStore", "BucketDatabase", "ConflictError"]
