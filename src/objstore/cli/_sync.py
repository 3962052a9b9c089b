"""``objstore sync SRC DST``: make DST hold every object of SRC, sending only what changed.

Both stores are listed lazily, in key order, and merged like two sorted files,
so memory stays bounded whatever the number of objects; objects are streamed,
``--jobs`` at a time. Whether an object present on both sides is up to date is
decided by the :class:`~objstore.cli._sync_record.SyncRecord` of the pair; an
object it has no row for (first run, killed run, lost record) is compared by
content type, metadata and bytes before anything is sent. docs/cli.md has the
whole story.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .._config import Config
from .._models import CommonPrefix, ObjectInfo
from .._store import Store
from ..errors import ObjstoreError
from . import _targets
from ._base import Command, Context
from ._output import human_size
from ._progress import Bar
from ._sync_record import SyncRecord, default_path
from ._transfer import TransferCancelled, copy_object

DEFAULT_JOBS = 4
_DELETE_BATCH = 1000
_CHUNK = 1 << 20


@dataclass
class Tally:
    """What a run did (or, with ``--dry-run``, would do)."""

    sent: int = 0
    sent_bytes: int = 0
    skipped: int = 0
    deleted: int = 0
    failed: int = 0

    def summary(self, dry_run: bool) -> str:
        sent = f"{_objects(self.sent)} ({self.sent_bytes} bytes, {human_size(self.sent_bytes)})"
        if dry_run:
            return f"dry run: would send {sent}, skip {self.skipped}, delete {self.deleted}"
        line = f"sent {sent}, skipped {self.skipped}, deleted {self.deleted}"
        return line + (f", failed {self.failed}" if self.failed else "")


def _objects(count: int) -> str:
    return f"{count} object" + ("" if count == 1 else "s")


Listed = ObjectInfo | CommonPrefix


def merge(
    src: Iterable[Listed], dst: Iterable[Listed]
) -> Iterator[tuple[ObjectInfo | None, ObjectInfo | None]]:
    """Pair two key-ordered listings: ``(src, dst)`` with ``None`` where a side lacks the key.

    A key is yielded only once the other listing has moved past it, so writing
    that key to the destination can never make the destination's listing yield
    it later.

    Raises:
        ObjstoreError: a listing is not in ascending key order (merging it
            could delete the wrong objects).
    """
    left, right = _ordered(src, "source"), _ordered(dst, "destination")
    a, b = next(left, None), next(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a.key < b.key):
            yield a, None
            a = next(left, None)
        elif a is None or b.key < a.key:
            yield None, b
            b = next(right, None)
        else:
            yield a, b
            a, b = next(left, None), next(right, None)


def _ordered(items: Iterable[Listed], side: str) -> Iterator[ObjectInfo]:
    last: str | None = None
    for item in items:
        if last is not None and item.key <= last:
            raise ObjstoreError(
                f"the {side} listed {item.key!r} after {last!r}: not in key order, "
                "so sync stops rather than guess what is missing"
            )
        last = item.key
        if isinstance(item, ObjectInfo):
            yield item


def same_object(
    src: Store, dst: Store, listed: tuple[ObjectInfo, ObjectInfo], cancel: threading.Event
) -> bool:
    """Whether both stores hold the listed versions, with the same bytes, content type and
    metadata.

    Raises:
        TransferCancelled: ``cancel`` was set.
    """
    key = listed[0].key
    a, b = src.stat(key), dst.stat(key)
    if (a.etag, b.etag) != (listed[0].etag, listed[1].etag):
        return False  # changed since listed: send (the next run looks again)
    if (a.size, a.content_type, dict(a.metadata or {})) != (
        b.size,
        b.content_type,
        dict(b.metadata or {}),
    ):
        return False
    return _digest(src, key, cancel) == _digest(dst, key, cancel)


def _digest(store: Store, key: str, cancel: threading.Event) -> bytes:
    digest = hashlib.sha256()
    with contextlib.closing(store.get_stream(key, chunk_size=_CHUNK)) as chunks:
        for chunk in chunks:
            if cancel.is_set():
                raise TransferCancelled("the comparison was cancelled")
            digest.update(chunk)
    return digest.digest()


class Syncer:
    """One run of ``sync``: the merge, the transfers in a pool, the deletions at the end."""

    def __init__(
        self,
        src: Store,
        dst: Store,
        record: SyncRecord,
        *,
        jobs: int = DEFAULT_JOBS,
        delete: bool = False,
        dry_run: bool = False,
        bar: Bar | None = None,
        out: IO[str] | None = None,
    ):
        self.src, self.dst, self.record = src, dst, record
        self.jobs, self.delete, self.dry_run = jobs, delete, dry_run
        self.bar = bar if bar is not None else Bar()
        self.out = out if out is not None else sys.stdout
        self.tally = Tally()
        self._cancel = threading.Event()
        self._pending: dict[Future[Any], tuple[ObjectInfo, ObjectInfo | None]] = {}

    def run(self) -> Tally:
        """Sync; return what was done.

        Raises:
            ObjstoreError: a listing failed (nothing is deleted then).
        """
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n") as doomed:
            with ThreadPoolExecutor(self.jobs, thread_name_prefix="objstore-sync") as pool:
                try:
                    self._merge(pool, doomed)
                    self._drain(pool, until=0)
                except BaseException:
                    self._cancel.set()  # in-flight puts abandon their upload: nothing half-written
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
            self._delete(doomed)
        return self.tally

    def _merge(self, pool: ThreadPoolExecutor, doomed: IO[str]) -> None:
        for src, dst in merge(self.src.list(), self.dst.list()):
            if src is None:
                if dst is not None and self.delete:
                    self._plan("delete", dst.key)
                    doomed.write(dst.key + "\n")  # keys hold no control character
            elif dst is None:
                self._send(pool, src)
            else:
                self._compare(pool, src, dst)
            self._drain(pool, until=2 * self.jobs)

    def _compare(self, pool: ThreadPoolExecutor, src: ObjectInfo, dst: ObjectInfo) -> None:
        known = self.record.up_to_date(src, dst)
        if known:
            self._skipped()
        elif known is None and src.size == dst.size:  # no row: look before sending
            future = pool.submit(same_object, self.src, self.dst, (src, dst), self._cancel)
            self._pending[future] = (src, dst)
        else:
            self._send(pool, src)

    def _send(self, pool: ThreadPoolExecutor, src: ObjectInfo) -> None:
        if self.dry_run:
            self._plan("send", f"{src.key} ({src.size} bytes)")
            self._count_sent(src.size)
            return
        future = pool.submit(
            copy_object,
            self.src,
            src.key,
            self.dst,
            src.key,
            progress=self.bar.callback(),
            cancel=self._cancel,
        )
        self._pending[future] = (src, None)

    def _drain(self, pool: ThreadPoolExecutor, *, until: int) -> None:
        """Handle finished work until at most ``until`` jobs are in flight."""
        while len(self._pending) > until:
            done, _ = wait(list(self._pending), return_when=FIRST_COMPLETED)
            for future in done:
                src, dst = self._pending.pop(future)
                try:
                    result = future.result()
                except ObjstoreError as exc:
                    self._failed(src.key, exc)
                    continue
                if dst is None:
                    self._sent(src, *result)
                elif result:
                    self._same(src, dst)
                else:
                    self._send(pool, src)

    def _same(self, src: ObjectInfo, dst: ObjectInfo) -> None:
        if not self.dry_run:
            self.record.sent(src, dst.etag)
        self._skipped()

    def _sent(self, src: ObjectInfo, read: ObjectInfo, written: ObjectInfo) -> None:
        if read.etag == src.etag:  # else it changed while listed: the next run looks again
            self.record.sent(src, written.etag)
        self._count_sent(written.size)

    def _delete(self, doomed: IO[str]) -> None:
        doomed.seek(0)
        batch: list[str] = []
        for line in doomed:
            batch.append(line.rstrip("\n"))
            if len(batch) == _DELETE_BATCH:
                self._delete_batch(batch)
                batch = []
        self._delete_batch(batch)

    def _delete_batch(self, keys: list[str]) -> None:
        if keys and not self.dry_run:
            self.dst.delete_many(keys)
            for key in keys:
                self.record.forget(key)
        self.tally.deleted += len(keys)

    def _plan(self, action: str, what: str) -> None:
        if self.dry_run:
            print(f"{action} {what}", file=self.out)

    def _count_sent(self, size: int) -> None:
        self.tally.sent += 1
        self.tally.sent_bytes += size
        self._note()

    def _skipped(self) -> None:
        self.tally.skipped += 1
        self._note()

    def _failed(self, key: str, exc: Exception) -> None:
        self.tally.failed += 1
        print(f"objstore: error: {key}: {' '.join(str(exc).split())}", file=sys.stderr)

    def _note(self) -> None:
        self.bar.note(f"{self.tally.sent} sent, {self.tally.skipped} skipped")


# -- the command ------------------------------------------------------------------------------


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if not 1 <= jobs <= 64:
        raise argparse.ArgumentTypeError(
            f"expected a number of transfers from 1 to 64, not {text!r}"
        )
    return jobs


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", metavar="SRC", help="a store URL, a config file or a directory")
    parser.add_argument("dst", metavar="DST", help="a store URL, a config file or a directory")
    parser.add_argument(
        "--delete", action="store_true", help="remove objects of DST that SRC lacks"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be sent and deleted; change nothing",
    )
    parser.add_argument(
        "--jobs",
        type=_jobs,
        default=DEFAULT_JOBS,
        metavar="N",
        help=f"transfers at a time (default: {DEFAULT_JOBS})",
    )
    parser.add_argument(
        "--record",
        metavar="FILE",
        type=Path,
        help="the file that remembers what was sent (default: in ~/.cache)",
    )


def _run(ctx: Context) -> int:
    args = ctx.args
    src_config, dst_config = _targets.load(args.src), _targets.load(args.dst)
    _targets.require_existing(src_config, _targets.describe(args.src))
    pair = _targets.identity(src_config) + _targets.identity(dst_config)
    path = args.record or default_path(hashlib.sha256(pair.encode()).hexdigest())
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(_targets.sync_store(src_config))
        dst = stack.enter_context(_destination(dst_config, args.dry_run))
        record = SyncRecord(path, read_only=args.dry_run)
        stack.callback(record.close)
        bar = stack.enter_context(ctx.progress("sync", None))
        tally = Syncer(
            src,
            dst,
            record,
            jobs=args.jobs,
            delete=args.delete,
            dry_run=args.dry_run,
            bar=bar,
            out=ctx.out,
        ).run()
    ctx.print(tally.summary(args.dry_run))
    return 1 if tally.failed else 0


def _destination(config: Config, dry_run: bool) -> Store:
    """The destination; for a dry run to a directory not made yet, an empty stand-in
    (opening a file store creates its root, and a dry run changes nothing)."""
    if dry_run and config.backend == "file" and not os.path.isdir(config.section["root"]):
        return _targets.sync_store(_targets.load("memory://"))
    return _targets.sync_store(config)


SYNC = Command(
    "sync",
    "make DST hold every object of SRC, sending only what changed",
    "objstore sync ./data 's3://bucket/data?region=eu-west-1' --delete --jobs 8",
    _run,
    _arguments,
)
