"""objstore's SigV4 signer is byte-identical to botocore's, for any portable key.

Hypothesis draws keys over all of SPEC §3 (``+``, ``%``, ``~``, ``*``, spaces,
emoji, any script), query parameters, headers, methods and payload hashes;
botocore's ``S3SigV4Auth`` / ``S3SigV4QueryAuth`` sign the same request at the
same instant, and the Authorization header (or the presigned URL) must match
to the byte.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from unittest import mock

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from objstore._keys import key_problem
from objstore.backends.s3._signing import Keys, Signer, encode_path, encode_query

NOW = datetime(2026, 11, 28, 9, 30, 15, tzinfo=UTC)
HOST = "127.0.0.1:9000"

keys = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc")),
        min_size=1,
        max_size=60,
    )
    .map(lambda k: k.strip("/").replace("//", "/"))
    .filter(lambda k: key_problem(k) is None)
)
tokens = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=12)
params = st.lists(st.tuples(st.sampled_from(["prefix", "uploadId", "partNumber", "x"]), tokens))
header_values = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=20
).filter(lambda v: v.strip())
headers = st.dictionaries(
    st.sampled_from(["content-type", "x-amz-meta-a", "if-match", "range", "x-amz-copy-source"]),
    header_values,
    max_size=3,
)
secrets = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8)
regions = st.sampled_from(["us-east-1", "eu-west-3", "auto"])


def _botocore_headers(
    key: str,
    method: str,
    query: list[tuple[str, str]],
    sent: dict[str, str],
    body: bytes | None,
    creds: Keys,
    region: str,
) -> str:
    """botocore's Authorization; ``body=None`` asks for an unsigned payload."""
    path = encode_path(f"/bucket/{key}")
    url = f"http://{HOST}{path}" + (f"?{encode_query(query)}" if query else "")
    request = AWSRequest(method=method, url=url, headers={"host": HOST, **sent}, data=body)
    if body is None:
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    auth = S3SigV4Auth(Credentials(creds.access_key, creds.secret_key, creds.token), "s3", region)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW):
        auth.add_auth(request)
    return str(request.headers["Authorization"])


@settings(max_examples=300, deadline=None)
@given(
    key=keys,
    method=st.sampled_from(["GET", "PUT", "HEAD", "DELETE", "POST"]),
    query=params,
    sent=headers,
    body=st.binary(max_size=64),
    unsigned=st.booleans(),
    secret=secrets,
    region=regions,
    token=st.none() | tokens.filter(bool),
)
def test_header_signatures_match_botocore(
    key: str,
    method: str,
    query: list[tuple[str, str]],
    sent: dict[str, str],
    body: bytes,
    unsigned: bool,
    secret: str,
    region: str,
    token: str | None,
) -> None:
    creds = Keys("AKIDEXAMPLE", secret, token)
    digest = hashlib.sha256(body).hexdigest() if unsigned is False else "UNSIGNED-PAYLOAD"
    ours = {"host": HOST, **sent}
    path = encode_path(f"/bucket/{key}")
    Signer(region).sign_headers(creds, method, path, query, ours, digest, NOW)
    theirs = _botocore_headers(key, method, query, sent, None if unsigned else body, creds, region)
    assert ours["authorization"] == theirs


@settings(max_examples=300, deadline=None)
@given(
    key=keys,
    method=st.sampled_from(["GET", "PUT"]),
    content_type=st.none() | header_values,
    expires=st.integers(1, 7 * 24 * 3600),
    secret=secrets,
    region=regions,
    token=st.none() | tokens.filter(bool),
)
def test_presigned_urls_match_botocore(
    key: str,
    method: str,
    content_type: str | None,
    expires: int,
    secret: str,
    region: str,
    token: str | None,
) -> None:
    creds = Keys("AKIDEXAMPLE", secret, token)
    path = encode_path(f"/bucket/{key}")
    signed = {"host": HOST}
    if content_type is not None:
        signed["content-type"] = content_type
    query = Signer(region).presign(creds, method, path, [], signed, expires, NOW)
    ours = f"http://{HOST}{path}?{query}"

    request = AWSRequest(method=method, url=f"http://{HOST}{path}", headers=dict(signed))
    auth = S3SigV4QueryAuth(
        Credentials(creds.access_key, creds.secret_key, creds.token), "s3", region, expires
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW):
        auth.add_auth(request)
    assert ours == request.url


def test_the_signing_key_is_cached_per_day_and_region() -> None:
    signer = Signer("eu-west-3")
    creds = Keys("AKID", "secret-one")
    for _ in range(3):
        signer.sign_headers(creds, "GET", "/b/k", [], {"host": HOST}, "UNSIGNED-PAYLOAD", NOW)
    assert len(signer._cache) == 1
    signer.sign_headers(
        Keys("AKID", "secret-two"), "GET", "/b/k", [], {"host": HOST}, "UNSIGNED-PAYLOAD", NOW
    )
    assert len(signer._cache) == 2  # a rotated secret has its own key


@pytest.mark.parametrize("key", ["a b+c%d~e*f/é😀", "ü/ÿ/\\:?#'\"", "x" * 300])
def test_key_encoding_matches_botocore(key: str) -> None:
    from botocore.utils import percent_encode

    assert encode_path(key) == percent_encode(key, safe="/~")


def test_keys_never_show_the_secret() -> None:
    assert "s3cr3t" not in repr(Keys("AKID", "s3cr3t", "t0ken"))
