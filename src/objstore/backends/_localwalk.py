"""The file backend's listing: a lazy walk of the tree in key order.

Directories are read and sorted one at a time (a directory sorts as
``name/``, which is where its keys sort), so memory is bounded by the depth and
the widest directory, and the first results come before the rest is read.

Other processes may change the tree while it is walked. An entry that vanished,
or changed kind (a file replaced by a directory, a directory by a file or a
link), since its directory was read is skipped: the contract lets a listing
leave out what changed while it ran, never fail because of it. A directory the
process may not read is an error that names its key prefix, never a silently
shorter listing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from stat import S_ISREG

from .._keys import key_problem
from .._models import CommonPrefix, ObjectInfo
from ..errors import ObjstoreError
from ._localfs import O_DIR, VANISHED, Lifetime, etag_of

#: maps an OSError met while listing the keys under a prefix to the error to raise
ListingFailure = Callable[[OSError, str], ObjstoreError]


class Walker:
    """Yields a directory tree's objects in key order, one sorted directory at a time.

    Args:
        start_after: Yield only keys after this one.
        by_directory: Collapse each subdirectory into a :class:`CommonPrefix`
            (a listing delimited by ``/``).
        life: The store's state, checked before each entry.
        check_open: Raises :class:`~objstore.errors.StoreClosedError`; called
            once ``life`` says the store is closed.
        failure: Maps an error met under a key prefix to the error to raise.
    """

    def __init__(
        self,
        start_after: str | None,
        by_directory: bool,
        life: Lifetime,
        check_open: Callable[[], None],
        failure: ListingFailure,
    ):
        self._after = start_after
        self._by_directory = by_directory
        self._life = life
        self._check_open = check_open
        self._failure = failure

    def walk(self, fd: int, top: str, partial: str) -> Iterator[ObjectInfo | CommonPrefix]:
        """Walk the open directory ``fd`` (key prefix ``top``), closing it when done."""
        try:
            for sort_name, name in self._entries(fd, top, partial):
                if self._life.closed:
                    self._check_open()
                key = top + sort_name
                after = self._after
                if sort_name[-1] != "/":
                    if after is not None and key <= after:
                        continue
                    try:
                        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    except OSError as exc:
                        if exc.errno in VANISHED:
                            continue  # deleted since the directory was read
                        raise self._failure(exc, top) from exc
                    if S_ISREG(st.st_mode):  # else replaced by a directory since it was read
                        yield ObjectInfo(key, st.st_size, etag_of(st), mtime(st))
                    continue
                if after is not None and not after.startswith(key) and after > key:
                    continue  # everything below sorts before start_after
                sub = self._open_dir(fd, name, key)
                if sub is None:
                    continue
                if self._by_directory:
                    yield from self._collapsed(sub, key)
                else:
                    yield from self.walk(sub, key, "")
        finally:
            os.close(fd)

    def _collapsed(self, fd: int, key: str) -> Iterator[CommonPrefix]:
        # Only a directory that holds at least one object is a common prefix.
        for _ in self.walk(fd, key, ""):
            yield CommonPrefix(key)
            return

    def _open_dir(self, fd: int, name: str, key: str) -> int | None:
        try:
            return os.open(name, O_DIR, dir_fd=fd)
        except OSError as exc:
            if exc.errno in VANISHED:
                return None  # removed, or replaced by a file or a link, since it was read
            raise self._failure(exc, key) from exc

    def _entries(self, fd: int, top: str, partial: str) -> list[tuple[str, str]]:
        """The directory's valid entries as (sort name, name), sorted as their keys sort."""
        try:
            return _sorted_entries(fd, partial)
        except OSError as exc:
            raise self._failure(exc, top) from exc


def _sorted_entries(fd: int, partial: str) -> list[tuple[str, str]]:
    out = []
    with os.scandir(fd) as it:
        for entry in it:
            name = entry.name
            if partial and not name.startswith(partial):
                continue
            if not (name.isascii() and name.isprintable()) and not _valid_name(name):
                continue
            if entry.is_file(follow_symlinks=False):
                out.append((name, name))
            elif entry.is_dir(follow_symlinks=False):
                out.append((name + "/", name))
    out.sort(key=lambda pair: pair[0])
    return out


def _valid_name(name: str) -> bool:
    return "/" not in name and key_problem(name) is None


def mtime(st: os.stat_result) -> datetime:
    """A file's modification time as an aware UTC datetime."""
    return datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC)
