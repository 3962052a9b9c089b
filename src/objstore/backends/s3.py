"""The S3 backend: Amazon S3 and S3-compatible services through one boto3 client.

How it keeps the contract (docs/s3.md has the long version):

- Atomic put: one PutObject up to ``multipart_threshold``, else a multipart
  upload whose parts go up in parallel in bounded memory; S3 makes either
  visible only whole, and every failure aborts the upload.
- Conditional writes: ``If-None-Match: *`` / ``If-Match`` on PutObject and on
  CompleteMultipartUpload, where the provider honours them (``capabilities``).
- Reads: ranged GetObject; a dropped connection raises ``UnavailableError``
  and the store resumes pinned to the etag, which this backend also checks
  itself, for servers that ignore ``If-Match`` on reads.
- Metadata values that an HTTP header cannot carry as they are travel as RFC
  2047 encoded words and come back exactly (:mod:`._s3_metadata`).
- Every native error is translated in :class:`._s3_errors.ErrorMapper`.

boto3 is imported when the first backend is created; without it the
constructor raises ``ConfigError`` naming the ``objstore[s3]`` extra.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .._listing import collapse, common_prefix
from .._models import Capabilities, CommonPrefix, ObjectInfo
from .._payload import Payload
from ..backend import BackendBase, Create, Overwrite, ReadStream, WriteMode, check_write
from ..errors import (
    ConfigError,
    InvalidKeyError,
    PermissionDeniedError,
    UnavailableError,
    UnsupportedOperationError,
)
from ._s3_answers import (
    SourceChangedError,
    changed,
    conditions,
    conflict,
    described_info,
    missing_class,
    page_items,
    server_time,
    source_pinned,
    strip_etag,
    utc,
    written_info,
)
from ._s3_client import make_client
from ._s3_errors import ErrorMapper, error_code, is_missing_credentials
from ._s3_metadata import encode_metadata
from ._s3_multipart import (
    MAX_OBJECT_SIZE,
    PartReader,
    multipart,
    part_size,
    retry_on_conflict,
    run_bounded,
)
from ._s3_presets import (
    MAX_PART_SIZE,
    AddressingStyle,
    Checksums,
    MiB,
    Provider,
    resolve,
    without_userinfo,
)
from ._s3_stream import EmptyStream, S3ReadStream, body_span, range_header

__all__ = ["S3Backend"]

COPY_PART_SIZE = 512 * MiB  # parts of server-side copies over 5 GiB
_ATTEMPTS = 3  # re-reads when an object changes under a ranged get or a copy
_KEPT_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage")


@dataclasses.dataclass(frozen=True, slots=True)
class _Source:
    """A copy source: its description and what a REPLACE or multipart copy must restate."""

    info: ObjectInfo
    fields: dict[str, Any]


class S3Backend(BackendBase):
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
        checksums: ``"when_supported"`` (boto3 sends CRC32 checksums) or
            ``"when_required"`` (only where S3 demands one).
        nested_keys: The service can hold ``a`` beside ``a/b``.
        batch_delete_size: Keys per DeleteObjects request (at most 1000).
        verify: TLS verification: ``True``, ``False`` or a CA bundle's path.
        multipart_threshold: Larger uploads go in parts (at most 5 GiB).
        part_size: The size of parts (5 MiB to 5 GiB); grows for huge uploads.
        max_concurrency: Parts in flight at once, per upload.
        max_connections: Connections the client keeps open; ``None``:
            ``max(10, 2 * max_concurrency)``. Raise it to the number of threads
            that share the store; from configuration, it covers ``max_workers`` too.
        max_attempts: Attempts per request, retries included (boto3 standard mode).
        connect_timeout: Seconds to wait for a connection.
        read_timeout: Seconds to wait for data on a connection.

    Raises:
        ConfigError: an option is invalid, or boto3 is missing (``objstore[s3]``).
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
        multipart_threshold: int = 16 * MiB,
        part_size: int = 8 * MiB,
        max_concurrency: int = 8,
        max_connections: int | None = None,
        max_attempts: int = 5,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
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
                "max_attempts": max_attempts,
                "connect_timeout": connect_timeout, "read_timeout": read_timeout,
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
        preset = options.preset
        self._errors = ErrorMapper(options.bucket, options.secrets, preset.conflict_codes)
        self._probe_nesting = not options.nested_keys and not preset.conflict_codes
        self._bucket_seen = False
        self._client = make_client(options)

    @property
    def client(self) -> Any:
        """The boto3 S3 client, for what objstore does not cover (event hooks, bucket setup)."""
        return self._client

    def __repr__(self) -> str:
        where = without_userinfo(self.options.endpoint_url) if self.options.endpoint_url else "AWS"
        return f"S3Backend(bucket={self.bucket!r}, provider={self.options.provider!r}, at {where})"

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
        fields = {"ContentType": content_type, "Metadata": encode_metadata(metadata)}
        threshold = self.options.multipart_threshold
        with self._errors(key, missing=missing_class(mode)), self._nesting_checked(key):
            head = b""
            if payload.size is None or payload.size <= threshold:
                head = payload.read(threshold + 1)
                if len(head) <= threshold:
                    payload.seal()
                    answer = retry_on_conflict(
                        lambda: self._client.put_object(
                            Bucket=self.bucket, Key=key, Body=head, **fields, **conditions(mode)
                        )
                    )
                    return written_info(key, len(head), answer, content_type, metadata)
            reader = PartReader(head, payload)
            answer = self._put_parts(key, reader, payload, fields, mode)
            return written_info(key, payload.bytes_read, answer, content_type, metadata)

    def _put_parts(
        self,
        key: str,
        reader: PartReader,
        payload: Payload,
        fields: dict[str, Any],
        mode: WriteMode,
    ) -> dict[str, Any]:
        total = payload.size
        if total is not None and total > MAX_OBJECT_SIZE:
            raise UnsupportedOperationError(
                f"{key!r} is {total} bytes; S3 objects are at most 5 TiB",
                key=key,
                backend=self.name,
            )
        if not isinstance(mode, Overwrite):
            # fail before uploading, not after
            check_write(key, mode, self._etag_or_none(key), self.name)
        sizes = functools.partial(
            part_size,
            configured=self.options.part_size,
            total=total,
            uniform=self.options.preset.uniform_parts,
        )
        create = dict(fields)
        if self.options.checksums == "when_supported":
            # boto3 then sends each part's CRC32; declaring it lets S3 keep one for the object.
            create["ChecksumAlgorithm"] = "CRC32"
        with multipart(self._client, self.bucket, key, **create) as upload:
            parts = run_bounded(upload.data_parts(reader, sizes), self.options.max_concurrency)
            payload.seal()
            return upload.complete(parts, conditions(mode))

    def copy(self, src_key: str, dst_key: str, *, mode: WriteMode) -> ObjectInfo:
        self._check_key(src_key)
        self._check_key(dst_key)
        with self._errors(dst_key):
            for _ in range(_ATTEMPTS):
                source = self._source(src_key)  # a missing source first, then a conflict
                try:
                    with self._nesting_checked(dst_key):
                        if isinstance(mode, Create) or source.info.size > MAX_PART_SIZE:
                            return self._copy_parts(src_key, dst_key, source, mode)
                        return self._copy_object(src_key, dst_key, source)
                except SourceChangedError:
                    continue
        raise UnavailableError(
            f"{src_key!r} kept changing while being copied", key=src_key, backend=self.name
        )

    def _source(self, key: str) -> _Source:
        with self._errors(key):
            answer = self._head_object(key)
        fields = {name: answer[name] for name in _KEPT_HEADERS if answer.get(name)}
        fields["ContentType"] = answer.get("ContentType") or "application/octet-stream"
        reserved = self.options.preset.reserved_metadata
        raw = {name.lower(): value for name, value in answer.get("Metadata", {}).items()}
        fields["Metadata"] = {name: value for name, value in raw.items() if name not in reserved}
        return _Source(self._describe(key, answer, int(answer["ContentLength"])), fields)

    def _copy_object(self, src_key: str, dst_key: str, source: _Source) -> ObjectInfo:
        args: dict[str, Any] = {"MetadataDirective": "COPY"}
        if src_key == dst_key:
            # S3 refuses to copy an object onto itself unchanged; restate what it has.
            args = {"MetadataDirective": "REPLACE", **source.fields}
        with source_pinned():
            answer = self._client.copy_object(
                Bucket=self.bucket,
                Key=dst_key,
                CopySource={"Bucket": self.bucket, "Key": src_key},
                CopySourceIfMatch=f'"{source.info.etag}"',
                **args,
            )
        result = answer.get("CopyObjectResult", {})
        if not result.get("ETag"):
            return self._head(dst_key, None)  # rclone answers a copy onto itself with no etag
        return dataclasses.replace(
            source.info,
            key=dst_key,
            etag=strip_etag(result["ETag"]),
            last_modified=utc(result.get("LastModified")) or server_time(answer),
        )

    def _copy_parts(
        self, src_key: str, dst_key: str, source: _Source, mode: WriteMode
    ) -> ObjectInfo:
        # Create-only copies go this way too: CopyObject's If-None-Match is new on
        # AWS and ignored elsewhere, while CompleteMultipartUpload's is honoured.
        if not self.options.preset.part_copy:
            raise UnsupportedOperationError(
                f"the {self.options.provider} preset has no UploadPartCopy, needed to copy "
                "objects over 5 GiB and for create-only copies",
                key=dst_key,
                backend=self.name,
            )
        info = source.info
        step = part_size(1, COPY_PART_SIZE, total=info.size)
        with multipart(self._client, self.bucket, dst_key, **source.fields) as upload:
            with source_pinned():
                parts = run_bounded(
                    upload.copy_parts(src_key, info.etag, info.size, step),
                    self.options.max_concurrency,
                )
            answer = upload.complete(parts, conditions(mode))
        etag = strip_etag(answer["ETag"])
        return dataclasses.replace(info, key=dst_key, etag=etag, last_modified=server_time(answer))

    def delete(self, key: str) -> None:
        self._check_key(key)
        with self._errors(key):
            if self._probe_nesting and self._etag_or_none(key) is None:
                return  # see _deletable
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._check_key(key)
        unique = self._deletable(list(dict.fromkeys(keys)))
        size = self.options.batch_delete_size
        for start in range(0, len(unique), size):
            batch = unique[start : start + size]
            with self._errors(None):
                answer = self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            self._check_deleted(answer.get("Errors", []))

    def _deletable(self, keys: builtins.list[str]) -> builtins.list[str]:
        """The keys worth sending to DeleteObjects.

        On servers that cannot hold ``a`` beside ``a/b`` (rclone), deleting a key
        that is not an object is not harmless: rclone answers 500 for ``a`` when
        ``a/b`` exists, and deletes the object ``a`` when asked to delete ``a/c``.
        Such keys are checked one by one first.
        """
        if not self._probe_nesting:
            return keys
        with self._errors(None):
            return [key for key in keys if self._etag_or_none(key) is not None]

    def _check_deleted(self, errors: builtins.list[dict[str, str]]) -> None:
        failed = [e for e in errors if e.get("Code") != "NoSuchKey"]
        if not failed:
            return
        keys = [e.get("Key", "?") for e in failed]
        codes = sorted({e.get("Code", "?") for e in failed})
        shown = ", ".join(repr(k) for k in keys[:5]) + (", ..." if len(keys) > 5 else "")
        error = PermissionDeniedError if "AccessDenied" in codes else UnavailableError
        raise error(
            f"s3: could not delete {len(keys)} key(s) from bucket {self.bucket!r}: {shown} "
            f"({', '.join(codes)})",
            key=keys[0],
            backend=self.name,
        )

    # -- reading ---------------------------------------------------------------------------

    def get(
        self, key: str, *, offset: int, length: int | None, if_match: str | None = None
    ) -> ReadStream:
        self._check_key(key)
        with self._errors(key):
            if length == 0:
                return EmptyStream(self._head(key, if_match))
            for _ in range(_ATTEMPTS):
                answer = self._get_object(key, offset, length, if_match)
                if answer is not None:
                    return self._stream(key, answer, offset, length, if_match)
                info = self._head(key, if_match)  # 416: the range starts past the end
                if offset >= info.size:
                    return EmptyStream(info)
                if_match = info.etag  # it grew meanwhile: read that version
        raise UnavailableError(
            f"{key!r} keeps changing under the reader", key=key, backend=self.name
        )

    def _get_object(
        self, key: str, offset: int, length: int | None, if_match: str | None
    ) -> dict[str, Any] | None:
        args = {"Bucket": self.bucket, "Key": key}
        if (byte_range := range_header(offset, length)) is not None:
            args["Range"] = byte_range
        if if_match is not None:
            args["IfMatch"] = f'"{if_match}"'
        try:
            answer: dict[str, Any] = self._client.get_object(**args)
        except Exception as exc:
            if error_code(exc)[1] == 416:
                return None
            raise
        return answer

    def _stream(
        self,
        key: str,
        answer: dict[str, Any],
        offset: int,
        length: int | None,
        if_match: str | None,
    ) -> S3ReadStream:
        body = answer["Body"]
        try:
            start, size = body_span(answer.get("ContentRange"), int(answer["ContentLength"]))
            info = self._describe(key, answer, size if size is not None else self.stat(key).size)
            if if_match is not None and info.etag != if_match:
                raise changed(key, if_match)  # a server that ignores If-Match on reads
        except BaseException:
            body.close()
            raise
        end = info.size if length is None else min(info.size, offset + length)
        return S3ReadStream(body, info, max(0, offset - start), max(0, end - offset))

    def stat(self, key: str) -> ObjectInfo:
        self._check_key(key)
        with self._errors(key):
            return self._head(key, None)

    def _head(self, key: str, if_match: str | None) -> ObjectInfo:
        answer = self._head_object(key, if_match)
        info = self._describe(key, answer, int(answer["ContentLength"]))
        if if_match is not None and info.etag != if_match:
            raise changed(key, if_match)
        return info

    def _head_object(self, key: str, if_match: str | None = None) -> dict[str, Any]:
        args = {"IfMatch": f'"{if_match}"'} if if_match is not None else {}
        try:
            answer: dict[str, Any] = self._client.head_object(Bucket=self.bucket, Key=key, **args)
        except Exception as exc:
            if error_code(exc)[1] == 404:
                self._confirm_bucket()  # HEAD answers carry no error code to tell
            raise
        return answer

    def _etag_or_none(self, key: str) -> str | None:
        try:
            return strip_etag(self._head_object(key)["ETag"])
        except Exception as exc:
            if error_code(exc)[1] == 404:
                return None
            raise

    def _confirm_bucket(self) -> None:
        """Tell a missing bucket from a missing key (once): HEAD answers are bare 404s."""
        if self._bucket_seen:
            return
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            if error_code(exc)[1] == 404:
                raise ConfigError(
                    f"s3: the bucket {self.bucket!r} does not exist", backend=self.name
                ) from exc
            return  # no right to ask, or no answer: the key's 404 stands
        self._bucket_seen = True

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
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter is not None:
            args["Delimiter"] = delimiter
        if start_after:
            args["StartAfter"] = start_after
        last = ""
        if (group := self._group_of_start(prefix, delimiter, start_after)) is not None:
            last = group.key
            yield group
        while True:
            with self._errors(None):
                page = self._client.list_objects_v2(**args)
            for item in page_items(page):
                if item.key > last:  # never a key twice, never out of order
                    last = item.key
                    yield item
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            args["ContinuationToken"] = token

    def _group_of_start(
        self, prefix: str, delimiter: str | None, start_after: str | None
    ) -> CommonPrefix | None:
        """The common prefix ``start_after`` falls in, if keys after it are under it too.

        S3 yields that prefix (keys after ``start_after`` collapse into it); moto
        and rclone compare the prefix itself with ``start_after`` and drop it.
        """
        if delimiter is None or not start_after or not start_after.startswith(prefix):
            return None
        group = common_prefix(start_after, prefix, delimiter)
        if group is None:
            return None
        with self._errors(None):
            page = self._client.list_objects_v2(
                Bucket=self.bucket, Prefix=group, StartAfter=start_after, MaxKeys=1
            )
        return CommonPrefix(group) if page.get("Contents") else None

    # -- presigning and lifecycle ------------------------------------------------------------

    def presign(self, key: str, *, method: str, expires: int, content_type: str | None) -> str:
        self._check_key(key)
        params = {"Bucket": self.bucket, "Key": key}
        if content_type is not None:
            params["ContentType"] = content_type  # signed: the uploader must send it
        operation = "get_object" if method == "GET" else "put_object"
        with self._errors(key):
            try:
                url: str = self._client.generate_presigned_url(
                    operation, Params=params, ExpiresIn=expires, HttpMethod=method
                )
            except Exception as exc:
                if is_missing_credentials(exc):
                    raise UnsupportedOperationError(
                        "s3: cannot presign without credentials: give access_key_id and "
                        "secret_access_key, a profile, or configure boto3's default chain",
                        key=key,
                        backend=self.name,
                    ) from exc
                raise
        return url

    def close(self) -> None:
        self._client.close()

    # -- helpers -----------------------------------------------------------------------------

    def _check_key(self, key: str) -> None:
        reserved = self.options.preset.reserved_segments
        if reserved and any(seg.startswith(reserved) for seg in key.split("/")):
            raise InvalidKeyError(
                f"key {key!r} has a segment starting with one of {list(reserved)}, which the "
                f"{self.options.provider} server reserves for its own files and hides from "
                "listings",
                key=key,
                backend=self.name,
            )

    def _check_metadata(self, key: str, metadata: Mapping[str, str]) -> None:
        reserved = sorted(self.options.preset.reserved_metadata & metadata.keys())
        if reserved:
            raise UnsupportedOperationError(
                f"the {self.options.provider} server interprets the metadata name(s) "
                f"{reserved} itself, so they cannot round-trip; use other names",
                key=key,
                backend=self.name,
            )

    def _describe(self, key: str, answer: Mapping[str, Any], size: int) -> ObjectInfo:
        return described_info(key, answer, size, self.options.preset.reserved_metadata)

    @contextlib.contextmanager
    def _nesting_checked(self, key: str) -> Iterator[None]:
        """Refuse a key that cannot coexist with others, on servers that cannot say so.

        rclone's server answers 500 InternalError for ``a/b`` beside ``a``; probing
        first gives a ``KeyConflictError`` at once, and a 500 is diagnosed the same way.
        """
        if self._probe_nesting:
            self._check_nesting(key)
        try:
            yield
        except Exception as exc:
            if self._probe_nesting and error_code(exc)[1] == 500:
                self._check_nesting(key)
            raise

    def _check_nesting(self, key: str) -> None:
        segments = key.split("/")
        for end in range(1, len(segments)):
            ancestor = "/".join(segments[:end])
            if self._etag_or_none(ancestor) is not None:
                raise conflict(key, f"{ancestor!r} is an object")
        below = self._client.list_objects_v2(Bucket=self.bucket, Prefix=key + "/", MaxKeys=1)
        if below.get("KeyCount") or below.get("Contents"):
            raise conflict(key, f"the bucket holds keys below '{key}/'")
