"""The S3 backend's asyncio methods (``AsyncBackend``), on the native transport's aiohttp.

Each is the twin of a sync method of :class:`~._backend.S3Backend`, with the same
names, order and structure: the logic is the same plan (:mod:`._plans`), run with
:func:`~._plans.arun`; only payload reads and streams are awaited. Nothing here
uses a thread. A cancelled task stops at its next await: an upload not yet
committed is aborted, and a commit already sent is left to finish or not, as
the server decides (the old object, or the new one whole).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from ..._listing import common_prefix
from ..._models import CommonPrefix, ObjectInfo
from ..._payload import AsyncPayload
from ...backend import AsyncReadStream, WriteMode
from ...errors import UnsupportedOperationError
from ._answers import missing_class, page_items
from ._core import S3Core
from ._errors import TransportError
from ._multipart import AsyncPartReader, aupload_parts
from ._plans import Plan, arun
from ._ranges import PIECE, AsyncParallelStream
from ._stream import AsyncEmptyStream, AsyncS3ReadStream

if TYPE_CHECKING:
    from ._aio import AsyncNativeWire

T = TypeVar("T")


class AsyncMethods(S3Core):
    """The ``AsyncBackend`` half of :class:`~._backend.S3Backend`."""

    def _async_wire(self) -> AsyncNativeWire:
        if self._awire is None:
            if self.options.transport != "native":
                raise UnsupportedOperationError(
                    "the boto3 S3 transport has no asyncio methods (AsyncStore runs it in "
                    "its worker pool)",
                    backend=self.name,
                )
            from ._aio import AsyncNativeWire

            wire = self._wire
            self._awire = AsyncNativeWire(self.options, wire.endpoint, wire.tls, wire.secrets)
        return self._awire  # type: ignore[no-any-return]

    async def _arun(self, plan: Plan[T]) -> T:
        return await arun(plan, self._async_wire().call)

    async def aput(
        self,
        key: str,
        payload: AsyncPayload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        """See :meth:`S3Backend.put`."""
        self._check_key(key)
        self._check_metadata(key, metadata)
        # A turn for the loop before reading the payload: hundreds of puts started at
        # once then spread their preparation over several turns instead of one.
        await asyncio.sleep(0)
        logic, threshold = self._logic, self.options.multipart_threshold
        described = (content_type, metadata)
        with self._errors(key, missing=missing_class(mode)):
            reader = AsyncPartReader(payload)
            if payload.size is None or payload.size <= threshold:
                head = await reader.read(threshold + 1)
                if len(head) <= threshold:
                    token = await self._arun(logic.token_for(key, mode, False, metadata))
                    headers = logic.write_headers(content_type, metadata, token)
                    payload.seal()
                    put = logic.put_object(key, head, headers, mode, token, described, reader.crc)
                    return await self._arun(logic.nesting_checked(key, put))
                reader.unread(head)
            return await self._aput_parts(key, reader, payload, mode, described)

    async def _aput_parts(
        self,
        key: str,
        reader: AsyncPartReader,
        payload: AsyncPayload,
        mode: WriteMode,
        described: tuple[str, Mapping[str, str]],
    ) -> ObjectInfo:
        logic = self._logic
        logic.check_size(key, payload.size)
        token = await self._arun(logic.token_for(key, mode, True, described[1]))
        headers = logic.write_headers(*described, token)
        upload_id = await self._arun(logic.nesting_checked(key, logic.create_upload(key, headers)))
        try:
            parts = await aupload_parts(
                self._async_wire().call,
                functools.partial(logic.part, key, upload_id),
                reader,
                self._part_sizes(payload.size),
                self.options.max_concurrency,
            )
            payload.seal()
            size = payload.bytes_read
            complete = logic.complete(key, upload_id, parts, mode, token, size, described)
            return await self._arun(complete)
        except BaseException as exc:
            # shielded: a second cancellation must not leave the upload behind
            await asyncio.shield(self._arun(logic.abort(key, upload_id, exc)))
            raise

    async def acopy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        """See :meth:`S3Backend.copy`."""
        self._check_key(src_key)
        self._check_key(dst_key)
        with self._errors(dst_key):
            return await self._arun(self._logic.copy(src_key, dst_key, mode))

    async def adelete(self, key: str) -> None:
        """See :meth:`S3Backend.delete`."""
        self._check_key(key)
        with self._errors(key):
            await self._arun(self._logic.delete(key))

    async def adelete_many(self, keys: Sequence[str]) -> None:
        """See :meth:`S3Backend.delete_many`."""
        for key in keys:
            self._check_key(key)
        with self._errors(None):
            unique = await self._arun(self._logic.deletable(list(dict.fromkeys(keys))))
            size = self.options.batch_delete_size
            for start in range(0, len(unique), size):
                await self._arun(self._logic.delete_batch(unique[start : start + size]))

    async def aget(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> AsyncReadStream:
        """See :meth:`S3Backend.get`."""
        self._check_key(key)
        parallel = self._logic.parallel(length)
        with self._errors(key):
            opened = await self._arun(self._logic.open(key, offset, length, if_match, parallel))
        if opened.stream is None:
            return AsyncEmptyStream(opened.info)
        stream = AsyncS3ReadStream(opened.stream, opened.info, opened.skip, opened.remaining)
        info, start = opened.info, offset + opened.remaining
        end = info.size if length is None else min(info.size, offset + length)
        if not parallel or start >= end:
            return stream
        fetch = functools.partial(self._afetch, key, info.etag)
        options = self.options
        return AsyncParallelStream(
            stream, fetch, start, end, options.part_size, options.max_concurrency
        )

    async def _afetch(self, key: str, etag: str, start: int, end: int) -> list[bytes]:
        """See :meth:`S3Backend._fetch`."""
        with self._errors(key):
            opened = await self._arun(self._logic.open(key, start, end - start, etag))
        stream = AsyncS3ReadStream(opened.stream, opened.info, opened.skip, opened.remaining)
        try:
            parts = []
            while chunk := await stream.read(PIECE):
                parts.append(chunk)
        finally:
            await stream.aclose()
        if sum(map(len, parts)) != end - start:
            raise TransportError("the answer ended early")
        return parts

    async def astat(self, key: str) -> ObjectInfo:
        """See :meth:`S3Backend.stat`."""
        self._check_key(key)
        with self._errors(key):
            return await self._arun(self._logic.head(key))

    def alist(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> AsyncIterator[ObjectInfo | CommonPrefix]:
        """See :meth:`S3Backend.list`."""
        native = delimiter == "/" or self.options.preset.any_delimiter
        items = self._alisting(prefix, delimiter if native else None, start_after)
        if delimiter is not None and not native:
            return collapse_async(items, prefix, delimiter)
        return items

    async def _alisting(
        self, prefix: str, delimiter: str | None, start_after: str | None
    ) -> AsyncIterator[ObjectInfo | CommonPrefix]:
        logic, last, token = self._logic, "", None
        with self._errors(None):
            group = await self._arun(logic.group_of_start(prefix, delimiter, start_after))
        if group is not None:
            last = group.key
            yield group
        while True:
            with self._errors(None):
                page = await self._arun(logic.page(prefix, delimiter, start_after, token))
            for item in page_items(page):
                if item.key > last:
                    last = item.key
                    yield item
            token = page.next_token
            if token is None:
                return

    async def aclose(self) -> None:
        """See :meth:`S3Backend.close`."""
        if self._awire is not None:
            await self._awire.aclose()
        self._wire.close()


async def collapse_async(
    items: AsyncIterator[ObjectInfo | CommonPrefix], prefix: str, delimiter: str
) -> AsyncIterator[ObjectInfo | CommonPrefix]:
    """The asyncio twin of :func:`objstore._listing.collapse`."""
    last: str | None = None
    async for info in items:
        group = common_prefix(info.key, prefix, delimiter)
        if group is None:
            yield info
        elif group != last:
            last = group
            yield CommonPrefix(group)
