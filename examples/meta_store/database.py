"""A SQLite database kept as one object, changed under etag locking (optimistic concurrency)."""

from __future__ import annotations

import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import objstore

SQLITE = "application/vnd.sqlite3"
Statement = tuple[str, Sequence[Any]]


class ConflictError(Exception):
    """Other writers kept winning: ``sync`` gave up after its attempts."""


class BucketDatabase:
    """A SQLite database stored as the object ``key``, for several writers at once.

    Writes go to a local copy and queue up as statements; :meth:`sync` uploads the
    copy only if the object is still the version it was made from (``if_match``), or
    does not exist yet (``if_none_match="*"``). If another writer won, it downloads
    their version, replays the queued statements on it, and tries again, so no
    update is lost and none is applied twice.

    Args:
        store: Where the database lives (use a store with a ``prefix`` to confine it).
        key: The object holding the database.
        attempts: How many uploads ``sync`` tries before it raises ``ConflictError``.
    """

    def __init__(self, store: objstore.Store, key: str, *, attempts: int = 100):
        self._store, self._key, self._attempts = store, key, attempts
        self._dir = Path(tempfile.mkdtemp(prefix="bucket-db-"))
        self._path = self._dir / "db.sqlite3"
        self._etag: str | None = None  # the version the local copy was made from
        self._pending: list[Statement] = []
        self._db: sqlite3.Connection | None = None
        self._download()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Apply a statement to the local copy and queue it for the next :meth:`sync`."""
        with self._connection() as db:  # commits, or rolls back and raises
            db.execute(sql, params)
        self._pending.append((sql, tuple(params)))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows from the local copy (call :meth:`reload` first for the latest version)."""
        return self._connection().execute(sql, params).fetchall()

    def sync(self) -> None:
        """Upload the queued statements as one new version of the database.

        Raises:
            ConflictError: other writers won ``attempts`` times in a row.
            sqlite3.Error: a queued statement failed when replayed on a newer version
                (say, a uniqueness constraint another writer's row now breaks); the
                queue is dropped and the local copy is the newer version.
        """
        for attempt in range(self._attempts):
            if not self._pending:
                return
            if self._upload():
                self._pending.clear()
                return
            time.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))  # back off, jittered
            self.reload()  # their version, with our statements replayed on it
        raise ConflictError(f"{self._key!r}: {self._attempts} attempts lost to other writers")

    def reload(self) -> None:
        """Make the local copy the stored version, with the queued statements applied again.

        Raises:
            sqlite3.Error: a queued statement fails on the stored version; the queue
                is dropped.
        """
        pending, self._pending = self._pending, []
        self._download()
        with self._connection() as db:
            for sql, params in pending:
                db.execute(sql, params)
        self._pending = pending

    def close(self) -> None:
        self._close_db()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> BucketDatabase:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------

    def _upload(self) -> bool:
        """Put the local copy if the stored version is still ours; False if it is not."""
        self._close_db()  # every change is committed: the file is the whole database
        condition = {"if_none_match": "*"} if self._etag is None else {"if_match": self._etag}
        try:
            with self._path.open("rb") as data:
                info = self._store.put(self._key, data, content_type=SQLITE, **condition)
        except objstore.PreconditionFailedError:
            return False
        self._etag = info.etag
        return True

    def _download(self) -> None:
        self._close_db()
        try:
            with self._store.open(self._key) as reader, self._path.open("wb") as out:
                shutil.copyfileobj(reader, out, 1 << 20)
                self._etag = reader.info.etag  # the version these very bytes belong to
        except objstore.NotFoundError:
            self._path.unlink(missing_ok=True)
            self._etag = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self._path)
        return self._db

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
