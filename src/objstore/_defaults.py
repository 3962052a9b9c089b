"""Every default value of objstore, defined once.

The configuration schemas, the constructors of backends and layers, and
``AsyncStore`` all read their defaults from here; docs/configuration.md lists
them (a test checks the two agree).
"""

from __future__ import annotations

from typing import Final

MiB = 1 << 20
GiB = 1 << 30

# retries, timeouts, circuit breaker, worker pool (top-level sections of SPEC §7)
MAX_ATTEMPTS = 5
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0
FAIL_MAX = 5
RESET_TIMEOUT = 60.0
MAX_WORKERS = 16

# S3 transfers
MULTIPART_THRESHOLD = 16 * MiB
PART_SIZE = 8 * MiB
MAX_CONCURRENCY = 8
S3_TRANSPORT: Final = "native"  # objstore's own SigV4 over http.client / aiohttp; or "boto3"
PARALLEL_READ_THRESHOLD = 64 * MiB  # bigger reads go in parallel ranges of PART_SIZE

# signed URLs and the server that serves them (SPEC §8)
MAX_UPLOAD_SIZE = 5 * GiB  # what one presigned PUT may carry on S3, so both backends agree
UPLOAD_IDLE_TIMEOUT = 60.0  # seconds the ASGI app waits for the next piece of an upload
SERVE_HOST = "127.0.0.1"
SERVE_PORT = 8080


def connections_for(max_concurrency: int, max_workers: int = 0) -> int:
    """The default HTTP connection pool of an S3 store.

    Room for two uploads' parts in flight at once, and for every worker of an
    ``AsyncStore`` to hold a connection.
    """
    return max(10, 2 * max_concurrency, max_workers)


# signed URLs
PRESIGN_EXPIRES = 3600

# the fsspec adapter: fsspec's own default block size, and how many written blocks
# may wait for the upload thread besides the one being stored
FSSPEC_BLOCK_SIZE = 5 * MiB
FSSPEC_UPLOAD_DEPTH = 1
# get_file of a large object from a network store: parallel ranged gets of this size
FSSPEC_DOWNLOAD_PART = 8 * MiB
FSSPEC_DOWNLOAD_WORKERS = 4
