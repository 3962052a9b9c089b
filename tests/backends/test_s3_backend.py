"""What is specific to the S3 backend: multipart uploads, metadata encoding, presigned
URLs, provider presets, resumed reads and TLS, on real servers (moto and rclone)."""

from __future__ import annotations

import io
import itertools
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from servers import CuttingProxy, S3Server, make_tls_files

import objstore
from objstore.backends.s3 import S3Backend
from objstore.backends.s3._metadata import decode_value, encode_value
from objstore.backends.s3._multipart import MAX_PARTS, part_size
from objstore.testing._helpers import pattern

MiB = 1 << 20
GiB = 1 << 30
TiB = 1 << 40
SMALL_PARTS: dict[str, Any] = {"multipart_threshold": 5 * MiB, "part_size": 5 * MiB}
BOTO3: dict[str, Any] = {"transport": "boto3"}  # tests that hook into botocore's events


@pytest.fixture(params=["moto_http", "rclone_s3"])
def server(request: pytest.FixtureRequest) -> S3Server:
    """Each real server in turn."""
    found: S3Server = request.getfixturevalue(request.param)
    return found


@pytest.fixture
def bucket(moto_http: S3Server) -> Iterator[str]:
    with moto_http.bucket() as name:
        yield name


def raw_head(server: S3Server, bucket: str, key: str) -> dict[str, Any]:
    answer: dict[str, Any] = server.client().head_object(Bucket=bucket, Key=key)
    return answer


class Calls:
    """Counts a backend's calls of one S3 operation through boto3's event hooks."""

    def __init__(self, backend: S3Backend, operation: str, delay: float = 0.0):
        self.started = 0
        self.finished = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._delay = delay
        events = backend.client.meta.events
        events.register(f"before-call.s3.{operation}", self._before)
        events.register(f"before-send.s3.{operation}", self._send)
        events.register(f"after-call.s3.{operation}", self._after)
        events.register(f"after-call-error.s3.{operation}", self._after)

    def _before(self, **_: Any) -> None:
        with self._lock:
            self.started += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def _send(self, request: Any, **_: Any) -> None:
        with self._lock:
            self.headers.append(
                {
                    k: v.decode() if isinstance(v, bytes) else str(v)
                    for k, v in request.headers.items()
                }
            )
        time.sleep(self._delay)

    def _after(self, **_: Any) -> None:
        with self._lock:
            self.in_flight -= 1
            self.finished += 1


# -- part sizes ------------------------------------------------------------------------------


@pytest.mark.parametrize("configured", [5 * MiB, 8 * MiB, 64 * MiB, 5 * GiB])
def test_part_sizes_of_an_unknown_length_reach_5_tib_in_10000_parts(configured: int) -> None:
    sizes = [part_size(number, configured) for number in range(1, MAX_PARTS + 1)]
    assert sum(sizes) >= 5 * TiB
    assert min(sizes) >= 5 * MiB and max(sizes) <= 5 * GiB
    assert sizes == sorted(sizes) and sizes[0] == configured


@pytest.mark.parametrize("total", [0, 1, 16 * MiB + 1, 80 * GiB, 5 * TiB])
def test_part_size_of_a_known_total_fits_it_in_10000_parts(total: int) -> None:
    size = part_size(1, 8 * MiB, total)
    assert size >= 8 * MiB and size % MiB == 0
    assert -(-total // size) <= MAX_PARTS
    assert part_size(7, 8 * MiB, total) == size  # one size for every part


def test_part_size_for_services_that_need_equal_parts() -> None:
    assert {part_size(n, 8 * MiB, uniform=True) for n in (1, 800, 5000, 10_000)} == {8 * MiB}


def test_an_upload_cannot_have_more_than_10000_parts() -> None:
    with pytest.raises(objstore.UnsupportedOperationError, match="5 TiB"):
        part_size(MAX_PARTS + 1, 8 * MiB)


def test_copy_parts_cover_a_large_object_in_ranges() -> None:
    size = 12 * GiB + 5
    info = objstore.ObjectInfo("src", size, "e1", datetime.now(UTC))
    logic = S3Backend("b", endpoint_url=ENDPOINT, **KEYS)._logic
    parts = logic._copy_part_ops("dst", "id", "src", info)
    ranges = [(part.first, part.last) for part in parts]
    assert ranges[0][0] == 0 and ranges[-1][1] == size - 1
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))
    assert all(last - first + 1 <= 5 * GiB for first, last in ranges)
    assert {part.source_etag for part in parts} == {"e1"}
    assert [part.number for part in parts] == list(range(1, len(ranges) + 1))
    headers = parts[0].request().headers
    assert headers["x-amz-copy-source-if-match"] == '"e1"'
    assert headers["x-amz-copy-source-range"] == f"bytes=0-{ranges[0][1]}"


# -- multipart uploads -------------------------------------------------------------------------


def test_multipart_upload_of_a_stream_of_unknown_length(moto_http: S3Server, bucket: str) -> None:
    chunks = [pattern(MiB, seed=i) for i in range(12)] + [b"tail"]
    progress: list[tuple[int, int | None]] = []
    with objstore.Store(moto_http.backend(bucket, **SMALL_PARTS)) as store:
        info = store.put("big", iter(chunks), progress=lambda d, t: progress.append((d, t)))
        assert store.get("big") == b"".join(chunks)
    assert info.size == 12 * MiB + 4
    assert raw_head(moto_http, bucket, "big")["ETag"].endswith('-3"')  # three parts
    assert progress[-1] == (info.size, None)


@pytest.mark.parametrize("shape", ["bytes", "file"])
def test_multipart_upload_of_a_known_size(moto_http: S3Server, bucket: str, shape: str) -> None:
    content = pattern(11 * MiB)
    data = content if shape == "bytes" else io.BytesIO(content)
    with objstore.Store(moto_http.backend(bucket, **SMALL_PARTS)) as store:
        assert store.put("big", data, metadata={"k": "é"}).size == len(content)
        assert store.get("big") == content
        assert dict(store.stat("big").metadata or {}) == {"k": "é"}
    assert raw_head(moto_http, bucket, "big")["ETag"].endswith('-3"')
    # With checksums="when_supported" the parts' CRC32s make one for the object.
    attributes = moto_http.client().get_object_attributes(
        Bucket=bucket, Key="big", ObjectAttributes=["Checksum"]
    )
    assert "ChecksumCRC32" in attributes["Checksum"]


def test_below_the_threshold_one_put_object(moto_http: S3Server, bucket: str) -> None:
    backend = moto_http.backend(bucket, **SMALL_PARTS, **BOTO3)
    creates = Calls(backend, "CreateMultipartUpload")
    with objstore.Store(backend) as store:
        store.put("exact", pattern(5 * MiB))
        store.put("stream", iter([pattern(MiB)] * 5))
    assert creates.started == 0
    assert "-" not in raw_head(moto_http, bucket, "exact")["ETag"]


def test_parts_go_up_in_parallel(moto_http: S3Server, bucket: str) -> None:
    backend = moto_http.backend(bucket, max_concurrency=3, **SMALL_PARTS, **BOTO3)
    parts = Calls(backend, "UploadPart", delay=0.3)
    with objstore.Store(backend) as store:
        started = time.monotonic()
        store.put("big", pattern(26 * MiB))  # six parts
        elapsed = time.monotonic() - started
    assert parts.started == 6
    assert parts.most_in_flight == 3
    assert elapsed < 6 * 0.3  # not one after the other


def test_parts_are_read_only_when_a_slot_is_free(moto_http: S3Server, bucket: str) -> None:
    backend = moto_http.backend(bucket, max_concurrency=2, **SMALL_PARTS, **BOTO3)
    parts = Calls(backend, "UploadPart", delay=0.2)
    held: list[int] = []

    def source() -> Iterator[bytes]:
        for i in range(30):  # 30 MiB: six parts
            # Parts read but not yet uploaded: the memory an upload holds.
            held.append((i // 5) - parts.finished)
            yield pattern(MiB, seed=i)

    with objstore.Store(backend) as store:
        store.put("big", source())
    # One part uploading and one being read: max_concurrency parts in memory.
    assert max(held) == 1


def test_a_failing_source_aborts_the_upload(moto_http: S3Server, bucket: str) -> None:
    class SourceBrokeError(Exception):
        pass

    def failing() -> Iterator[bytes]:
        yield pattern(11 * MiB)
        raise SourceBrokeError

    with objstore.Store(moto_http.backend(bucket, **SMALL_PARTS)) as store:
        store.put("k", b"old", metadata={"v": "1"})
        with pytest.raises(SourceBrokeError):
            store.put("k", failing(), metadata={"v": "2"})
        assert store.get("k") == b"old"
        assert dict(store.stat("k").metadata or {}) == {"v": "1"}
    assert moto_http.pending_uploads(bucket) == []


def test_keyboard_interrupt_aborts_the_upload(moto_http: S3Server, bucket: str) -> None:
    def interrupted() -> Iterator[bytes]:
        yield pattern(16 * MiB)
        raise KeyboardInterrupt

    with objstore.Store(moto_http.backend(bucket, **SMALL_PARTS)) as store:
        with pytest.raises(KeyboardInterrupt):
            store.put("k", interrupted())
        assert not store.exists("k")
    assert moto_http.pending_uploads(bucket) == []


def test_a_failing_part_aborts_the_upload(moto_http: S3Server, bucket: str) -> None:
    backend = moto_http.backend(bucket, **SMALL_PARTS, **BOTO3)

    def refuse_part_two(params: dict[str, Any], **_: Any) -> None:
        if params.get("PartNumber") == 2:
            raise ConnectionResetError("the network broke")

    backend.client.meta.events.register("before-parameter-build.s3.UploadPart", refuse_part_two)
    with objstore.Store(backend) as store:
        store.put("k", b"old")
        with pytest.raises(objstore.UnavailableError):
            store.put("k", pattern(16 * MiB))
        assert store.get("k") == b"old"
    assert moto_http.pending_uploads(bucket) == []


def test_complete_multipart_upload_carries_if_none_match(moto_http: S3Server, bucket: str) -> None:
    """The key appears while the parts go up: CompleteMultipartUpload refuses."""

    def racing() -> Iterator[bytes]:
        yield pattern(6 * MiB)
        moto_http.client().put_object(Bucket=bucket, Key="k", Body=b"the other writer")
        yield pattern(6 * MiB)

    with objstore.Store(moto_http.backend(bucket, **SMALL_PARTS)) as store:
        with pytest.raises(objstore.PreconditionFailedError):
            store.put("k", racing(), if_none_match="*")
        assert store.get("k") == b"the other writer"
    assert moto_http.pending_uploads(bucket) == []


def test_complete_multipart_upload_carries_if_match(moto_http: S3Server, bucket: str) -> None:
    backend = moto_http.backend(bucket, **SMALL_PARTS, **BOTO3)
    completes = Calls(backend, "CompleteMultipartUpload")
    parts = Calls(backend, "UploadPart")
    with objstore.Store(backend) as store:
        current = store.put("k", b"v1")
        store.put("k", pattern(11 * MiB), if_match=current.etag)
        assert completes.headers[-1]["If-Match"] == f'"{current.etag}"'
        uploaded = parts.started
        # A stale etag fails before any part goes up (moto itself ignores If-Match here).
        with pytest.raises(objstore.PreconditionFailedError):
            store.put("k", pattern(11 * MiB), if_match=current.etag)
        assert parts.started == uploaded
        with pytest.raises(objstore.PreconditionFailedError):
            store.put("missing", pattern(11 * MiB), if_match=current.etag)
    assert moto_http.pending_uploads(bucket) == []


def test_create_only_copy_is_conditional_and_leaves_no_upload(
    moto_http: S3Server, bucket: str
) -> None:
    with objstore.Store(moto_http.backend(bucket)) as store:
        store.put("src", b"new", content_type="text/x-src", metadata={"m": " é"})
        store.put("dst", b"old")
        with pytest.raises(objstore.PreconditionFailedError):
            store.copy("src", "dst", if_none_match="*")
        info = store.copy("src", "fresh", if_none_match="*")
        assert store.get("fresh") == b"new"
        assert (info.content_type, dict(info.metadata or {})) == ("text/x-src", {"m": " é"})
        assert store.stat("fresh").etag == info.etag
        assert store.get("dst") == b"old"
    assert moto_http.pending_uploads(bucket) == []


# -- metadata ----------------------------------------------------------------------------------

ODD_VALUES = {
    "plain": "hello world",
    "empty": "",
    "unicode": "Zoë Ångström 東京 📷",
    "control": "a\x00b\x1fc\x7f",
    "newline": "line one\nline two",
    "leading": "  padded  ",
    "tab": "\tx",
    "looks-encoded": "=?UTF-8?B?SGk=?=",
    "two-words": "=?utf-8?q?a?= =?utf-8?q?b?=",
    "equals": "a=?b",
}


def test_metadata_is_plain_ascii_for_raw_clients_and_exact_for_objstore(
    server: S3Server,
) -> None:
    with server.bucket() as bucket:
        with objstore.Store(server.backend(bucket)) as store:
            store.put("k", b"x", metadata=ODD_VALUES)
            assert dict(store.stat("k").metadata or {}) == ODD_VALUES
            with store.open("k") as reader:
                assert dict(reader.info.metadata or {}) == ODD_VALUES
        raw = {k.lower(): v for k, v in raw_head(server, bucket, "k")["Metadata"].items()}
    for name, value in raw.items():
        assert value.isascii() and value.isprintable() and value == value.strip(), name
    assert raw["plain"] == "hello world" and raw["empty"] == "" and raw["equals"] == "a=?b"
    assert raw["unicode"] == encode_value(ODD_VALUES["unicode"]).strip()
    assert raw["looks-encoded"].startswith("=?UTF-8?B?")
    assert raw["looks-encoded"] != ODD_VALUES["looks-encoded"]  # escaped, not taken as is


def test_metadata_written_by_other_tools_is_decoded(moto_http: S3Server, bucket: str) -> None:
    values = {
        "q": "=?utf-8?q?caf=C3=A9_au_lait?=",
        "split": "=?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?=",
        "latin": "=?iso-8859-1?q?na=EFve?=",
        "broken": "=?UTF-8?B?not*base64?=",
        "unknown-charset": "=?x-nope?b?SGk=?=",
    }
    moto_http.client().put_object(Bucket=bucket, Key="k", Body=b"", Metadata=values)
    with objstore.Store(moto_http.backend(bucket)) as store:
        assert dict(store.stat("k").metadata or {}) == {
            "q": "café au lait",
            "split": "éé",
            "latin": "naïve",
            "broken": values["broken"],
            "unknown-charset": values["unknown-charset"],
        }


@given(st.text())
def test_any_metadata_value_encodes_to_a_header_and_back(value: str) -> None:
    encoded = encode_value(value)
    assert encoded.isascii() and encoded.isprintable() and encoded == encoded.strip(" ")
    assert decode_value(encoded) == value


def test_largest_metadata_round_trips_on_moto(moto_http: S3Server, bucket: str) -> None:
    largest = {"a": "x" * 1000, "b": "é" * 523}  # 2048 bytes: SPEC's maximum
    with objstore.Store(moto_http.backend(bucket)) as store:
        store.put("k", b"x", metadata=largest)
        store.put("multi", pattern(11 * MiB), metadata=largest)
        store.copy("k", "copy")
        for key in ("k", "multi", "copy"):
            assert dict(store.stat(key).metadata or {}) == largest


# -- presigned URLs ----------------------------------------------------------------------------


def _request(url: str, method: str = "GET", data: bytes | None = None, **headers: str) -> Any:
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_presigned_get_and_put_work_without_credentials(server: S3Server) -> None:
    with server.store() as store:
        store.put("dir/a file+é.txt", b"hello")
        status, body = _request(store.presign("dir/a file+é.txt"))
        assert (status, body) == (200, b"hello")
        url = store.presign("up.bin", method="PUT", content_type="text/x-up")
        status, _ = _request(url, "PUT", b"uploaded", **{"Content-Type": "text/x-up"})
        assert status == 200
        assert store.get("up.bin") == b"uploaded"
        assert store.stat("up.bin").content_type == "text/x-up"


def test_presigned_put_binds_the_content_type(rclone_s3: S3Server) -> None:
    with rclone_s3.store() as store:
        url = store.presign("up", method="PUT", content_type="image/png")
        assert _request(url, "PUT", b"no", **{"Content-Type": "text/html"})[0] == 403
        assert not store.exists("up")
        assert _request(url, "PUT", b"yes", **{"Content-Type": "image/png"})[0] == 200
        assert store.get("up") == b"yes"


def test_presigned_urls_refused_when_expired_tampered_or_misused(rclone_s3: S3Server) -> None:
    """rclone checks presigned signatures and expiry (moto does not)."""
    with rclone_s3.store() as store:
        store.put("k", b"secret data")
        url = store.presign("k", expires=60)
        tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        other_key = url.replace("/k?", "/j?")
        assert _request(tampered)[0] == 403
        assert _request(other_key)[0] == 403
        assert _request(url, "PUT", b"overwrite")[0] == 403
        assert _request(url, "DELETE")[0] == 403
        assert store.get("k") == b"secret data"
        short = store.presign("k", expires=1)
        time.sleep(2.1)
        status, body = _request(short)
        assert status in (400, 403) and b"secret" not in body


def test_presign_without_credentials_says_what_is_missing(
    moto_http: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_ambient_credentials(monkeypatch, tmp_path)
    backend = S3Backend("b", endpoint_url=moto_http.endpoint_url, region="us-east-1")
    with (
        objstore.Store(backend) as store,
        pytest.raises(objstore.UnsupportedOperationError, match="credentials"),
    ):
        store.presign("k")


def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# -- options and provider presets ----------------------------------------------------------------

KEYS: dict[str, Any] = {"access_key_id": "AKIAEXAMPLE", "secret_access_key": "s3cr3t-do-not-show"}
ENDPOINT = "http://127.0.0.1:9"

# provider: (addressing, conditional writes, checksums, nested keys, Content-MD5 on deletes)
PRESETS = {
    "aws": ("auto", True, "when_supported", True, False),
    "minio": ("path", True, "when_required", False, True),
    "r2": ("path", True, "when_required", True, True),
    "b2": ("path", False, "when_required", True, True),
    "ceph": ("path", True, "when_required", True, True),
    "rclone": ("path", False, "when_required", False, True),
    "other": ("path", False, "when_required", True, True),
}


@pytest.mark.parametrize("provider", list(PRESETS))
def test_provider_presets(provider: str) -> None:
    addressing, conditional, checksums, nested, md5 = PRESETS[provider]
    backend = S3Backend("b", provider=provider, endpoint_url=ENDPOINT, **KEYS, **BOTO3)  # type: ignore[arg-type]
    caps = backend.capabilities
    assert (caps.presign, caps.server_side_copy, caps.batch_delete, caps.multipart) == (
        True, True, True, True,
    )  # fmt: skip
    assert (caps.conditional_put, caps.nested_keys) == (conditional, nested)
    config = backend.client.meta.config
    assert config.s3["addressing_style"] == addressing
    assert config.request_checksum_calculation == checksums
    assert config.response_checksum_validation == checksums
    assert config.signature_version == "s3v4"
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert (config.connect_timeout, config.read_timeout) == (5.0, 60.0)
    assert backend.options.batch_delete_size == 1000
    assert backend.options.preset.content_md5 is md5


def test_options_override_the_preset() -> None:
    backend = S3Backend(
        "b", provider="minio", endpoint_url=ENDPOINT, addressing_style="virtual", **BOTO3,
        conditional_writes=True, checksums="when_supported", nested_keys=True,
        batch_delete_size=10, max_concurrency=3, max_attempts=2, connect_timeout=1.5,
        read_timeout=9, **KEYS,
    )  # fmt: skip
    config = backend.client.meta.config
    assert backend.capabilities.conditional_put and backend.capabilities.nested_keys
    assert config.s3["addressing_style"] == "virtual"
    assert config.request_checksum_calculation == "when_supported"
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert (config.connect_timeout, config.read_timeout) == (1.5, 9)
    assert config.max_pool_connections >= 3
    assert backend.options.batch_delete_size == 10


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"provider": "gcs"}, "provider"),
        ({"addressing_style": "host"}, "addressing_style"),
        ({"checksums": "always"}, "checksums"),
        ({"conditional_writes": "yes"}, "conditional_writes"),
        ({"part_size": 4 * MiB}, "part_size"),
        ({"part_size": 6 * GiB}, "part_size"),
        ({"multipart_threshold": -1}, "multipart_threshold"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"batch_delete_size": 1001}, "batch_delete_size"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_connections": 0}, "max_connections"),
        ({"read_timeout": 0}, "read_timeout"),
        ({"verify": "/no/such/ca.pem"}, "verify"),
        ({"access_key_id": "AKIA"}, "secret_access_key"),
        ({"session_token": "tok"}, "session_token"),
        ({"profile": "p", **KEYS}, "profile"),
        ({"endpoint_url": ""}, "endpoint_url"),
    ],
)
def test_invalid_options_are_config_errors(options: dict[str, Any], named: str) -> None:
    with pytest.raises(objstore.ConfigError, match=named) as caught:
        S3Backend("b", **options)
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize("bucket", ["", "a/b", None])
def test_bucket_must_be_a_name(bucket: Any) -> None:
    with pytest.raises(objstore.ConfigError, match="bucket"):
        S3Backend(bucket)


@pytest.mark.parametrize(
    ("module", "transport"), [("botocore.session", "native"), ("boto3", "boto3")]
)
def test_without_boto3_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, transport: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(objstore.ConfigError, match=r"objstore\[s3\]"):
        S3Backend("b", transport=transport)  # type: ignore[arg-type]


def test_unknown_profile_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_ambient_credentials(monkeypatch, tmp_path)
    with pytest.raises(objstore.ConfigError, match="ProfileNotFound"):
        S3Backend("b", profile="nobody")


def test_profile_credentials_are_used(
    moto_http: S3Server, bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_ambient_credentials(monkeypatch, tmp_path)
    (tmp_path / "no-credentials").write_text(
        "[tester]\naws_access_key_id = from-profile\naws_secret_access_key = also\n"
    )
    backend = S3Backend(bucket, profile="tester", endpoint_url=moto_http.endpoint_url, **BOTO3)
    sent = Calls(backend, "PutObject")
    with objstore.Store(backend) as store:
        store.put("k", b"x")
    assert "Credential=from-profile/" in sent.headers[0]["Authorization"]


def test_secrets_never_show(moto_http: S3Server) -> None:
    backend = S3Backend(
        "no-such-bucket-here",
        endpoint_url="http://user:pass@127.0.0.1:" + moto_http.endpoint_url.rsplit(":", 1)[1],
        session_token="t0ken-do-not-show",
        **KEYS,
    )
    with objstore.Store(backend) as store:
        shown = [repr(backend), repr(store), repr(backend.options)]
        for call in (lambda: store.get("k"), lambda: store.stat("k"), lambda: store.put("k", b"")):
            with pytest.raises(objstore.ObjstoreError) as caught:
                call()
            shown += [str(caught.value), repr(caught.value)]
    for text in shown:
        for secret in ("s3cr3t-do-not-show", "t0ken-do-not-show", "pass@"):
            assert secret not in text


def test_deletes_of_other_presets_carry_content_md5(moto_http: S3Server, bucket: str) -> None:
    for provider, expected in (("minio", True), ("aws", False)):
        backend = moto_http.backend(bucket, provider=provider, **BOTO3)
        sent = Calls(backend, "DeleteObjects")
        with objstore.Store(backend) as store:
            store.put("k", b"x")
            store.delete_many(["k", "gone"])
            assert not store.exists("k")
        assert ("Content-MD5" in sent.headers[0]) is expected


# -- errors ------------------------------------------------------------------------------------


def _drain(result: object) -> None:
    """Run a listing to the end (a listing fails when iterated, not when called)."""
    if isinstance(result, Iterator):
        for _ in result:
            pass


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"access_key_id": "nobody-knows-me"}, "InvalidAccessKeyId"),
        ({"secret_access_key": "wrong-secret-do-not-show"}, "SignatureDoesNotMatch"),
    ],
)
def test_wrong_credentials_are_permission_denied(
    rclone_s3: S3Server, change: dict[str, str], code: str
) -> None:
    with rclone_s3.bucket() as bucket, objstore.Store(rclone_s3.backend(bucket, **change)) as store:
        for call in (lambda: store.put("k", b"x"), lambda: store.get("k"), store.list):
            with pytest.raises(objstore.PermissionDeniedError, match=code) as caught:
                _drain(call())
            assert isinstance(caught.value, PermissionError)
            assert "wrong-secret" not in str(caught.value) + repr(caught.value)
            assert rclone_s3.secret_access_key not in str(caught.value)


def test_a_missing_bucket_is_a_config_error_naming_it(server: S3Server) -> None:
    with objstore.Store(server.backend("objstore-never-created")) as store:
        calls = [
            lambda: store.stat("k"),  # a HEAD: no error code to tell bucket from key
            lambda: store.exists("k"),
            lambda: store.get("k"),
            lambda: store.put("k", b"x"),
            lambda: list(store.list()),
            lambda: store.delete_many(["k"]),
        ]
        for call in calls:
            with pytest.raises(objstore.ConfigError, match="objstore-never-created"):
                call()


def test_an_unreachable_server_is_unavailable() -> None:
    from servers import free_port

    backend = S3Backend(
        "b", endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=2,
        connect_timeout=0.5, **KEYS,
    )  # fmt: skip
    with objstore.Store(backend) as store:
        for call in (lambda: store.put("k", b"x"), lambda: store.get("k"), store.list):
            with pytest.raises(objstore.UnavailableError, match="cannot reach") as caught:
                _drain(call())
            assert isinstance(caught.value, ConnectionError)


def test_a_server_that_never_answers_is_unavailable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        backend = S3Backend(
            "b", endpoint_url=f"http://127.0.0.1:{port}", max_attempts=1, read_timeout=0.3,
            **KEYS,
        )  # fmt: skip
        with objstore.Store(backend) as store, pytest.raises(objstore.UnavailableError) as caught:
            store.stat("k")
    assert "timed out" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("AccessDenied", 403, objstore.PermissionDeniedError),
        ("ExpiredToken", 400, objstore.PermissionDeniedError),
        ("SlowDown", 503, objstore.UnavailableError),
        ("InternalError", 500, objstore.UnavailableError),
        ("ThrottlingException", 400, objstore.UnavailableError),
        ("PreconditionFailed", 412, objstore.PreconditionFailedError),
        ("NoSuchBucket", 404, objstore.ConfigError),
        ("NoSuchKey", 404, objstore.NotFoundError),
        ("InvalidArgument", 400, objstore.ObjstoreError),
    ],
)
def test_service_errors_map_to_the_error_tree(code: str, status: int, error: type) -> None:
    """Errors a test server cannot be made to answer, through botocore's Stubber."""
    from botocore.stub import Stubber

    backend = S3Backend("b", endpoint_url=ENDPOINT, **KEYS, **BOTO3)
    with Stubber(backend.client) as stub, objstore.Store(backend) as store:
        stub.add_client_error("get_object", code, f"the {code} message", status)
        with pytest.raises(error, match="no object 'k'" if code == "NoSuchKey" else code) as caught:
            store.get("k")
        assert code in str(caught.value.__cause__)  # scrubbed: not botocore's own exception


def test_conflicting_conditional_writes_are_retried_then_lost() -> None:
    from botocore.stub import Stubber

    backend = S3Backend("b", endpoint_url=ENDPOINT, max_attempts=3, **KEYS, **BOTO3)
    ok = {"ETag": '"e2"', "ResponseMetadata": {"HTTPHeaders": {}}}
    with Stubber(backend.client) as stub, objstore.Store(backend) as store:
        stub.add_client_error("put_object", "ConditionalRequestConflict", "", 409)
        stub.add_response("put_object", ok)
        assert store.put("k", b"v", if_none_match="*").etag == "e2"
        for _ in range(3):
            stub.add_client_error("put_object", "ConditionalRequestConflict", "", 409)
        with pytest.raises(objstore.PreconditionFailedError, match="ConditionalRequestConflict"):
            store.put("k", b"v", if_none_match="*")
        stub.assert_no_pending_responses()


def test_if_match_on_a_missing_key_is_a_failed_condition(moto_http: S3Server, bucket: str) -> None:
    """S3 (and moto) answer 404 NoSuchKey here; for a put that is a condition that failed."""
    store = objstore.Store(moto_http.backend(bucket))
    with store, pytest.raises(objstore.PreconditionFailedError, match="cannot match"):
        store.put("k", b"x", if_match="0123")


def test_minio_reports_key_conflicts_by_code() -> None:
    from botocore.stub import Stubber

    backend = S3Backend("b", provider="minio", endpoint_url=ENDPOINT, **KEYS, **BOTO3)
    with Stubber(backend.client) as stub, objstore.Store(backend) as store:
        stub.add_client_error("put_object", "XMinioParentIsObject", "parent is an object", 400)
        with pytest.raises(objstore.KeyConflictError, match="a/b"):
            store.put("a/b", b"x")


def test_rclone_500_on_a_write_is_diagnosed_as_a_conflict() -> None:
    """rclone says only "InternalError" when a/b meets a; a write that lost that race is probed."""
    from botocore.stub import Stubber

    backend = S3Backend(
        "b", provider="rclone", endpoint_url=ENDPOINT, max_attempts=1, **KEYS, **BOTO3
    )
    head = {"ETag": '"e"', "ContentLength": 1, "ResponseMetadata": {"HTTPHeaders": {}}}
    with Stubber(backend.client) as stub, objstore.Store(backend) as store:
        stub.add_client_error("head_object", "404", "", 404)  # before: "a" is no object...
        stub.add_client_error("head_bucket", "403", "", 403)  # (bucket check: not a 404)
        stub.add_response("list_objects_v2", {"KeyCount": 0})  # ...nor are keys below "a/b"
        stub.add_client_error("put_object", "InternalError", "", 500)
        stub.add_response("head_object", head)  # after: "a" exists now
        with pytest.raises(objstore.KeyConflictError, match="'a' is an object"):
            store.put("a/b", b"x")


def test_delete_many_names_the_keys_it_could_not_delete() -> None:
    from botocore.stub import Stubber

    backend = S3Backend("b", endpoint_url=ENDPOINT, batch_delete_size=2, **KEYS, **BOTO3)
    with Stubber(backend.client) as stub, objstore.Store(backend) as store:
        stub.add_response("delete_objects", {"Errors": [{"Key": "k1", "Code": "NoSuchKey"}]})
        stub.add_response("delete_objects", {"Errors": [{"Key": "k3", "Code": "AccessDenied"}]})
        with pytest.raises(objstore.PermissionDeniedError, match="'k3'"):
            store.delete_many(["k1", "k2", "k3", "k1"])
        stub.add_response("delete_objects", {"Errors": [{"Key": "x", "Code": "InternalError"}]})
        with pytest.raises(objstore.UnavailableError, match=r"'x'.*InternalError"):
            store.delete_many(["x"])


def test_too_large_metadata_is_unsupported_on_rclone(rclone_s3: S3Server) -> None:
    with rclone_s3.store() as store:
        with pytest.raises(objstore.UnsupportedOperationError, match="MetadataTooLarge"):
            store.put("k", b"x", metadata={"a": "x" * 1900})
        assert not store.exists("k")


# -- rclone's quirks ---------------------------------------------------------------------------


def test_rclone_reserved_names_are_refused(rclone_s3: S3Server) -> None:
    with rclone_s3.store() as store:
        for key in (".rclone_temp_put_x", "dir/.rclone_multipart_upload_y"):
            with pytest.raises(objstore.InvalidKeyError, match="reserves"):
                store.put(key, b"x")
        with pytest.raises(objstore.UnsupportedOperationError, match="mtime"):
            store.put("k", b"x", metadata={"mtime": "123"})
        assert list(store.list()) == []


def test_rclone_deletes_never_touch_a_parent_object(rclone_s3: S3Server) -> None:
    """rclone deletes the object a when asked to delete a/c; objstore does not ask."""
    with rclone_s3.store() as store:
        store.put("a", b"keep me")
        store.put("d/e", b"keep me too")
        store.delete("a/c")
        store.delete_many(["a/c", "a/c/d", "d"])
        store.delete("d")
        assert store.get("a") == b"keep me"
        assert store.get("d/e") == b"keep me too"


def test_reads_check_the_etag_where_the_server_ignores_if_match(rclone_s3: S3Server) -> None:
    with rclone_s3.bucket() as bucket:
        backend = rclone_s3.backend(bucket)
        with objstore.Store(backend) as store:
            info = store.put("k", b"v1")
            stream = backend.get("k", offset=0, length=None, if_match=info.etag)
            assert stream.read(10) == b"v1"
            stream.close()
            store.put("k", b"v2")
            with pytest.raises(objstore.PreconditionFailedError):
                backend.get("k", offset=1, length=None, if_match=info.etag)


# -- dropped connections -----------------------------------------------------------------------


@pytest.fixture
def through_proxy(server: S3Server) -> Iterator[tuple[objstore.Store, CuttingProxy, S3Server, str]]:
    """A store that reaches the server through a proxy able to cut connections."""
    port = int(server.endpoint_url.rsplit(":", 1)[1])
    proxy = CuttingProxy(port)
    with server.bucket() as bucket:
        backend = server.backend(bucket, endpoint_url=proxy.url)
        with objstore.Store(backend) as store:
            yield store, proxy, server, bucket
    proxy.close()


def test_a_dropped_stream_is_resumed(
    through_proxy: tuple[objstore.Store, CuttingProxy, S3Server, str],
) -> None:
    store, proxy, _, _ = through_proxy
    content = pattern(3 * MiB + 17)
    store.put("k", content)
    reads = [
        (lambda: b"".join(store.get_stream("k", chunk_size=64 * 1024)), content),
        (lambda: store.get("k"), content),
        (lambda: store.get("k", offset=1000, length=2 * MiB), content[1000 : 1000 + 2 * MiB]),
        (lambda: _read_file(store, "k", 5), content[5:]),
    ]
    for number, (read, expected) in enumerate(reads, 1):
        proxy.cut_next(after=MiB)
        assert read() == expected
        assert proxy.cuts == number


def _read_file(store: objstore.Store, key: str, offset: int) -> bytes:
    with store.open(key, offset=offset) as reader:
        return reader.read()


def test_a_changed_object_is_never_spliced(
    through_proxy: tuple[objstore.Store, CuttingProxy, S3Server, str],
) -> None:
    store, proxy, server, bucket = through_proxy
    store.put("k", pattern(3 * MiB))
    proxy.cut_next(after=MiB)
    stream = store.get_stream("k", chunk_size=64 * 1024)
    first = next(stream)
    assert first == pattern(3 * MiB)[: len(first)]
    server.client().put_object(Bucket=bucket, Key="k", Body=pattern(3 * MiB, seed=9))
    with pytest.raises(objstore.PreconditionFailedError):
        for _ in stream:
            pass
    assert proxy.cuts == 1


# -- TLS ---------------------------------------------------------------------------------------


def test_tls_with_the_ca_bundle_streams_uploads_aws_chunked(moto_tls: S3Server) -> None:
    """Over HTTPS boto3 sends bodies aws-chunked with a trailing checksum; moto accepts them."""
    with moto_tls.bucket() as bucket:
        backend = moto_tls.backend(bucket, **SMALL_PARTS, **BOTO3)
        puts, parts = Calls(backend, "PutObject"), Calls(backend, "UploadPart")
        with objstore.Store(backend) as store:
            store.put("small", b"over tls")
            store.put("big", pattern(11 * MiB))
            assert store.get("small") == b"over tls"
            assert store.get("big") == pattern(11 * MiB)
    for sent in puts.headers + parts.headers:
        assert "aws-chunked" in sent.get("Content-Encoding", "")
        assert sent.get("X-Amz-Trailer") == "x-amz-checksum-crc32"


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_verification_can_be_turned_off(moto_tls: S3Server) -> None:
    with (
        moto_tls.bucket() as bucket,
        objstore.Store(moto_tls.backend(bucket, verify=False)) as store,
    ):
        store.put("k", b"unverified but encrypted")
        assert store.get("k") == b"unverified but encrypted"


def test_tls_with_the_wrong_ca_is_refused(moto_tls: S3Server, tmp_path: Path) -> None:
    other_ca = make_tls_files(tmp_path).ca
    for verify in (str(other_ca), True):
        backend = moto_tls.backend("any-bucket", verify=verify, max_attempts=1)
        with objstore.Store(backend) as store:
            with pytest.raises(objstore.UnavailableError, match="TLS") as caught:
                store.get("k")
            assert "TLS" in str(caught.value.__cause__)


# -- the read stream ---------------------------------------------------------------------------


class FakeBody:
    def __init__(self, data: bytes, fail_after: int | None = None):
        self.data, self.pos, self.fail_after, self.closed = data, 0, fail_after, False

    def read(self, n: int) -> bytes:
        if self.fail_after is not None and self.pos >= self.fail_after:
            from objstore.backends.s3._errors import TransportError

            raise TransportError("Connection broken: IncompleteRead")
        piece = self.data[self.pos : self.pos + n]
        self.pos += len(piece)
        return piece

    def close(self) -> None:
        self.closed = True


def test_body_span_reads_content_range() -> None:
    from objstore.backends.s3._answers import body_span, range_header

    assert body_span("bytes 10-19/1000", 10) == (10, 1000)
    assert body_span("bytes 0-0/*", 1) == (0, None)
    assert body_span(None, 1000) == (0, 1000)  # a 200: the whole object
    assert range_header(0, None) is None
    assert range_header(5, None) == "bytes=5-"
    assert range_header(5, 10) == "bytes=5-14"


def test_a_server_that_ignores_range_is_read_from_the_offset() -> None:
    from objstore.backends.s3._stream import S3ReadStream

    info = objstore.ObjectInfo("k", 100, "e", datetime.now(UTC))
    stream = S3ReadStream(FakeBody(pattern(100)), info, skip=30, remaining=20)
    assert stream.read(1000) == pattern(100)[30:50]
    assert stream.read(1000) == b""


def test_a_broken_body_raises_unavailable_and_closes() -> None:
    from objstore.backends.s3._stream import S3ReadStream

    body = FakeBody(pattern(100), fail_after=40)
    info = objstore.ObjectInfo("k", 100, "e", datetime.now(UTC))
    stream = S3ReadStream(body, info, skip=0, remaining=100)
    assert stream.read(40) == pattern(40)
    with pytest.raises(objstore.UnavailableError, match="dropped"):
        stream.read(10)
    assert body.closed


# -- credentials that rotate -------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["native", "boto3"])
def test_refreshable_credentials_rotate_mid_run(
    rclone_s3: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, transport: str
) -> None:
    """boto3's default chain with a ``credential_process`` whose keys expire soon: the
    backend reads them again before each request, and the server sees the new key."""
    from faultproxy import FaultProxy

    assert rclone_s3.second_keys is not None
    _no_ambient_credentials(monkeypatch, tmp_path)
    current = tmp_path / "current-keys"
    process = tmp_path / "credentials.py"
    process.write_text(
        "import datetime, json, pathlib\n"
        f"key, secret = pathlib.Path({str(current)!r}).read_text().split()\n"
        "soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=11)\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': key, 'SecretAccessKey': secret,\n"
        "                  'Expiration': soon.isoformat()}))\n"
    )
    (tmp_path / "no-config").write_text(
        f"[profile rotating]\ncredential_process = {sys.executable} {process}\n"
    )
    current.write_text(f"{rclone_s3.access_key_id} {rclone_s3.secret_access_key}")
    port = int(rclone_s3.endpoint_url.rsplit(":", 1)[1])
    with rclone_s3.bucket() as bucket, FaultProxy(port) as proxy:
        backend = S3Backend(
            bucket, profile="rotating", endpoint_url=proxy.url, provider="rclone",
            transport=transport,  # type: ignore[arg-type]
        )  # fmt: skip
        with objstore.Store(backend) as store:
            store.put("k", b"first key")
            current.write_text(" ".join(rclone_s3.second_keys))  # the keys rotate
            assert store.get("k") == b"first key"
            store.put("k", b"second key")
    used = {seen.headers["authorization"].split("Credential=")[1].split("/")[0]
            for seen in proxy.seen}  # fmt: skip
    assert used == {rclone_s3.access_key_id, rclone_s3.second_keys[0]}


def test_the_refusal_of_conditional_writes_names_the_override(rclone_s3: S3Server) -> None:
    with rclone_s3.store() as store:
        with pytest.raises(objstore.UnsupportedOperationError, match="conditional_writes: true"):
            store.put("k", b"x", if_none_match="*")
        key = "k" * 200 + "/" + "x" * 200 + "/" + "y" * 200 + "/" + "z" * 200 + "/" + "w" * 200
        with pytest.raises(objstore.NotFoundError) as caught:
            store.get(key)
        assert key not in str(caught.value) and "1004 bytes" in str(caught.value)


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31)))
def test_http_dates_read_by_position_match_the_email_package(moment: datetime) -> None:
    from email.utils import format_datetime, parsedate_to_datetime

    from objstore.backends.s3._answers import http_time

    text = format_datetime(moment.replace(microsecond=0, tzinfo=UTC), usegmt=True)
    assert http_time(text) == parsedate_to_datetime(text)
