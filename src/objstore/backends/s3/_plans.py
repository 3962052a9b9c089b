"""The S3 backend's logic, written once for every transport, sync and async.

Each operation is a *plan*: a generator that yields the S3 operations of
:mod:`._ops` and receives their results (or has their :class:`WireError`
thrown in). :func:`run` drives a plan with a synchronous transport and
:func:`arun` with an asynchronous one, so the logic (conditional writes, lost
answers, ranged reads and their quirks, copies, deletes and the probes for
servers that cannot hold ``a`` beside ``a/b``) exists once. What differs per
transport is only how a request is sent; what differs between sync and async
is only the I/O of payloads and streams (:mod:`._multipart`, :mod:`._stream`).
A :class:`Batch` asks the runner to make several independent calls at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from ..._defaults import PARALLEL_READ_THRESHOLD
from ..._keys import show_key
from ..._listing import common_prefix
from ..._models import CommonPrefix, ObjectInfo
from ...backend import Create, Overwrite, WriteMode
from ...errors import (
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
    UnsupportedOperationError,
)
from . import _ops as ops
from ._answers import (
    body_span,
    changed,
    conflict,
    head_info,
    mode_headers,
    range_header,
    raw_metadata,
    server_time,
    strip_etag,
    written_info,
)
from ._errors import NO_BUCKET, NO_UPLOAD, S3AnswerError, TransportError, WireError
from ._metadata import encode_metadata
from ._multipart import MAX_OBJECT_SIZE, part_size, report_lingering
from ._presets import MAX_PART_SIZE, MiB, S3Options
from ._tokens import NAME as TOKEN
from ._tokens import Seen, Token

T = TypeVar("T")
Plan = Generator[Any, Any, T]

COPY_PART_SIZE = 512 * MiB  # parts of server-side copies over 5 GiB
ATTEMPTS = 3  # re-reads when an object changes under a ranged get or a copy
KEPT_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language")


@dataclass(frozen=True, slots=True)
class Batch:
    """Independent operations the runner makes at once, at most ``limit`` in flight."""

    calls: Sequence[ops.Op[Any]]
    limit: int


@dataclass(frozen=True, slots=True)
class Opened:
    """A GetObject answer ready to read: ``stream`` (``None``: nothing to read) covers
    ``[offset, end)`` after ``skip`` bytes the server sent before the range."""

    stream: Any
    info: ObjectInfo
    skip: int
    remaining: int


class SourceChangedError(Exception):
    """The copy source changed between reading its description and copying it."""


def run(plan: Plan[T], call: Callable[[Any], Any]) -> T:
    """Drive ``plan`` with the synchronous ``call`` of a transport."""
    try:
        step = next(plan)
        while True:
            try:
                result = _batch(step, call) if isinstance(step, Batch) else call(step)
            except Exception as exc:
                step = plan.throw(exc)
            else:
                step = plan.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        plan.close()


async def arun(plan: Plan[T], call: Callable[[Any], Awaitable[Any]]) -> T:
    """Drive ``plan`` with the asynchronous ``call`` of a transport."""
    try:
        step = next(plan)
        while True:
            try:
                if isinstance(step, Batch):
                    result = await _abatch(step, call)
                else:
                    result = await call(step)
            except Exception as exc:
                step = plan.throw(exc)
            else:
                step = plan.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        plan.close()


def _batch(batch: Batch, call: Callable[[Any], Any]) -> list[Any]:
    if len(batch.calls) == 1:
        return [call(batch.calls[0])]
    with ThreadPoolExecutor(batch.limit, thread_name_prefix="objstore-s3") as pool:
        # each call in a copy of the caller's context: its retries are the operation's
        futures = [pool.submit(contextvars.copy_context().run, call, op) for op in batch.calls]
        return [future.result() for future in futures]


async def _abatch(batch: Batch, call: Callable[[Any], Awaitable[Any]]) -> list[Any]:
    limit = asyncio.Semaphore(batch.limit)

    async def one(op: ops.Op[Any]) -> Any:
        async with limit:
            return await call(op)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(op)) for op in batch.calls]
    return [task.result() for task in tasks]


def missing_key(exc: S3AnswerError) -> bool:
    """Whether the answer says the key is missing (not the bucket)."""
    return exc.status == 404 and exc.code != NO_BUCKET


def status_of(exc: BaseException) -> int:
    return exc.status if isinstance(exc, S3AnswerError) else 0


class Logic:
    """The plans of one backend (its bucket, options and provider quirks)."""

    def __init__(self, options: S3Options):
        self.options = options
        self.bucket = options.bucket
        self.preset = options.preset
        self.probe_nesting = not options.nested_keys and not options.preset.conflict_codes
        self.reserved = options.preset.reserved_metadata | {TOKEN}
        self.seen = Seen()
        self._bucket_seen = False

    # -- describing ------------------------------------------------------------------------

    def describe(self, key: str, headers: ops.Headers, size: int) -> ObjectInfo:
        info = head_info(key, headers, size, self.reserved)
        self.seen.remember(key, info.etag, Token.parse(raw_metadata(headers).get(TOKEN)))
        return info

    def head(self, key: str, if_match: str | None = None) -> Plan[ObjectInfo]:
        headers = yield from self.head_headers(key, if_match)
        info = self.describe(key, headers, int(headers.get("content-length", 0) or 0))
        if if_match is not None and info.etag != if_match:
            raise changed(key, if_match)
        return info

    def head_headers(self, key: str, if_match: str | None = None) -> Plan[ops.Headers]:
        try:
            headers: ops.Headers = yield ops.HeadObject(key, if_match)
        except S3AnswerError as exc:
            if exc.status == 404:
                yield from self.confirm_bucket()  # HEAD answers carry no error code to tell
            raise
        return headers

    def etag_or_none(self, key: str) -> Plan[str | None]:
        try:
            headers = yield from self.head_headers(key)
        except S3AnswerError as exc:
            if missing_key(exc):
                return None
            raise
        return strip_etag(headers.get("etag", ""))

    def confirm_bucket(self) -> Plan[None]:
        """Tell a missing bucket from a missing key (once): HEAD answers are bare 404s."""
        if self._bucket_seen:
            return
        try:
            yield ops.HeadBucket()
        except S3AnswerError as exc:
            if exc.status == 404:
                raise S3AnswerError(NO_BUCKET, 404) from None
            return  # no right to ask: the key's 404 stands
        except WireError:
            return
        self._bucket_seen = True

    # -- writing ---------------------------------------------------------------------------

    def write_headers(
        self, content_type: str, metadata: Mapping[str, str], token: Token | None
    ) -> dict[str, str]:
        headers = {"content-type": content_type}
        headers.update(ops.metadata_headers(encode_metadata(metadata)))
        if token is not None:
            headers[f"x-amz-meta-{TOKEN}"] = token.header()
        return headers

    def token_for(
        self, key: str, mode: WriteMode, multipart: bool, metadata: Mapping[str, str]
    ) -> Plan[Token | None]:
        """The token of a write (``None`` for a plain overwrite in one request), with the
        history of the version it replaces for a conditional update, cut to what fits
        beside ``metadata`` in S3's 2 KiB (``None`` when nothing does: see ``settle``)."""
        if isinstance(mode, Overwrite):
            return Token.new().fitting(encode_metadata(metadata)) if multipart else None
        if isinstance(mode, Create):
            if multipart and (yield from self.etag_or_none(key)) is not None:
                raise S3AnswerError("PreconditionFailed", 412)  # fail before uploading anything
            return Token.new().fitting(encode_metadata(metadata))
        previous = self.seen.token_of(key, mode.etag)
        if previous is None:
            headers = yield from self.head_headers(key)  # a missing key fails as the put would
            etag = strip_etag(headers.get("etag", ""))
            if etag != mode.etag:
                raise S3AnswerError("PreconditionFailed", 412)  # fail before uploading anything
            previous = Token.parse(raw_metadata(headers).get(TOKEN))
        return Token.new(previous, mode.etag).fitting(encode_metadata(metadata))

    def put_object(
        self, key: str, body: ops.Body, headers: dict[str, str], mode: WriteMode,
        token: Token | None, described: tuple[str, Mapping[str, str]], crc: int | None = None,
    ) -> Plan[ObjectInfo]:  # fmt: skip
        checksum = self.options.checksums == "when_supported"
        op = ops.PutObject(key, body, {**headers, **mode_headers(mode)}, checksum, crc)
        try:
            answer = yield op
        except WireError as exc:
            settled = yield from self.settle(key, token, exc, len(body), described)
            if settled is None:
                raise
            return settled
        info = written_info(key, len(body), answer.get("etag", ""), answer, *described)
        self.seen.remember(key, info.etag, token)
        return info

    def complete(
        self, key: str, upload_id: str, parts: list[dict[str, str]], mode: WriteMode,
        token: Token | None, size: int, described: tuple[str, Mapping[str, str]],
    ) -> Plan[ObjectInfo]:  # fmt: skip
        ordered = sorted(parts, key=lambda part: int(part["PartNumber"]))
        try:
            done = yield ops.CompleteMultipartUpload(key, upload_id, ordered, mode_headers(mode))
        except WireError as exc:
            settled = yield from self.settle(key, token, exc, size, described)
            if settled is None:
                raise
            return settled
        # Some servers (rclone) answer an etag that HEAD, GET and LIST never show:
        # take the stored version's, if it is still this write's.
        mine = None
        try:
            if token is not None:
                mine = yield from self.written_by(key, token, size, described)
        except WireError:
            pass  # the write is committed: a failed look never makes it fail
        if mine is not None:
            return mine
        return written_info(key, size, done.etag, done.headers, *described)

    def settle(
        self, key: str, token: Token | None, exc: WireError, size: int,
        described: tuple[str, Mapping[str, str]],
    ) -> Plan[ObjectInfo | None]:  # fmt: skip
        """After a failed write: this write's version, if the failure hid a success."""
        lost = exc.uncertain or isinstance(exc, TransportError)
        refused = status_of(exc) in (404, 409, 412) or getattr(exc, "code", "") == NO_UPLOAD
        if not (lost and (refused or isinstance(exc, TransportError))):
            return None
        if token is None:
            if not refused:
                return None
            # No token could be sent (no room beside 2 KiB of metadata): a refusal after
            # a lost answer may be this very write's doing. Say so; never claim it failed.
            raise UnavailableError(
                f"s3: the answer to the write of {show_key(key)} was lost and its retry was "
                "refused; whether the first attempt was stored cannot be told (its metadata "
                "left no room for objstore's write token): read the key to find out",
                key=key,
                backend="s3",
            )
        try:
            return (yield from self.written_by(key, token, size, described))
        except WireError:
            return None  # cannot tell: the original failure stands

    def written_by(
        self, key: str, token: Token, size: int, described: tuple[str, Mapping[str, str]]
    ) -> Plan[ObjectInfo | None]:
        """The version this write stored, read back by its token (``None``: not found)."""
        try:
            headers = yield from self.head_headers(key)
        except S3AnswerError as exc:
            if missing_key(exc):
                return None
            raise
        stored = Token.parse(raw_metadata(headers).get(TOKEN))
        if stored is None:
            return None
        if stored.value == token.value:
            return self.describe(key, headers, int(headers.get("content-length", 0) or 0))
        etag = stored.etag_of(token.value)
        if etag is None:
            return None
        return written_info(key, size, etag, headers, *described)  # since replaced

    def check_size(self, key: str, total: int | None) -> None:
        if total is not None and total > MAX_OBJECT_SIZE:
            raise UnsupportedOperationError(
                f"{key!r} is {total} bytes; S3 objects are at most 5 TiB", key=key, backend="s3"
            )

    def create_upload(self, key: str, headers: dict[str, str]) -> Plan[str]:
        checksum = self.options.checksums == "when_supported"
        upload_id: str = yield ops.CreateMultipartUpload(key, headers, checksum)
        return upload_id

    def part(
        self, key: str, upload_id: str, number: int, data: bytes, crc: int | None = None
    ) -> ops.UploadPart:
        checksum = self.options.checksums == "when_supported"
        return ops.UploadPart(key, upload_id, number, data, checksum, crc)

    # -- nesting (servers that cannot hold a beside a/b) -------------------------------------

    def nesting_checked(self, key: str, plan: Plan[T]) -> Plan[T]:
        """Refuse a key that cannot coexist with others, on servers that cannot say so.

        rclone's server answers 500 InternalError for ``a/b`` beside ``a``; probing
        first gives a ``KeyConflictError`` at once, and a 500 is diagnosed the same way.
        """
        if self.probe_nesting:
            yield from self.check_nesting(key)
        try:
            return (yield from plan)
        except S3AnswerError as exc:
            if self.probe_nesting and exc.status == 500:
                yield from self.check_nesting(key)
            raise

    def check_nesting(self, key: str) -> Plan[None]:
        segments = key.split("/")
        for end in range(1, len(segments)):
            ancestor = "/".join(segments[:end])
            if (yield from self.etag_or_none(ancestor)) is not None:
                raise conflict(key, f"{ancestor!r} is an object")
        below: ops.Page = yield ops.ListObjectsV2(key + "/", max_keys=1)
        if below.objects or below.prefixes:
            raise conflict(key, f"the bucket holds keys below '{key}/'")

    # -- reading ---------------------------------------------------------------------------

    def parallel(self, length: int | None) -> bool:
        """Whether a read of ``length`` bytes (``None``: to the end) may go in parallel ranges."""
        return length is None or length >= PARALLEL_READ_THRESHOLD

    def open(
        self, key: str, offset: int, length: int | None, if_match: str | None, first: bool = False
    ) -> Plan[Opened]:
        """Open a read; with ``first``, of the first part only (the rest goes in parallel)."""
        if first:
            length = (
                self.options.part_size if length is None else min(length, self.options.part_size)
            )
        if length == 0:
            info = yield from self.head(key, if_match)
            return Opened(None, info, 0, 0)
        for _ in range(ATTEMPTS):
            try:
                reply = yield ops.GetObject(key, range_header(offset, length), if_match)
            except S3AnswerError as exc:
                if exc.status != 416:
                    raise
                info = yield from self.head(key, if_match)  # the range starts past the end
                if offset >= info.size:
                    return Opened(None, info, 0, 0)
                if_match = info.etag  # it grew meanwhile: read that version
                continue
            try:
                return (yield from self._opened(key, reply, offset, length, if_match))
            except BaseException:
                reply.stream.close()
                raise
        raise UnavailableError(f"{key!r} keeps changing under the reader", key=key, backend="s3")

    def _opened(
        self, key: str, reply: ops.Reply, offset: int, length: int | None, if_match: str | None
    ) -> Plan[Opened]:
        headers = reply.headers
        start, size = body_span(headers.get("content-range"), int(headers["content-length"]))
        if size is None:
            size = (yield from self.head(key)).size
        info = self.describe(key, headers, size)
        if if_match is not None and info.etag != if_match:
            raise changed(key, if_match)  # a server that ignores If-Match on reads
        end = info.size if length is None else min(info.size, offset + length)
        return Opened(reply.stream, info, max(0, offset - start), max(0, end - offset))

    # -- copying ---------------------------------------------------------------------------

    def copy(self, src_key: str, dst_key: str, mode: WriteMode) -> Plan[ObjectInfo]:
        for _ in range(ATTEMPTS):
            try:
                headers = yield from self.head_headers(src_key)  # a missing source first
            except S3AnswerError as exc:
                if exc.status == 404:
                    raise NotFoundError(
                        f"s3: no object {show_key(src_key)} to copy in bucket {self.bucket!r}",
                        key=src_key,
                        backend="s3",
                    ) from exc
                raise
            info = self.describe(src_key, headers, int(headers.get("content-length", 0) or 0))
            if isinstance(mode, Create) or info.size > MAX_PART_SIZE:
                plan = self._copy_parts(src_key, dst_key, info, headers, mode)
            else:
                plan = self._copy_object(src_key, dst_key, info, headers)
            try:
                return (yield from self.nesting_checked(dst_key, plan))
            except SourceChangedError:
                continue  # the source changed under the copy: start over
        raise UnavailableError(
            f"{src_key!r} kept changing while being copied", key=src_key, backend="s3"
        )

    def kept_headers(self, headers: ops.Headers) -> dict[str, str]:
        """What a REPLACE or multipart copy must restate to keep the source's fields."""
        kept = {name: headers[name] for name in KEPT_HEADERS if headers.get(name)}
        kept["content-type"] = headers.get("content-type") or "application/octet-stream"
        raw = {name.lower(): value for name, value in raw_metadata(headers).items()}
        for name, value in raw.items():
            if name not in self.reserved:
                kept[f"x-amz-meta-{name}"] = value
        return kept

    def _copy_object(
        self, src_key: str, dst_key: str, info: ObjectInfo, headers: ops.Headers
    ) -> Plan[ObjectInfo]:
        # S3 refuses to copy an object onto itself unchanged; restate what it has.
        replace = self.kept_headers(headers) if src_key == dst_key else None
        copy = ops.CopyObject(dst_key, src_key, info.etag, self.bucket, replace)
        done: ops.Copied = yield from _source_pinned(copy)
        if not done.etag:
            return (yield from self.head(dst_key))  # rclone answers a self-copy with no etag
        when = done.last_modified or server_time(done.headers)
        return dataclasses.replace(
            info, key=dst_key, etag=strip_etag(done.etag), last_modified=when
        )

    def _copy_parts(
        self, src_key: str, dst_key: str, info: ObjectInfo, headers: ops.Headers, mode: WriteMode
    ) -> Plan[ObjectInfo]:
        # Create-only copies go this way too: CopyObject's If-None-Match is new on
        # AWS and ignored elsewhere, while CompleteMultipartUpload's is honoured.
        if not self.preset.part_copy:
            raise UnsupportedOperationError(
                f"the {self.options.provider} preset has no UploadPartCopy, needed to copy "
                "objects over 5 GiB and for create-only copies",
                key=dst_key,
                backend="s3",
            )
        upload_id = yield from self.create_upload(dst_key, self.kept_headers(headers))
        try:
            parts: list[dict[str, str]] = yield from _source_pinned(
                Batch(
                    self._copy_part_ops(dst_key, upload_id, src_key, info),
                    self.options.max_concurrency,
                )
            )
            done: ops.Copied = yield ops.CompleteMultipartUpload(
                dst_key, upload_id, parts, mode_headers(mode)
            )
        except BaseException as exc:
            yield from self.abort(dst_key, upload_id, exc)
            raise
        return dataclasses.replace(
            info,
            key=dst_key,
            etag=strip_etag(done.etag),
            last_modified=server_time(done.headers),
        )

    def _copy_part_ops(
        self, key: str, upload_id: str, source: str, info: ObjectInfo
    ) -> list[ops.UploadPartCopy]:
        if info.size <= MAX_PART_SIZE:  # one part, the whole object (also right when empty)
            return [ops.UploadPartCopy(key, upload_id, 1, self.bucket, source, info.etag)]
        step = part_size(1, COPY_PART_SIZE, total=info.size)
        return [
            ops.UploadPartCopy(
                key,
                upload_id,
                number,
                self.bucket,
                source,
                info.etag,
                start,
                min(info.size, start + step) - 1,
            )
            for number, start in enumerate(range(0, info.size, step), 1)
        ]

    def abort(self, key: str, upload_id: str, cause: BaseException) -> Plan[None]:
        """Abort an upload after ``cause``; if that fails too, say which upload lingers."""
        try:
            yield ops.AbortMultipartUpload(key, upload_id)
        except Exception as exc:
            if not (isinstance(exc, S3AnswerError) and exc.code == NO_UPLOAD):  # already gone
                report_lingering(cause, key, upload_id, exc)

    # -- deleting --------------------------------------------------------------------------

    def delete(self, key: str) -> Plan[None]:
        if self.probe_nesting and (yield from self.etag_or_none(key)) is None:
            return  # see deletable
        yield ops.DeleteObject(key)

    def deletable(self, keys: list[str]) -> Plan[list[str]]:
        """The keys worth sending to DeleteObjects.

        On servers that cannot hold ``a`` beside ``a/b`` (rclone), deleting a key
        that is not an object is not harmless: rclone answers 500 for ``a`` when
        ``a/b`` exists, and deletes the object ``a`` when asked to delete ``a/c``.
        Such keys are checked one by one first.
        """
        if not self.probe_nesting:
            return keys
        kept = []
        for key in keys:
            if (yield from self.etag_or_none(key)) is not None:
                kept.append(key)
        return kept

    def delete_batch(self, keys: list[str]) -> Plan[None]:
        errors: list[tuple[str, str]] = yield ops.DeleteObjects(keys)
        failed = [(key, code) for key, code in errors if code != "NoSuchKey"]
        if not failed:
            return
        names = [key for key, _ in failed]
        codes = sorted({code for _, code in failed})
        shown = ", ".join(repr(k) for k in names[:5]) + (", ..." if len(names) > 5 else "")
        error = PermissionDeniedError if "AccessDenied" in codes else UnavailableError
        raise error(
            f"s3: could not delete {len(names)} key(s) from bucket {self.bucket!r}: {shown} "
            f"({', '.join(codes)})",
            key=names[0],
            backend="s3",
        )

    # -- listing ---------------------------------------------------------------------------

    def page(
        self, prefix: str, delimiter: str | None, start_after: str | None, token: str | None
    ) -> Plan[ops.Page]:
        page: ops.Page = yield ops.ListObjectsV2(prefix, delimiter, start_after or None, token)
        return page

    def group_of_start(
        self, prefix: str, delimiter: str | None, start_after: str | None
    ) -> Plan[CommonPrefix | None]:
        """The common prefix ``start_after`` falls in, if keys after it are under it too.

        S3 yields that prefix (keys after ``start_after`` collapse into it); moto
        and rclone compare the prefix itself with ``start_after`` and drop it.
        """
        if delimiter is None or not start_after or not start_after.startswith(prefix):
            return None
        group = common_prefix(start_after, prefix, delimiter)
        if group is None:
            return None
        page: ops.Page = yield ops.ListObjectsV2(group, start_after=start_after, max_keys=1)
        return CommonPrefix(group) if page.objects else None


def _source_pinned(step: Any) -> Plan[Any]:
    """Yield ``step``; a 412 of its ``CopySourceIfMatch`` means the source changed."""
    try:
        return (yield step)
    except S3AnswerError as exc:
        if exc.status == 412:
            raise SourceChangedError from None
        raise
