"""The signed-URL apps over real HTTP: WSGI on a threaded wsgiref, ASGI on uvicorn (SPEC §8).

Every test runs against both apps, which share one set of decisions; every
answer is checked to name no file path (tests/signed_servers.py).
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from signed_servers import SIGNING_KEY, Served, file_config, serving

import objstore
from objstore import _signed_urls

OLD_KEY = "old-signing-key-0123456789abcdef"
PAGE = "http://page.test"
LIMIT = 64 * 1024
SECRET = b"TOP SECRET: outside the store"


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    base = tmp_path_factory.mktemp(request.param)
    (base / "secret.txt").write_bytes(SECRET)
    root = base / "root"
    options = {"signing_key": [SIGNING_KEY, OLD_KEY], "max_upload_size": LIMIT,
               "cors_origins": [PAGE]}  # fmt: skip
    with serving(request.param, str(root), **options) as served:
        yield served
    assert (base / "secret.txt").read_bytes() == SECRET
    assert sorted(p.name for p in base.iterdir()) == ["root", "secret.txt"]


def target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def forge(served: Served, method: str, key: str, expires_at: int | None = None,
          content_type: str | None = None) -> str:  # fmt: skip
    """A query signed with the real key for anything, as only the key's holder could."""
    settings = _signed_urls.find(served.store._backend)
    assert settings is not None
    expires_at = int(time.time()) + 600 if expires_at is None else expires_at
    signature = settings._digest(SIGNING_KEY, method, key, expires_at, content_type)
    query = f"{_signed_urls.EXPIRES}={expires_at}"
    if content_type is not None:
        query += f"&{_signed_urls.CONTENT_TYPE}={quote(content_type, safe='')}"
    return f"{query}&{_signed_urls.SIGNATURE}={signature}"


def on_disk(served: Served, key: str) -> Path:
    return Path(served.root) / key


# -- the round trip ----------------------------------------------------------------------------


def test_put_then_get_streams_the_bytes_both_ways(served: Served) -> None:
    key = "roundtrip/model v1.bin"
    data = os.urandom(LIMIT - 1)
    put = served.store.presign(key, method="PUT", content_type="application/x-model")
    answer = served.request("PUT", put, data, {"Content-Type": "application/x-model"})
    assert answer.status == 200, answer.body
    info = served.store.stat(key)
    assert answer.header("etag") == f'"{info.etag}"'
    assert on_disk(served, key).read_bytes() == data
    assert info.content_type == "application/x-model"
    got = served.request("GET", served.store.presign(key))
    assert (got.status, got.body) == (200, data)
    assert got.header("content-type") == "application/x-model"
    assert got.header("content-length") == str(len(data))
    assert got.header("etag") == f'"{info.etag}"'
    assert got.header("accept-ranges") == "bytes"
    assert got.header("last-modified") == info.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert got.header("x-content-type-options") == "nosniff"


def test_head_is_allowed_by_a_get_signature(served: Served) -> None:
    served.store.put("head/x.txt", b"twelve bytes")
    answer = served.request("HEAD", served.store.presign("head/x.txt"))
    assert (answer.status, answer.body) == (200, b"")
    assert answer.header("content-length") == "12"
    assert answer.header("content-type") == "text/plain"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Content-Type": "text/csv"}, "text/csv"), ({}, "application/json")],
)
def test_an_unbound_put_stores_the_uploaders_type_or_guesses(
    served: Served, headers: dict[str, str], expected: str
) -> None:
    key = f"types/{len(headers)}.json"
    answer = served.request("PUT", served.store.presign(key, method="PUT"), b"{}", headers)
    assert answer.status == 200
    assert served.store.stat(key).content_type == expected


# -- refusals: signature, expiry, method, content type -------------------------------------------


def tamper(url: str, what: str) -> str:
    parts = urlsplit(url)
    path, query = parts.path, parts.query
    if what == "key":
        path = path[:-1] + "X"
    elif what == "signature":
        digest = query.rsplit("=", 1)[1]
        query = query[: -len(digest)] + ("0" if digest[0] != "0" else "1") + digest[1:]
    elif what == "expiry":
        name = _signed_urls.EXPIRES + "="
        start = query.index(name) + len(name)
        query = query[:start] + str(int(query[start : start + 10]) + 1) + query[start + 10 :]
    elif what == "content type":
        query = query.replace("text%2Fplain", "text%2Fhtml")
    return f"{path}?{query}"


@pytest.mark.parametrize("what", ["key", "signature", "expiry", "content type"])
def test_a_tampered_put_url_is_refused_and_writes_nothing(served: Served, what: str) -> None:
    key = f"tamper/{what.replace(' ', '-')}.txt"
    url = tamper(served.store.presign(key, method="PUT", content_type="text/plain"), what)
    content_type = "text/html" if what == "content type" else "text/plain"
    answer = served.request("PUT", url, b"evil", {"Content-Type": content_type})
    assert answer.status == 403
    assert answer.header("content-type") == "text/plain; charset=utf-8"
    assert not served.store.exists(key) and not served.store.exists(key[:-1] + "X")


@pytest.mark.parametrize("what", ["key", "signature", "expiry"])
def test_a_tampered_get_url_is_refused(served: Served, what: str) -> None:
    for key in ("tamper/get.txt", "tamper/get.txX"):
        served.store.put(key, b"private")
    answer = served.request("GET", tamper(served.store.presign("tamper/get.txt"), what))
    assert answer.status == 403
    assert b"private" not in answer.body


def test_an_expired_url_is_refused(served: Served) -> None:
    served.store.put("expired/x", b"old news")
    past = int(time.time()) - 5
    answer = served.request("GET", f"/objstore/expired/x?{forge(served, 'GET', 'expired/x', past)}")
    assert answer.status == 403 and b"expired" in answer.body
    query = forge(served, "PUT", "expired/y", past)
    assert served.request("PUT", f"/objstore/expired/y?{query}", b"x").status == 403
    assert not served.store.exists("expired/y")


def test_a_url_works_for_its_method_only(served: Served) -> None:
    served.store.put("method/x", b"keep me")
    get, put = served.store.presign("method/x"), served.store.presign("method/x", method="PUT")
    assert served.request("PUT", get, b"overwritten").status == 403
    assert served.request("GET", put).status == 403
    assert served.request("HEAD", put).status == 403
    delete = served.request("DELETE", get)
    assert delete.status == 405 and delete.header("allow") == "GET, HEAD, PUT, OPTIONS"
    assert served.request("POST", get, b"x").status == 405
    assert served.store.get("method/x") == b"keep me"


def test_a_put_must_carry_the_signed_content_type(served: Served) -> None:
    url = served.store.presign("ctype/x", method="PUT", content_type="image/png")
    assert served.request("PUT", url, b"x", {"Content-Type": "image/jpeg"}).status == 403
    assert served.request("PUT", url, b"x").status == 403
    assert not served.store.exists("ctype/x")
    assert served.request("PUT", url, b"x", {"Content-Type": "image/png"}).status == 200


def test_rotation_old_urls_keep_working_retired_keys_do_not(served: Served, tmp_path: Path) -> None:
    served.store.put("rotation/x", b"rotated")
    port = served.port
    old = objstore.open(file_config(served.root, port, signing_key=OLD_KEY))
    retired = objstore.open(file_config(served.root, port, signing_key="retired-key-0123456789"))
    assert served.request("GET", old.presign("rotation/x")).body == b"rotated"
    assert served.request("GET", retired.presign("rotation/x")).status == 403


# -- the store's boundary -------------------------------------------------------------------------

TRAVERSALS = [
    "/objstore/../secret.txt",
    "/objstore/x/../../secret.txt",
    "/objstore/..%2fsecret.txt",
    "/objstore/..%2Fsecret.txt",
    "/objstore/%2e%2e/secret.txt",
    "/objstore/%2e%2e%2fsecret.txt",
    "/objstore/%2E%2E%2Fsecret.txt",
    "/objstore/%252e%252e%252fsecret.txt",
    "/objstore/..\\secret.txt",
    "/objstore/..%5csecret.txt",
    "/objstore/..%5c..%5csecret.txt",
    "/objstore//etc/passwd",
    "/objstore/%2fetc%2fpasswd",
    "/objstore/a%00b",
    "/objstore/secret.txt%00.png",
    "/objstore/%c0%ae%c0%ae/secret.txt",
    "/objstore/%c0%ae%c0%ae%c0%afsecret.txt",
    "/objstore/%e0%80%ae%e0%80%ae/secret.txt",
    "/objstore/",
    "/objstore/.",
    "/objstore/..",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_in_every_spelling_stays_inside(served: Served, path: str) -> None:
    query = target(served.store.presign("x")).split("?")[1]
    for method, body in (("GET", None), ("HEAD", None), ("PUT", b"pwned")):
        answer = served.request(method, f"{path}?{query}", body)
        assert answer.status in (403, 404), (method, answer.status)
        assert SECRET not in answer.body


@pytest.mark.parametrize("raw", [b"/objstore/\xc0\xae\xc0\xae/secret.txt", b"/objstore/\xff"])
def test_raw_bytes_that_are_not_utf8_name_nothing(served: Served, raw: bytes) -> None:
    query = target(served.store.presign("x")).split("?")[1].encode()
    with socket.create_connection(("127.0.0.1", served.port), timeout=60) as sock:
        sock.sendall(
            b"GET " + raw + b"?" + query + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        answer = read_answer(sock)
    assert answer.split(b" ")[1] in (b"400", b"403", b"404")
    assert SECRET not in answer


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/objstore/..%2fsecret.txt", "../secret.txt"),
        ("/objstore/x/../../secret.txt", "x/../../secret.txt"),
        ("/objstore//etc/passwd", "/etc/passwd"),
        ("/objstore/a%00b", "a\x00b"),
        ("/objstore/..", ".."),
    ],
)
def test_even_a_valid_signature_cannot_name_an_invalid_key(
    served: Served, path: str, key: str
) -> None:
    for method in ("GET", "PUT"):
        answer = served.request(method, f"{path}?{forge(served, method, key)}", b"pwned")
        assert answer.status == 404
        assert SECRET not in answer.body


@pytest.mark.parametrize(
    "key", ["..\\..\\secret.txt", "%2e%2e%2fsecret.txt", "..%2fsecret.txt", "a/..b/...", "\\.."]
)
def test_a_valid_key_that_looks_like_traversal_stays_inside(served: Served, key: str) -> None:
    put = served.store.presign(key, method="PUT")
    assert served.request("PUT", put, b"inside").status == 200
    assert on_disk(served, key).read_bytes() == b"inside"
    assert on_disk(served, key).resolve().is_relative_to(Path(served.root).resolve())
    assert served.request("GET", served.store.presign(key)).body == b"inside"


@pytest.mark.parametrize("path", ["/other/x", "/objstorex/x", "/", "/objstore", "/x/objstore/x"])
def test_requests_outside_the_base_path_are_not_found(served: Served, path: str) -> None:
    served.store.put("x", b"x")
    query = target(served.store.presign("x")).split("?")[1]
    assert served.request("GET", f"{path}?{query}").status == 404


# -- uploads ---------------------------------------------------------------------------------------


def test_a_body_over_max_upload_size_is_refused_and_writes_nothing(served: Served) -> None:
    url = served.store.presign("big/x", method="PUT")
    assert served.request("PUT", url, b"x" * (LIMIT + 1)).status == 413
    assert not served.store.exists("big/x")
    assert served.request("PUT", url, b"x" * LIMIT).status == 200


def test_a_streamed_body_is_limited_too(served: Served) -> None:
    url = served.store.presign("big/chunked", method="PUT")
    chunks = iter([b"x" * 16384] * 5)
    answer = served.request("PUT", url, chunks)  # http.client sends it chunked
    # wsgiref cannot read a body without a length (PEP 3333): the app asks for one
    assert answer.status == (411 if served.kind == "wsgi" else 413)
    assert not served.store.exists("big/chunked")


def raw_upload(served: Served, url: str, length: int) -> socket.socket:
    """Open an upload of ``length`` bytes and send only its headers."""
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=60)
    head = (f"PUT {target(url)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Length: {length}\r\n\r\n")  # fmt: skip
    sock.sendall(head.encode())
    return sock


def read_answer(sock: socket.socket) -> bytes:
    """One answer: headers, then ``Content-Length`` bytes of body (or up to the close)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
        head, found, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        if found and length and len(body) >= int(length.group(1)):
            break
    return data


def test_a_body_that_ends_early_stores_nothing(served: Served) -> None:
    served.store.put("short/x", b"the old version")
    sock = raw_upload(served, served.store.presign("short/x", method="PUT"), 50_000)
    sock.sendall(b"y" * 20_000)
    sock.shutdown(socket.SHUT_WR)
    answer = read_answer(sock)  # the server is done with it when it closes
    sock.close()
    assert b"200 OK" not in answer
    assert served.store.get("short/x") == b"the old version"
    assert sorted(os.listdir(Path(served.root) / "short")) == ["x"]


def test_a_slow_upload_does_not_hold_up_other_requests(served: Served) -> None:
    served.store.put("slow/other", b"still served")
    sock = raw_upload(served, served.store.presign("slow/x", method="PUT"), 1000)
    sock.sendall(b"z" * 10)
    for _ in range(3):  # while the upload waits for its body
        answer = served.request("GET", served.store.presign("slow/other"))
        assert answer.body == b"still served"
    assert not served.store.exists("slow/x")
    sock.sendall(b"z" * 990)
    assert b"200 OK" in read_answer(sock)
    sock.close()
    assert served.store.get("slow/x") == b"z" * 1000


def test_slow_uploads_do_not_take_the_workers_of_the_store(tmp_path: Path) -> None:
    # Stalled uploads to the file backend, more than the AsyncStore has workers, and
    # a download still gets through.
    with serving("asgi", str(tmp_path), max_workers=2) as served:
        served.store.put("other", b"still served")
        stalled = []
        for index in range(3):
            sock = raw_upload(served, served.store.presign(f"slow/{index}", method="PUT"), 100)
            sock.sendall(b"z")
            stalled.append(sock)
        assert served.request("GET", served.store.presign("other")).body == b"still served"
        for sock in stalled:
            sock.sendall(b"z" * 99)
            assert b"200 OK" in read_answer(sock)
            sock.close()
        assert [served.store.get(f"slow/{index}") for index in range(3)] == [b"z" * 100] * 3


def test_an_idle_upload_times_out_and_stores_nothing(tmp_path: Path) -> None:
    with serving("asgi", str(tmp_path), idle_timeout=0.5) as served:
        sock = raw_upload(served, served.store.presign("idle/x", method="PUT"), 1000)
        sock.sendall(b"z" * 10)
        answer = read_answer(sock)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 408")
        assert not served.store.exists("idle/x")


# -- HTTP semantics --------------------------------------------------------------------------------


@pytest.fixture
def ten(served: Served) -> tuple[str, str]:
    info = served.store.put("ranges/ten.bin", b"0123456789")
    return served.store.presign("ranges/ten.bin"), info.etag


@pytest.mark.parametrize(
    ("value", "body", "content_range"),
    [
        ("bytes=2-4", b"234", "bytes 2-4/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
        ("bytes=-100", b"0123456789", "bytes 0-9/10"),
    ],
)
def test_a_satisfiable_range_answers_206(
    served: Served, ten: tuple[str, str], value: str, body: bytes, content_range: str
) -> None:
    answer = served.request("GET", ten[0], headers={"Range": value})
    assert (answer.status, answer.body) == (206, body)
    assert answer.header("content-range") == content_range
    assert answer.header("content-length") == str(len(body))


@pytest.mark.parametrize("value", ["bytes=10-", "bytes=10-20", "bytes=-0"])
def test_an_unsatisfiable_range_answers_416(
    served: Served, ten: tuple[str, str], value: str
) -> None:
    answer = served.request("GET", ten[0], headers={"Range": value})
    assert answer.status == 416
    assert answer.header("content-range") == "bytes */10"


@pytest.mark.parametrize("value", ["bytes=0-1,4-5", "items=0-1", "bytes=5-2", "bytes=x-"])
def test_other_ranges_get_the_whole_object(
    served: Served, ten: tuple[str, str], value: str
) -> None:
    answer = served.request("GET", ten[0], headers={"Range": value})
    assert (answer.status, answer.body) == (200, b"0123456789")


def test_if_range_sends_the_whole_object_when_it_changed(
    served: Served, ten: tuple[str, str]
) -> None:
    url, etag = ten
    same = served.request("GET", url, headers={"Range": "bytes=0-1", "If-Range": f'"{etag}"'})
    assert same.status == 206
    other = served.request("GET", url, headers={"Range": "bytes=0-1", "If-Range": '"other"'})
    assert (other.status, other.body) == (200, b"0123456789")


@pytest.mark.parametrize("value", ["{etag}", "W/{etag}", '"x", {etag}', "*"])
def test_if_none_match_answers_304(served: Served, ten: tuple[str, str], value: str) -> None:
    url, etag = ten
    header = value.format(etag=f'"{etag}"')
    for method in ("GET", "HEAD"):
        answer = served.request(method, url, headers={"If-None-Match": header})
        assert (answer.status, answer.body) == (304, b"")
        assert answer.header("etag") == f'"{etag}"'
    assert served.request("GET", url, headers={"If-None-Match": '"other"'}).status == 200


def test_if_modified_since_answers_304(served: Served, ten: tuple[str, str]) -> None:
    url = ten[0]
    modified = served.request("HEAD", url).header("last-modified")
    assert modified is not None
    assert served.request("GET", url, headers={"If-Modified-Since": modified}).status == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert served.request("GET", url, headers={"If-Modified-Since": old}).status == 200


def test_if_match_on_a_read_answers_412(served: Served, ten: tuple[str, str]) -> None:
    url, etag = ten
    assert served.request("GET", url, headers={"If-Match": '"other"'}).status == 412
    assert served.request("GET", url, headers={"If-Match": f'"{etag}"'}).status == 200


def test_a_missing_object_is_404(served: Served) -> None:
    for method in ("GET", "HEAD"):
        assert served.request(method, served.store.presign("nothing/here")).status == 404


# -- conditional uploads ---------------------------------------------------------------------------


def test_if_none_match_star_creates_only(served: Served) -> None:
    url = served.store.presign("cond/create", method="PUT")
    assert served.request("PUT", url, b"first", {"If-None-Match": "*"}).status == 200
    assert served.request("PUT", url, b"second", {"If-None-Match": "*"}).status == 412
    assert served.store.get("cond/create") == b"first"


def test_if_match_updates_only_the_named_version(served: Served) -> None:
    etag = served.store.put("cond/update", b"v1").etag
    url = served.store.presign("cond/update", method="PUT")
    assert served.request("PUT", url, b"v2", {"If-Match": '"stale"'}).status == 412
    assert served.store.get("cond/update") == b"v1"
    answer = served.request("PUT", url, b"v2", {"If-Match": f'"{etag}"'})
    assert answer.status == 200
    assert served.store.get("cond/update") == b"v2"
    assert answer.header("etag") == f'"{served.store.stat("cond/update").etag}"'


def test_if_match_star_needs_an_object(served: Served) -> None:
    url = served.store.presign("cond/any", method="PUT")
    assert served.request("PUT", url, b"x", {"If-Match": "*"}).status == 412
    assert not served.store.exists("cond/any")
    served.store.put("cond/any", b"there")
    assert served.request("PUT", url, b"replaced", {"If-Match": "*"}).status == 200
    assert served.store.get("cond/any") == b"replaced"


@pytest.mark.parametrize(
    "headers",
    [{"If-Match": '"a"', "If-None-Match": "*"}, {"If-None-Match": '"a"'}, {"If-Match": '"a", "b"'}],
)
def test_malformed_conditions_are_400(served: Served, headers: dict[str, str]) -> None:
    url = served.store.presign("cond/bad", method="PUT")
    assert served.request("PUT", url, b"x", headers).status == 400
    assert not served.store.exists("cond/bad")


# -- CORS ------------------------------------------------------------------------------------------


def preflight(
    served: Served, url: str, origin: str, headers: str = "content-type"
) -> dict[str, str]:
    answer = served.request("OPTIONS", url, headers={
        "Origin": origin, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": headers,
    })  # fmt: skip
    return {"status": str(answer.status), **answer.headers}


def test_preflight_from_an_allowed_origin(served: Served) -> None:
    url = served.store.presign("cors/x", method="PUT")
    answer = preflight(served, url, PAGE, "content-type, if-none-match")
    assert answer["status"] == "204"
    assert answer["access-control-allow-origin"] == PAGE
    assert "PUT" in answer["access-control-allow-methods"]
    assert answer["access-control-allow-headers"] == "content-type, if-none-match"


@pytest.mark.parametrize(("origin", "headers"), [("http://evil.test", "content-type"),
                                                 (PAGE, "content-type, x-evil")])  # fmt: skip
def test_preflight_from_elsewhere_is_refused(served: Served, origin: str, headers: str) -> None:
    answer = preflight(served, served.store.presign("cors/x", method="PUT"), origin, headers)
    assert answer["status"] == "403"
    assert "access-control-allow-origin" not in answer


def test_answers_carry_cors_headers_for_allowed_origins_only(served: Served) -> None:
    served.store.put("cors/y", b"shared")
    url = served.store.presign("cors/y")
    allowed = served.request("GET", url, headers={"Origin": PAGE})
    assert allowed.header("access-control-allow-origin") == PAGE
    assert "ETag" in (allowed.header("access-control-expose-headers") or "")
    other = served.request("GET", url, headers={"Origin": "http://evil.test"})
    assert other.header("access-control-allow-origin") is None
    refused = served.request("GET", tamper(url, "signature"), headers={"Origin": PAGE})
    assert refused.status == 403 and refused.header("access-control-allow-origin") == PAGE


# -- layers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_urls_name_the_users_keys_under_a_prefix(kind: str, tmp_path: Path) -> None:
    with serving(kind, str(tmp_path), signing_key=SIGNING_KEY) as served:
        prefixed = {"prefix": "tenant-a/", **file_config(str(tmp_path), served.port)}
        with objstore.open(prefixed) as tenant:
            url = tenant.presign("k", method="PUT")
            assert urlsplit(url).path == "/objstore/k"
            # the server's store has no prefix: the URL names "k", not "tenant-a/k"
            assert served.request("PUT", url, b"v").status == 200
    assert (tmp_path / "k").read_bytes() == b"v"
