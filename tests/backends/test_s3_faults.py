"""The S3 backend under faults, through tests/faultproxy.py, on moto's and rclone's servers
and on both transports: 503 storms, resets mid-body, hangs, truncated and lost answers,
and hostile error texts."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from faultproxy import FaultProxy, matching
from servers import S3Server

import objstore
from objstore.testing._helpers import pattern

MiB = 1 << 20
SMALL_PARTS: dict[str, Any] = {"multipart_threshold": 5 * MiB, "part_size": 5 * MiB}


@pytest.fixture(params=["moto_http", "rclone_s3"])
def server(request: pytest.FixtureRequest) -> S3Server:
    found: S3Server = request.getfixturevalue(request.param)
    return found


@pytest.fixture(params=["native", "boto3"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.contextmanager
def proxied(
    server: S3Server, transport: str, **options: Any
) -> Iterator[tuple[objstore.Store, FaultProxy, objstore.Store]]:
    """A store through a fault proxy, and one straight to the server (same bucket)."""
    port = int(server.endpoint_url.rsplit(":", 1)[1])
    settings: dict[str, Any] = {"transport": transport, "max_attempts": 3, **options}
    with server.bucket() as bucket, FaultProxy(port) as proxy:
        through = server.backend(bucket, endpoint_url=proxy.url, **settings)
        direct = server.backend(bucket)
        with objstore.Store(through) as store, objstore.Store(direct) as other:
            yield store, proxy, other


def test_a_503_storm_is_retried_then_unavailable_naming_the_endpoint(
    server: S3Server, transport: str
) -> None:
    with proxied(server, transport) as (store, proxy, _):
        proxy.arm("status", matching("PUT"), times=2)
        assert store.put("k", b"after the storm").size == 15
        proxy.arm("status", matching("GET"), times=3)
        with pytest.raises(objstore.UnavailableError) as caught:
            store.get("k")
        assert proxy.url.removeprefix("http://") in str(caught.value)
        assert str(caught.value).count("HTTP 503") == 1
        assert store.get("k") == b"after the storm"


def test_resets_mid_body_resume_pinned_to_the_etag(server: S3Server, transport: str) -> None:
    content = pattern(3 * MiB + 5)
    with proxied(server, transport) as (store, proxy, other):
        proxy.arm("reset_request", matching("PUT"), after=MiB)  # the upload is cut: retried
        info = store.put("k", content)
        assert other.get("k") == content
        proxy.arm("reset_answer", matching("GET"), after=MiB)
        assert b"".join(store.get_stream("k", chunk_size=256 * 1024)) == content
        proxy.arm("truncate", matching("GET"), after=MiB)
        assert store.get("k", offset=7) == content[7:]
        assert len(proxy.fired) == 3
        proxy.arm("reset_answer", matching("GET"), after=MiB)
        stream = store.get_stream("k", chunk_size=64 * 1024)
        next(stream)
        other.put("k", b"changed meanwhile")  # the resume must not splice two versions
        with pytest.raises(objstore.PreconditionFailedError):
            b"".join(stream)
        assert info.etag != other.stat("k").etag


def test_a_server_that_never_answers_times_out(moto_http: S3Server, transport: str) -> None:
    with proxied(moto_http, transport, read_timeout=0.5, max_attempts=1) as (store, proxy, _):
        store.put("k", b"x")
        proxy.arm("hang", matching("GET"))
        with pytest.raises(objstore.UnavailableError, match=r"(?i)time"):
            store.get("k")


def test_a_conditional_put_whose_answer_was_lost_reports_the_truth(
    moto_http: S3Server, transport: str
) -> None:
    """The server applied the put; the retry meets 412; the put still succeeds."""
    with proxied(moto_http, transport) as (store, proxy, other):
        proxy.arm("lose_answer", matching("PUT"))
        created = store.put("k", b"mine", if_none_match="*")
        assert other.get("k") == b"mine" and other.stat("k").etag == created.etag
        proxy.arm("lose_answer", matching("PUT"))
        updated = store.put("k", b"mine too", if_match=created.etag)
        assert other.stat("k").etag == updated.etag
        assert "objstore-write" not in (other.stat("k").metadata or {})


def test_a_lost_answer_then_a_replacement_is_still_this_write(
    moto_http: S3Server, transport: str
) -> None:
    """Another writer replaced this put's version before the retry: no update twice."""
    with proxied(moto_http, transport) as (store, proxy, other):
        first = store.put("counter", b"5")

        def another_writer() -> None:
            current = other.stat("counter")  # 6, just written by the store
            other.put("counter", b"7", if_match=current.etag)

        proxy.arm("lose_answer", matching("PUT"), then=another_writer)
        mine = store.put("counter", b"6", if_match=first.etag)
        assert mine.etag != first.etag and other.get("counter") == b"7"


def test_without_room_for_a_token_a_lost_answer_is_unavailable_never_a_refusal(
    moto_http: S3Server, transport: str
) -> None:
    """2 KiB of metadata (SPEC §4's limit, and S3's) leave no room for the write token;
    after a lost answer the truth cannot be told, and the store says so instead of
    reporting its own write as a failed condition."""
    full = {"m": "x" * (2048 - 1)}
    with proxied(moto_http, transport) as (store, proxy, other):
        created = store.put("k", b"first", if_none_match="*", metadata=full)
        assert dict(other.stat("k").metadata or {}) == full  # no token sent beside them
        proxy.arm("lose_answer", matching("PUT"))
        with pytest.raises(objstore.UnavailableError, match="cannot be told") as caught:
            store.put("k", b"second", if_match=created.etag, metadata=full)
        assert not isinstance(caught.value, objstore.PreconditionFailedError)
        assert other.get("k") == b"second"  # it was, in fact, stored


def test_equal_bytes_of_another_writer_are_not_this_write(
    moto_http: S3Server, transport: str
) -> None:
    """Two writers increment 5 to 6: only one succeeds, though the bytes are equal."""
    with proxied(moto_http, transport) as (store, proxy, other):
        first = store.put("counter", b"5")
        winner = lambda: other.put("counter", b"6", if_match=first.etag)  # noqa: E731
        proxy.arm("reset_request", matching("PUT"), then=winner)
        with pytest.raises(objstore.PreconditionFailedError):
            store.put("counter", b"6", if_match=first.etag)


def test_a_completed_upload_whose_answer_was_lost_succeeds(
    server: S3Server, transport: str
) -> None:
    """rclone answers the retried CompleteMultipartUpload with NoSuchUpload."""
    content = pattern(11 * MiB)
    with proxied(server, transport, **SMALL_PARTS) as (store, proxy, other):
        proxy.arm("lose_answer", matching("POST", "uploadId="))
        info = store.put("big", content)
        assert other.get("big") == content
        assert other.stat("big").etag == info.etag
        assert server.pending_uploads(bucket_of(other)) == []


def bucket_of(store: objstore.Store) -> str:
    return str(store._backend.bucket)  # type: ignore[attr-defined]


def test_etags_agree_after_a_multipart_put(server: S3Server, transport: str) -> None:
    """rclone answers CompleteMultipartUpload with an etag no other call shows."""
    with server.store(transport=transport, **SMALL_PARTS) as store:
        info = store.put("big", pattern(11 * MiB))
        listed = [item for item in store.list() if item.key == "big"]
        with store.open("big") as reader:
            opened = reader.info.etag
        stream = store.get_stream("big")
        streamed = stream.info.etag
        stream.close()
        assert {info.etag, store.stat("big").etag, listed[0].etag, opened, streamed} == {info.etag}  # type: ignore[union-attr]


def test_a_failed_abort_names_the_lingering_upload(
    moto_http: S3Server, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    class SourceBrokeError(Exception):
        pass

    def failing() -> Iterator[bytes]:
        yield pattern(11 * MiB)
        raise SourceBrokeError

    denied = b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>"
    with proxied(moto_http, transport, **SMALL_PARTS) as (store, proxy, _):
        proxy.arm("status", matching("DELETE", "uploadId="), status=403, body=denied)
        with (
            caplog.at_level(logging.WARNING, logger="objstore"),
            pytest.raises(SourceBrokeError) as caught,
        ):
            store.put("k", failing())
        [upload] = moto_http.pending_uploads(bucket_of(store))
        assert upload["UploadId"] in "".join(caught.value.__notes__)
        assert any(upload["UploadId"] in record.getMessage() for record in caplog.records)
        proxy.arm("status", matching("DELETE", "uploadId="), status=403, body=denied)
        proxy.arm("status", matching("PUT", "partNumber=2"), status=400, body=denied)
        with pytest.raises(objstore.ObjstoreError, match="lingers"):
            store.put("k", pattern(11 * MiB))


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]


def test_no_secret_in_any_message_or_cause(server: S3Server, transport: str) -> None:
    secret = server.secret_access_key
    echo = f"<Error><Code>AccessDenied</Code><Message>key {secret} refused</Message></Error>"
    with proxied(server, transport) as (store, proxy, _):
        proxy.arm("status", matching("GET"), status=403, body=echo.encode())
        with pytest.raises(objstore.PermissionDeniedError) as caught:
            store.get("k")
        for error in _chain(caught.value):
            assert secret not in str(error) + repr(error)
        assert str(caught.value).count("HTTP 403") == 1


@pytest.mark.parametrize(
    ("code", "status", "error", "says"),
    [
        ("RequestTimeTooSkewed", 403, objstore.PermissionDeniedError, "clock"),
        ("ExpiredToken", 400, objstore.PermissionDeniedError, "expired"),
    ],
)
def test_clear_errors_for_the_clock_and_expired_credentials(
    moto_http: S3Server, code: str, status: int, error: type[Exception], says: str
) -> None:
    body = f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode()
    with proxied(moto_http, "native") as (store, proxy, _):
        proxy.arm("status", matching("GET"), status=status, body=body)
        with pytest.raises(error, match=says):
            store.get("k")  # (HEAD answers have no body to say why)


def test_an_endpoint_that_is_not_s3_is_a_clear_error(moto_http: S3Server) -> None:
    page = b"<!doctype html><html><body>Welcome to nginx!</body></html>"
    with proxied(moto_http, "native") as (store, proxy, _):
        proxy.arm("status", matching("GET"), status=404, body=page,
                  headers={"Content-Type": "text/html"})  # fmt: skip
        with pytest.raises(objstore.ConfigError, match="does not answer like an S3 service"):
            list(store.list())


def test_a_wrong_region_is_followed_once(moto_http: S3Server) -> None:
    moved = b"<Error><Code>PermanentRedirect</Code><Message>elsewhere</Message></Error>"
    with proxied(moto_http, "native", region="us-east-1") as (store, proxy, _):
        store.put("k", b"x")
        proxy.arm("status", matching("HEAD"), status=301, body=moved,
                  headers={"x-amz-bucket-region": "eu-west-3"})  # fmt: skip
        assert store.stat("k").size == 1
        assert "/eu-west-3/s3/" in proxy.seen[-1].headers["authorization"]
        proxy.arm("status", matching("HEAD"), times=2, status=301, body=moved,
                  headers={"x-amz-bucket-region": "ap-south-1"})  # fmt: skip
        with pytest.raises(objstore.ConfigError, match="ap-south-1"):
            store.stat("k")


def test_https_proxy_and_no_proxy_are_honoured(
    moto_tls: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = int(moto_tls.endpoint_url.rsplit(":", 1)[1])
    with FaultProxy(port) as proxy, moto_tls.bucket() as bucket:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        with objstore.Store(moto_tls.backend(bucket)) as store:
            store.put("k", b"through the tunnel")
        assert [seen.method for seen in proxy.seen] == ["CONNECT"]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with objstore.Store(moto_tls.backend(bucket)) as store:
            assert store.get("k") == b"through the tunnel"
        assert len(proxy.seen) == 1


def test_http_proxy_gets_absolute_urls(
    moto_http: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = int(moto_http.endpoint_url.rsplit(":", 1)[1])
    with FaultProxy(port) as proxy, moto_http.bucket() as bucket:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        with objstore.Store(moto_http.backend(bucket)) as store:
            store.put("k", b"through the proxy")
            assert store.get("k") == b"through the proxy"
        assert [seen.method for seen in proxy.seen] == ["PUT", "GET"]
        origin = f"http://127.0.0.1:{port}/{bucket}/k"
        assert all(seen.path.startswith(origin) for seen in proxy.seen), proxy.seen


def test_a_committed_upload_stays_a_success_when_the_etag_cannot_be_read_back(
    moto_http: S3Server, transport: str
) -> None:
    content = pattern(11 * MiB)
    with proxied(moto_http, transport, **SMALL_PARTS) as (store, proxy, other):
        proxy.arm("status", matching("HEAD"), times=3)  # every attempt of the look-back
        info = store.put("big", content)
        assert other.stat("big").etag == info.etag and other.get("big") == content
        assert proxy.fired


def test_https_proxy_is_honoured_by_the_asyncio_methods(
    moto_tls: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    port = int(moto_tls.endpoint_url.rsplit(":", 1)[1])
    with FaultProxy(port) as proxy, moto_tls.bucket() as bucket:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        backend = moto_tls.backend(bucket)

        async def main() -> int:
            found = [item async for item in backend.alist("", delimiter=None, start_after=None)]
            await backend.aclose()
            return len(found)

        assert asyncio.run(main()) == 0
        assert [seen.method for seen in proxy.seen] == ["CONNECT"]
