"""A complete third-party objstore backend: objects in one SQLite database file.

Copy this file to start your own backend. It shows the whole contract: atomic
and conditional writes (race-free across processes, thanks to SQLite's write
lock), ranged reads, ordered listings with delimiters, native copy and batch
delete, translating native errors into objstore's in one place, and the
``SPEC`` that registers it (see the end of the file).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime

from objstore.backend import (
    BackendBase,
    Capabilities,
    CommonPrefix,
    ObjectInfo,
    Payload,
    WriteMode,
    check_write,
)
from objstore.errors import NotFoundError, PreconditionFailedError, UnavailableError
from objstore.plugin import (
    REQUIRED,
    BackendSpec,
    Option,
    Section,
    Shared,
    as_str,
    collapse,
    prefix_end,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY,      -- SQLite compares TEXT bytewise: UTF-8 order is code-point order
    data BLOB NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL,    -- JSON
    modified REAL NOT NULL     -- POSIX seconds
)
"""
PAGE = 1000


class _Bytes:
    """The ReadStream ``get`` returns: the selected bytes, read front to back."""

    def __init__(self, data: bytes, info: ObjectInfo):
        self.info = info
        self._view = memoryview(data)

    def read(self, n: int) -> bytes:
        piece, self._view = self._view[:n], self._view[n:]
        return bytes(piece)

    def close(self) -> None:
        self._view = memoryview(b"")


class SQLiteBackend(BackendBase):
    """Objects as rows of one SQLite table.

    Args:
        path: The database file (created if missing), or ":memory:".
    """

    name = "sqlite"
    capabilities = Capabilities(conditional_put=True, server_side_copy=True, batch_delete=True)

    def __init__(self, path: str):
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._lock = threading.Lock()  # one connection, shared by this store's threads
        with self._errors(None):
            self._db.execute(SCHEMA)

    def __repr__(self) -> str:
        return "SQLiteBackend()"

    def put(
        self,
        key: str,
        payload: Payload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        data = b"".join(payload.chunks())  # read before taking any lock
        payload.seal()  # a cancelled upload stops here, before the commit
        with self._transaction(key) as db:
            self._check(db, key, mode)
            return self._write(db, key, data, content_type, metadata)

    def get(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> _Bytes:
        # substr() counts from 1, and a missing length means "to the end".
        selected, args = (
            ("substr(data, ?)", (offset + 1,))
            if length is None
            else ("substr(data, ?, ?)", (offset + 1, length))
        )
        with self._errors(key), self._lock:
            row = self._db.execute(
                f"SELECT {selected}, {_INFO} FROM objects WHERE key = ?", (*args, key)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no object {key!r}", key=key, backend=self.name)
        info = _info(key, row[1:])
        if if_match is not None and info.etag != if_match:
            raise PreconditionFailedError(f"{key!r} changed", key=key, backend=self.name)
        return _Bytes(row[0] or b"", info)  # substr() of an empty blob is NULL

    def stat(self, key: str) -> ObjectInfo:
        with self._errors(key), self._lock:
            row = self._db.execute(f"SELECT {_INFO} FROM objects WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise NotFoundError(f"no object {key!r}", key=key, backend=self.name)
        return _info(key, row)

    def delete(self, key: str) -> None:
        self.delete_many([key])

    def delete_many(self, keys: Sequence[str]) -> None:
        with self._transaction(None) as db:
            db.executemany("DELETE FROM objects WHERE key = ?", [(k,) for k in keys])

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        with self._transaction(src_key) as db:
            row = db.execute(
                "SELECT data, content_type, metadata FROM objects WHERE key = ?", (src_key,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no object {src_key!r}", key=src_key, backend=self.name)
            self._check(db, dst_key, mode)
            return self._write(db, dst_key, row[0], row[1], json.loads(row[2]))

    def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> Iterator[ObjectInfo | CommonPrefix]:
        return collapse(self._objects(prefix, start_after), prefix, delimiter)

    def close(self) -> None:
        self._db.close()

    # -- helpers -------------------------------------------------------------------------

    def _objects(self, prefix: str, start_after: str | None) -> Iterator[ObjectInfo]:
        if start_after is not None and start_after >= prefix:
            lower, bound = "key > ?", start_after
        else:
            lower, bound = "key >= ?", prefix
        end = prefix_end(prefix)
        while True:  # one page per query, so memory stays bounded
            query = f"SELECT key, {_INFO} FROM objects WHERE {lower}"
            args: list[object] = [bound]
            if end is not None:
                query += " AND key < ?"
                args.append(end)
            with self._errors(None), self._lock:
                rows = self._db.execute(query + " ORDER BY key LIMIT ?", (*args, PAGE)).fetchall()
            for row in rows:
                yield _info(row[0], row[1:], listing=True)
            if len(rows) < PAGE:
                return
            lower, bound = "key > ?", rows[-1][0]

    def _check(self, db: sqlite3.Connection, key: str, mode: WriteMode) -> None:
        row = db.execute("SELECT etag FROM objects WHERE key = ?", (key,)).fetchone()
        check_write(key, mode, None if row is None else row[0], self.name)

    def _write(
        self,
        db: sqlite3.Connection,
        key: str,
        data: bytes,
        content_type: str,
        metadata: Mapping[str, str],
    ) -> ObjectInfo:
        row = (
            os.urandom(12).hex(),
            content_type,
            json.dumps(dict(metadata)),
            datetime.now(UTC).timestamp(),
        )
        db.execute("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?)", (key, data, *row))
        return _info(key, (len(data), *row))

    @contextlib.contextmanager
    def _transaction(self, key: str | None) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes SQLite's write lock: checks and writes are atomic,
        across threads and processes."""
        with self._errors(key), self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _errors(self, key: str | None) -> Iterator[None]:
        """The one place native errors become objstore errors."""
        try:
            yield
        except sqlite3.Error as exc:
            raise UnavailableError(f"sqlite: {exc}", key=key, backend=self.name) from exc


_INFO = "length(data), etag, content_type, metadata, modified"


def _info(key: str, row: tuple[object, ...], listing: bool = False) -> ObjectInfo:
    size, etag, content_type, metadata, modified = row
    return ObjectInfo(
        key=key,
        size=int(size),  # type: ignore[call-overload]
        etag=str(etag),
        last_modified=datetime.fromtimestamp(float(modified), UTC),  # type: ignore[arg-type]
        content_type=None if listing else str(content_type),
        metadata=None if listing else json.loads(str(metadata)),
    )


def _build(section: Section, shared: Shared) -> SQLiteBackend:
    return SQLiteBackend(section["path"])


# Registered through the "objstore.backends" entry point group (see docs/backends.md),
# this makes `backend: sqlite` and `sqlite:///path/to/objects.db` work. The section
# is validated like a built-in one.
SPEC = BackendSpec(
    name="sqlite",
    options={"path": Option(as_str, REQUIRED, doc="the database file (created if missing)")},
    factory=_build,
    url_option="path",
    doc="objects in one SQLite database file",
)
