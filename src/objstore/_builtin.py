"""The built-in backends' specs: options, defaults, and how each is built.

Factories import their backend on first use, so configuring ``memory`` never
imports boto3, and a missing extra is reported when it is needed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, unquote

from . import _defaults
from ._options import (
    REQUIRED,
    Option,
    Section,
    as_bool,
    as_int,
    as_size,
    as_str,
    bool_or_path,
    one_of,
    optional,
)
from ._registry import BackendSpec, Shared, register_backend
from .backend import Backend


def _memory(section: Section, shared: Shared) -> Backend:
    from .backends.memory import MemoryBackend

    return MemoryBackend()


def _file(section: Section, shared: Shared) -> Backend:
    from .backends.local import FileBackend

    return FileBackend(
        section["root"], metadata_storage=section["metadata_storage"], fsync=section["fsync"]
    )


MEMORY = BackendSpec(
    name="memory",
    options={},  # the registry adds the signed-URL keys (SPEC §8)
    factory=_memory,
    doc="objects in this process's memory (tests, caches)",
)

FILE = BackendSpec(
    name="file",
    options={
        "root": Option(as_str, REQUIRED, doc="directory holding the objects (created if missing)"),
        "metadata_storage": Option(
            one_of("auto", "xattr", "sidecar"), "auto", doc="where content types and metadata live"
        ),
        "fsync": Option(as_bool, False, doc="flush to disk before put returns"),
    },
    factory=_file,
    url_option="root",
    doc="plain files under a root directory",
)


def _s3_url(url: SplitResult) -> dict[str, Any]:
    section: dict[str, Any] = {}
    if url.netloc:
        section["bucket"] = unquote(url.netloc)
    path = unquote(url.path).strip("/")
    if path:
        section["prefix"] = path + "/"  # a URL path names a folder
    return section


def _s3(section: Section, shared: Shared) -> Backend:
    from .backends.s3 import S3Backend
    from .layers import PrefixLayer

    options = {key: section[key] for key in section.values if key != "prefix"}
    # every worker of an AsyncStore may hold a connection: size the pool for them too
    connections = options.pop("max_connections") or _defaults.connections_for(
        options["max_concurrency"], shared.max_workers
    )
    backend: Backend = S3Backend(
        options.pop("bucket"),
        max_connections=connections,
        max_attempts=shared.max_attempts,
        connect_timeout=shared.connect_timeout,
        read_timeout=shared.read_timeout,
        **options,
    )
    return PrefixLayer(backend, section["prefix"]) if section["prefix"] else backend


S3 = BackendSpec(
    name="s3",
    options={
        "bucket": Option(as_str, REQUIRED, doc="the bucket"),
        "prefix": Option(as_str, "", doc="namespace inside the bucket, such as models/"),
        "endpoint_url": Option(
            optional(as_str), None, doc="S3-compatible endpoint; empty means AWS itself"
        ),
        "region": Option(optional(as_str), None, doc="region name"),
        "access_key_id": Option(optional(as_str), None, doc="absent: boto3's default chain"),
        "secret_access_key": Option(optional(as_str), None, secret=True, doc="secret key"),
        "session_token": Option(optional(as_str), None, secret=True, doc="temporary token"),
        "profile": Option(optional(as_str), None, doc="a profile of ~/.aws/config"),
        "addressing_style": Option(
            optional(one_of("auto", "path", "virtual")),
            None,
            doc="bucket in the host name or the path",
        ),
        "provider": Option(
            one_of("aws", "minio", "r2", "b2", "ceph", "rclone", "other"),
            "aws",
            doc="preset for a service's known quirks",
        ),
        "conditional_writes": Option(
            optional(as_bool), None, doc="the service honours If-Match/If-None-Match"
        ),
        "checksums": Option(
            optional(one_of("when_supported", "when_required")),
            None,
            doc="when boto3 sends and checks CRC checksums",
        ),
        "nested_keys": Option(optional(as_bool), None, doc="the service holds a and a/b"),
        "batch_delete_size": Option(optional(as_int(1)), None, doc="keys per DeleteObjects"),
        "verify": Option(bool_or_path, True, doc="TLS verification: true, false or a CA bundle"),
        "multipart_threshold": Option(
            as_size, _defaults.MULTIPART_THRESHOLD, doc="larger uploads go in parts"
        ),
        "part_size": Option(as_size, _defaults.PART_SIZE, doc="size of each uploaded part"),
        "max_concurrency": Option(
            as_int(1), _defaults.MAX_CONCURRENCY, doc="parts (and ranges of big reads) in flight"
        ),
        "max_connections": Option(
            optional(as_int(1)), None, doc="HTTP connection pool size (default: computed)"
        ),
        "transport": Option(
            one_of("native", "boto3"),
            _defaults.S3_TRANSPORT,
            doc="native: objstore's own signed HTTP, sync and async; boto3: boto3's client",
        ),
    },
    factory=_s3,
    parse_url=_s3_url,
    doc="Amazon S3 and S3-compatible services (needs objstore[s3])",
    network=True,
    native_presign=True,
)

for _spec in (MEMORY, FILE, S3):
    register_backend(_spec)
