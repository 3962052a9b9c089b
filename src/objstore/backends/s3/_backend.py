"""The S3 backend: Amazon S3 and S3-compatible services, on objstore's own wire or on boto3.

How it keeps the contract (docs/s3.md has the long version):

- Atomic put: one PutObject up to ``multipart_threshold``, else a multipart
  upload whose parts go up in parallel in bounded memory; S3 makes either
  visible only whole, and every failure aborts the upload.
- Conditional writes: ``If-None-Match: *`` / ``If-Match`` on PutObject and on
  CompleteMultipartUpload, where the provider honours them (``capabilities``);
  a write whose answer was lost is settled by its token (:mod:`._tokens`).
- Reads: ranged GetObject; a dropped connection raises ``UnavailableError``
  and the store resumes pinned to the etag, which this backend also checks
  itself, for servers that ignore ``If-Match`` on reads.
- The logic of every operation is written once (:mod:`._plans`) and runs on
  the ``native`` transport (:mod:`._native`, and :mod:`._aio` for the asyncio
  methods of :class:`~._abackend.AsyncMethods`) or on ``boto3``
  (:mod:`._boto3`). Every native error is translated in :class:`._errors.ErrorMapper`.

botocore (and boto3 for its transport) is imported when the first backend is
created; without it the constructor raises ``ConfigError`` naming ``objstore[s3]``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from ... import _defaults
from ..._listing import collapse
from ..._models import Capabilities, CommonPrefix, ObjectInfo
from ..._payload import Payload
from ...backend import ReadStream, WriteMode
from ...errors import UnsupportedOperationError
from ._abackend import AsyncMethods
from ._answers import missing_class, page_items
from ._credentials import NoCredentialsError
from ._errors import ErrorMapper, TransportError
from ._multipart import PartReader, upload_parts
from ._plans import Logic, Plan, run
from ._presets import AddressingStyle, Checksums, Provider, Transport, resolve, without_userinfo
from ._ranges import PIECE, ParallelStream
from ._stream import EmptyStream, S3ReadStream

__all__ = ["S3Backend"]

T = TypeVar("T")


class S3Backend(AsyncMethods):
    """Objects in one bucket of Amazon S3 or an S3-compatible service.

    Options left ``None`` take the value of the ``provider``'s preset (docs/s3.md).
    To confine a store to a prefix of the bucket, wrap the backend in
    :class:`objstore.layers.PrefixLayer`.

    Args:
        bucket: The bucket; it must exist.
        endpoint_url: The service's URL; ``None`` for AWS itself.
        region: The region (``None``: boto3's configuration, else ``us-east-1``).
        access_key_id: With ``secret_access_key`` (and ``session_token``); all
            ``None`` means boto3's default chain (environment, profile, IAM role).
        secret_access_key: The secret key; never shown in reprs, logs or errors.
        session_token: A temporary session token.
        profile: A profile of ``~/.aws/config`` instead of explicit keys.
        addressing_style: ``"path"``, ``"virtual"`` or ``"auto"``.
        provider: ``"aws"``, ``"minio"``, ``"r2"``, ``"b2"``, ``"ceph"``,
            ``"rclone"`` or ``"other"``: the preset of known quirks.
        conditional_writes: The service honours ``If-None-Match``/``If-Match``
            race-free on PutObject and CompleteMultipartUpload.
        checksums: ``"when_supported"`` (CRC32 checksums on uploads) or
            ``"when_required"`` (only where S3 demands one).
        nested_keys: The service can hold ``a`` beside ``a/b``.
        batch_delete_size: Keys per DeleteObjects request (at most 1000).
        verify: TLS verification: ``True``, ``False`` or a CA bundle's path.
        multipart_threshold: Larger uploads go in parts (at most 5 GiB).
        part_size: The size of parts (5 MiB to 5 GiB); grows for huge uploads.
        max_concurrency: Parts (and ranges of big downloads) in flight at once.
        max_connections: Connections kept open; ``None``: ``max(10, 2 *
            max_concurrency)``. From configuration it covers ``max_workers`` too.
        max_attempts: Attempts per request, retries included.
        connect_timeout: Seconds to wait for a connection.
        read_timeout: Seconds to wait for data on a connection.
        transport: ``"native"`` (objstore's own SigV4 over HTTP, sync and
            asyncio) or ``"boto3"`` (boto3's client: moto's ``mock_aws``, event hooks).

    Raises:
        ConfigError: an option is invalid, or botocore/boto3 is missing (``objstore[s3]``).
    """

    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
        addressing_style: AddressingStyle | None = None,
        provider: Provider = "aws",
        conditional_writes: bool | None = None,
        checksums: Checksums | None = None,
        nested_keys: bool | None = None,
        batch_delete_size: int | None = None,
        verify: bool | str = True,
        multipart_threshold: int = _defaults.MULTIPART_THRESHOLD,
        part_size: int = _defaults.PART_SIZE,
        max_concurrency: int = _defaults.MAX_CONCURRENCY,
        max_connections: int | None = None,
        max_attempts: int = _defaults.MAX_ATTEMPTS,
        connect_timeout: float = _defaults.CONNECT_TIMEOUT,
        read_timeout: float = _defaults.READ_TIMEOUT,
        transport: Transport = _defaults.S3_TRANSPORT,
    ):
        options = resolve(
            bucket,
            provider,
            {
                "endpoint_url": endpoint_url, "region": region,
                "access_key_id": access_key_id, "secret_access_key": secret_access_key,
                "session_token": session_token, "profile": profile,
                "addressing_style": addressing_style, "conditional_writes": conditional_writes,
                "checksums": checksums, "nested_keys": nested_keys,
                "batch_delete_size": batch_delete_size, "verify": verify,
                "multipart_threshold": multipart_threshold, "part_size": part_size,
                "max_concurrency": max_concurrency, "max_connections": max_connections,
                "max_attempts": max_attempts, "connect_timeout": connect_timeout,
                "read_timeout": read_timeout, "transport": transport,
            },
        )  # fmt: skip
        self.options = options
        self.bucket = options.bucket
        self.capabilities = Capabilities(
            presign=True,
            conditional_put=options.conditional_writes,
            server_side_copy=True,
            batch_delete=True,
            multipart=True,
            nested_keys=options.nested_keys,
        )
        self._logic = Logic(options)
        self._wire, secrets, where = _make_wire(options)
        self._errors = ErrorMapper(options.bucket, where, options.preset.conflict_codes, secrets)
        self._awire = None
        self._where = where
        # the asyncio methods run on the event loop with the native transport only
        self.native_async = options.transport == "native"

    @property
    def client(self) -> Any:
        """The boto3 client of the ``boto3`` transport (event hooks, bucket setup).

        Raises:
            UnsupportedOperationError: the backend uses the native transport.
        """
        client = getattr(self._wire, "client", None)
        if client is None:
            raise UnsupportedOperationError(
                "the native S3 transport has no boto3 client: use transport='boto3'",
                backend=self.name,
            )
        return client

    def __repr__(self) -> str:
        return (
            f"S3Backend(bucket={self.bucket!r}, provider={self.options.provider!r}, "
            f"transport={self.options.transport!r}, at {self._where})"
        )

    def _run(self, plan: Plan[T]) -> T:
        return run(plan, self._wire.call)

    # -- writing ---------------------------------------------------------------------------

    def put(
        self,
        key: str,
        payload: Payload,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        mode: WriteMode,
    ) -> ObjectInfo:
        self._check_key(key)
        self._check_metadata(key, metadata)
        logic, threshold = self._logic, self.options.multipart_threshold
        described = (content_type, metadata)
        with self._errors(key, missing=missing_class(mode)):
            head = b""
            if payload.size is None or payload.size <= threshold:
                head = payload.read(threshold + 1)
                if len(head) <= threshold:
                    token = self._run(logic.token_for(key, mode, False, metadata))
                    headers = logic.write_headers(content_type, metadata, token)
                    payload.seal()
                    put = logic.put_object(key, head, headers, mode, token, described)
                    return self._run(logic.nesting_checked(key, put))
            return self._put_parts(key, PartReader(head, payload), payload, mode, described)

    def _put_parts(
        self,
        key: str,
        reader: PartReader,
        payload: Payload,
        mode: WriteMode,
        described: tuple[str, Mapping[str, str]],
    ) -> ObjectInfo:
        logic = self._logic
        logic.check_size(key, payload.size)
        token = self._run(logic.token_for(key, mode, True, described[1]))
        headers = logic.write_headers(*described, token)
        upload_id = self._run(logic.nesting_checked(key, logic.create_upload(key, headers)))
        try:
            parts = upload_parts(
                self._wire.call,
                functools.partial(logic.part, key, upload_id),
                reader,
                self._part_sizes(payload.size),
                self.options.max_concurrency,
            )
            payload.seal()
            size = payload.bytes_read
            return self._run(logic.complete(key, upload_id, parts, mode, token, size, described))
        except BaseException as exc:
            self._run(logic.abort(key, upload_id, exc))
            raise

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        self._check_key(src_key)
        self._check_key(dst_key)
        with self._errors(dst_key):
            return self._run(self._logic.copy(src_key, dst_key, mode))

    def delete(self, key: str) -> None:
        self._check_key(key)
        with self._errors(key):
            self._run(self._logic.delete(key))

    def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._check_key(key)
        with self._errors(None):
            unique = self._run(self._logic.deletable(list(dict.fromkeys(keys))))
            size = self.options.batch_delete_size
            for start in range(0, len(unique), size):
                self._run(self._logic.delete_batch(unique[start : start + size]))

    # -- reading ---------------------------------------------------------------------------

    def get(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> ReadStream:
        self._check_key(key)
        parallel = self._logic.parallel(length)
        with self._errors(key):
            opened = self._run(self._logic.open(key, offset, length, if_match, parallel))
        if opened.stream is None:
            return EmptyStream(opened.info)
        stream = S3ReadStream(opened.stream, opened.info, opened.skip, opened.remaining)
        info, start = opened.info, offset + opened.remaining
        end = info.size if length is None else min(info.size, offset + length)
        if not parallel or start >= end:
            return stream
        fetch = functools.partial(self._fetch, key, info.etag)
        options = self.options
        return ParallelStream(stream, fetch, start, end, options.part_size, options.max_concurrency)

    def _fetch(self, key: str, etag: str, start: int, end: int) -> list[bytes]:
        """The bytes ``[start, end)`` of the version ``etag`` of ``key``, read whole."""
        with self._errors(key):
            opened = self._run(self._logic.open(key, start, end - start, etag))
        stream = S3ReadStream(opened.stream, opened.info, opened.skip, opened.remaining)
        try:
            parts = []
            while chunk := stream.read(PIECE):
                parts.append(chunk)
        finally:
            stream.close()
        if sum(map(len, parts)) != end - start:
            raise TransportError("the answer ended early")
        return parts

    def stat(self, key: str) -> ObjectInfo:
        self._check_key(key)
        with self._errors(key):
            return self._run(self._logic.head(key))

    # -- listing ---------------------------------------------------------------------------

    def list(
        self, prefix: str, *, delimiter: str | None, start_after: str | None
    ) -> Iterator[ObjectInfo | CommonPrefix]:
        native = delimiter == "/" or self.options.preset.any_delimiter
        items = self._listing(prefix, delimiter if native else None, start_after)
        if delimiter is not None and not native:
            # The service treats every delimiter as "/": group client-side instead.
            return collapse(items, prefix, delimiter)  # type: ignore[arg-type]
        return items

    def _listing(
        self, prefix: str, delimiter: str | None, start_after: str | None
    ) -> Iterator[ObjectInfo | CommonPrefix]:
        logic, last, token = self._logic, "", None
        with self._errors(None):
            group = self._run(logic.group_of_start(prefix, delimiter, start_after))
        if group is not None:
            last = group.key
            yield group
        while True:
            with self._errors(None):
                page = self._run(logic.page(prefix, delimiter, start_after, token))
            for item in page_items(page):
                if item.key > last:  # never a key twice, never out of order
                    last = item.key
                    yield item
            token = page.next_token
            if token is None:
                return

    # -- presigning and lifecycle ------------------------------------------------------------

    def presign(self, key: str, *, method: str, expires: int, content_type: str | None) -> str:
        self._check_key(key)
        headers = {"content-type": content_type} if content_type is not None else {}
        try:
            return self._wire.presign(key, method, expires, headers)  # type: ignore[no-any-return]
        except NoCredentialsError:
            raise UnsupportedOperationError(
                "s3: cannot presign without credentials: give access_key_id and "
                "secret_access_key, a profile, or configure boto3's default chain",
                key=key,
                backend=self.name,
            ) from None
        except Exception as exc:
            mapped = self._errors.translate(exc, key)
            if mapped is None:
                raise
            raise mapped from exc

    def close(self) -> None:
        self._wire.close()
        if self._awire is not None:
            self._awire.abandon()


def _make_wire(options: Any) -> tuple[Any, Any, str]:
    """The transport for ``options``, how to read its secrets, and the endpoint to name."""
    where = without_userinfo(options.endpoint_url) if options.endpoint_url else "AWS S3"
    if options.transport == "boto3":
        from ._boto3 import Boto3Wire

        wire: Any = Boto3Wire(options)
        return wire, wire.secrets, where
    from ._credentials import Credentials
    from ._native import NativeWire

    credentials = Credentials(options)
    native = NativeWire(options, credentials, credentials.ca_bundle)
    with contextlib.suppress(ImportError):
        import aiohttp  # noqa: F401 - here, not on the event loop at the first async call
    if not options.endpoint_url:
        where = native.endpoint.display()
    return native, credentials.secrets, where
