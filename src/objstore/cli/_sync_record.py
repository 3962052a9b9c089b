"""What ``sync`` remembers between runs: which source version each destination object is.

One SQLite file per (source, destination) pair, in the user's cache directory
(``$XDG_CACHE_HOME/objstore/sync/``, else ``~/.cache/objstore/sync/``) unless
``--record FILE`` names one. A row says: the source object with this etag, size
and time was sent, and the destination's copy got this etag. An object is up to
date when both sides still show exactly those values in their listings, so an
unchanged tree costs two listings and no read. Each row is committed as soon as
its object is written, so a killed run loses at most the rows of the objects in
flight, which the next run verifies instead of sending (docs/cli.md, "sync").
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .._models import ObjectInfo
from ..errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (
    key TEXT PRIMARY KEY,
    src_etag TEXT NOT NULL,
    src_size INTEGER NOT NULL,
    src_modified TEXT NOT NULL,
    dst_etag TEXT NOT NULL
)
"""


def default_path(pair: str) -> Path:
    """The record of the pair of stores whose digest is ``pair``."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "objstore" / "sync" / f"{pair[:32]}.sqlite"


class SyncRecord:
    """The rows of one (source, destination) pair; used from one thread.

    Args:
        path: The SQLite file.
        read_only: Open without creating or changing anything (``--dry-run``); a
            missing file is an empty record.

    Raises:
        ConfigError: the file cannot be opened or is not a sync record.
    """

    def __init__(self, path: Path, *, read_only: bool = False):
        self.path = path
        self._db: sqlite3.Connection | None = None
        try:
            self._db = self._connect(path, read_only)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot use {str(path)!r} as the sync record: {exc}") from exc

    @staticmethod
    def _connect(path: Path, read_only: bool) -> sqlite3.Connection | None:
        if read_only:
            if not path.exists():
                return None
            return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None)  # autocommit: a row per commit
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # survives a killed process, not power loss
        db.execute(_SCHEMA)
        return db

    def up_to_date(self, src: ObjectInfo, dst: ObjectInfo) -> bool | None:
        """Whether ``dst`` is the copy of ``src`` this record saw sent; ``None``: no row."""
        if self._db is None:
            return None
        row = self._db.execute(
            "SELECT src_etag, src_size, src_modified, dst_etag FROM sent WHERE key = ?",
            (src.key,),
        ).fetchone()
        if row is None:
            return None
        return tuple(row) == (src.etag, src.size, _when(src), dst.etag)

    def sent(self, src: ObjectInfo, dst_etag: str) -> None:
        """Remember that the version ``src`` (as listed) is now ``dst_etag`` at the destination."""
        if self._db is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO sent VALUES (?, ?, ?, ?, ?)",
                (src.key, src.etag, src.size, _when(src), dst_etag),
            )

    def forget(self, key: str) -> None:
        if self._db is not None:
            self._db.execute("DELETE FROM sent WHERE key = ?", (key,))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _when(info: ObjectInfo) -> str:
    return info.last_modified.isoformat()
