"""``python -m examples.meta_store``: a short demo on the store of the environment."""

from __future__ import annotations

import io

import objstore

from . import BlobStore, BucketDatabase


def main() -> None:
    with objstore.from_env() as store, BucketDatabase(store, "meta.sqlite3") as db:
        db.execute("CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, blob TEXT)")
        blobs = BlobStore(store)
        for number in range(3):
            digest = blobs.put(io.BytesIO(f"payload {number}".encode()))
            db.execute("INSERT OR REPLACE INTO items VALUES (?, ?)", (f"item-{number}", digest))
        db.sync()  # one upload for the whole batch
        for item, digest in db.query("SELECT id, blob FROM items ORDER BY id"):
            with blobs.open(digest) as blob:
                print(item, digest[:12], blob.read())


if __name__ == "__main__":
    main()
