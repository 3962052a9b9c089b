"""``presign`` without native presigning: configuration, URLs, refusals (SPEC §5, §8).

The HTTP side (the server checking these URLs) is in tests/server/.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import objstore
from objstore import _signed_urls
from objstore.backends.memory import MemoryBackend
from objstore.layers import SignedUrlLayer
from objstore.plugin import BackendSpec, Option, as_str, register_backend

KEY = "test-signing-key-0123456789"
OLD_KEY = "old-signing-key-0123456789"


def memory(**section: Any) -> dict[str, Any]:
    return {"backend": "memory", "memory": section}


def signed(**extra: Any) -> objstore.Store:
    return objstore.open(
        memory(base_url="http://files.test:8080/objstore/", signing_key=KEY, **extra)
    )


def params(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


# -- what is missing is said ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "missing"),
    [
        ({}, "set memory.base_url and memory.signing_key"),
        ({"base_url": "http://files.test"}, "set memory.signing_key"),
        ({"signing_key": KEY}, "set memory.base_url"),
    ],
)
def test_presign_without_configuration_says_which_key_to_set(
    section: dict[str, str], missing: str
) -> None:
    with objstore.open(memory(**section)) as store:
        assert store.capabilities.presign is False
        with pytest.raises(objstore.UnsupportedOperationError, match=missing) as caught:
            store.presign("k")
    assert caught.value.backend == "memory"
    assert KEY not in str(caught.value)


def test_presign_with_configuration_is_a_capability() -> None:
    with signed() as store:
        assert store.capabilities.presign is True
        assert store.capabilities.conditional_put is True  # the rest is the backend's
        assert store.presign("k").startswith("http://files.test:8080/objstore/k?")


def test_file_backend_signs_too(tmp_path: Path) -> None:
    config = {"backend": "file", "file": {"root": str(tmp_path), "base_url": "https://x.test",
                                          "signing_key": KEY}}  # fmt: skip
    with objstore.open(config) as store:
        assert store.presign("a/b.txt").startswith("https://x.test/a/b.txt?")


def test_async_store_signs_the_same_way() -> None:
    async def main() -> str:
        async with objstore.open_async(memory(base_url="http://f.test", signing_key=KEY)) as store:
            return await store.presign("k", method="PUT", content_type="text/plain")

    url = asyncio.run(main())
    assert params(url)[_signed_urls.CONTENT_TYPE] == "text/plain"


# -- the URL ---------------------------------------------------------------------------------


def test_the_url_names_the_key_percent_encoded_under_base_url() -> None:
    key = "models/résumé v2/a+b%c?d#e\\f.bin"
    with signed() as store:
        url = store.presign(key)
    parts = urlsplit(url)
    assert parts.path == "/objstore/models/r%C3%A9sum%C3%A9%20v2/a%2Bb%25c%3Fd%23e%5Cf.bin"
    assert set(params(url)) == {_signed_urls.EXPIRES, _signed_urls.SIGNATURE}


@pytest.mark.parametrize("expires", [1, 3600, timedelta(days=7), timedelta(seconds=90)])
def test_expiry_is_now_plus_expires(expires: int | timedelta) -> None:
    seconds = expires if isinstance(expires, int) else int(expires.total_seconds())
    before = int(time.time())
    with signed() as store:
        url = store.presign("k", expires=expires)
    after = int(time.time())
    assert before + seconds <= int(params(url)[_signed_urls.EXPIRES]) <= after + seconds


def test_a_put_url_carries_its_content_type() -> None:
    with signed() as store:
        url = store.presign("k", method="put", content_type="application/x-model")
    assert params(url)[_signed_urls.CONTENT_TYPE] == "application/x-model"


@pytest.mark.parametrize(
    "kwargs",
    [{"expires": 0}, {"expires": 7 * 86400 + 1}, {"method": "DELETE"}, {"expires": 1.5}],
)
def test_bad_arguments_are_refused_before_signing(kwargs: dict[str, Any]) -> None:
    with signed() as store, pytest.raises((ValueError, TypeError)):
        store.presign("k", **kwargs)


def test_invalid_keys_are_refused() -> None:
    with signed() as store, pytest.raises(objstore.InvalidKeyError):
        store.presign("../etc/passwd")


# -- checking what was signed ------------------------------------------------------------------


def settings(store: objstore.Store) -> _signed_urls.SignedUrls:
    found = _signed_urls.find(store._backend)
    assert found is not None
    return found


def query(url: str) -> str:
    return urlsplit(url).query


def test_verify_accepts_what_was_signed_and_binds_everything() -> None:
    with signed() as store:
        check = settings(store)
        get, put = store.presign("a/b"), store.presign("a/b", method="PUT", content_type="x/y")
    assert check.verify("GET", "a/b", query(get)) is None
    assert check.verify("HEAD", "a/b", query(get)) is None  # GET allows HEAD
    assert check.verify("PUT", "a/b", query(put)) == "x/y"
    refusals = [
        ("PUT", "a/b", query(get)),  # another method
        ("GET", "a/b", query(put)),
        ("GET", "a/c", query(get)),  # another key
        ("GET", "a/b", query(get).replace("X-Objstore-Expires=", "X-Objstore-Expires=1")),
        ("PUT", "a/b", query(put).replace("x%2Fy", "x%2Fz")),  # another content type
        ("PUT", "a/b", query(put).replace("&X-Objstore-Content-Type=x%2Fy", "")),
        ("GET", "a/b", "X-Objstore-Expires=9999999999&X-Objstore-Signature=" + "0" * 64),
        ("GET", "a/b", ""),
        ("GET", "a/b", query(get) + "&" + query(get)),  # a parameter given twice
    ]
    for method, key, text in refusals:
        with pytest.raises(_signed_urls.Refused):
            check.verify(method, key, text)


def test_expiry_is_checked_against_the_clock() -> None:
    with signed() as store:
        url = store.presign("k", expires=60)
    check = settings(store)
    expires_at = int(params(url)[_signed_urls.EXPIRES])
    assert check.verify("GET", "k", query(url), now=expires_at) is None
    with pytest.raises(_signed_urls.Refused, match="expired"):
        check.verify("GET", "k", query(url), now=expires_at + 1)


def test_a_url_is_bound_to_the_path_of_base_url() -> None:
    with signed() as store:
        url = store.presign("k")
    other = objstore.open(memory(base_url="http://files.test:8080/other", signing_key=KEY))
    with pytest.raises(_signed_urls.Refused):
        settings(other).verify("GET", "k", query(url))


def test_rotation_first_key_signs_every_key_verifies() -> None:
    old = objstore.open(memory(base_url="http://f.test", signing_key=OLD_KEY))
    rotated = objstore.open(memory(base_url="http://f.test", signing_key=[KEY, OLD_KEY]))
    new_only = objstore.open(memory(base_url="http://f.test", signing_key=KEY))
    from_old, from_rotated = old.presign("k"), rotated.presign("k")
    assert settings(rotated).verify("GET", "k", query(from_old)) is None
    assert settings(new_only).verify("GET", "k", query(from_rotated)) is None
    with pytest.raises(_signed_urls.Refused):
        settings(new_only).verify("GET", "k", query(from_old))


# -- configuration ----------------------------------------------------------------------------


def test_keys_are_validated_and_never_echoed() -> None:
    with pytest.raises(objstore.ConfigError, match="at least 16 characters") as caught:
        objstore.open(memory(base_url="http://f.test", signing_key="short-secret"))
    assert "short-secret" not in str(caught.value)
    with pytest.raises(objstore.ConfigError, match=r"'memory\.base_url'"):
        objstore.open(memory(base_url="ftp://f.test", signing_key=KEY))
    with pytest.raises(objstore.ConfigError, match=r"'memory\.cors_origins'"):
        objstore.open(memory(cors_origins=["https://app.test/path"]))
    with pytest.raises(objstore.ConfigError, match=r"'memory\.max_upload_size'"):
        objstore.open(memory(max_upload_size="lots"))


def test_secrets_stay_out_of_reprs() -> None:
    with signed() as store:
        shown = [repr(store), repr(store._backend), repr(settings(store))]
    assert all(KEY not in text for text in shown)
    config = objstore._config.load(memory(base_url="http://f.test", signing_key=[KEY, OLD_KEY]))
    assert KEY not in repr(config) and OLD_KEY not in repr(config)


def test_section_values_are_parsed() -> None:
    store = signed(max_upload_size="2MiB", cors_origins="https://A.test, http://b.test:3000/")
    assert settings(store).max_upload_size == 2 << 20
    assert settings(store).cors_origins == ("https://a.test", "http://b.test:3000")
    assert settings(store).base_url == "http://files.test:8080/objstore"


def test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBJSTORE_URL", "memory://")
    monkeypatch.setenv("OBJSTORE_MEMORY_BASE_URL", "http://env.test/files")
    monkeypatch.setenv("OBJSTORE_MEMORY_SIGNING_KEY", KEY)
    monkeypatch.setenv("OBJSTORE_MEMORY_CORS_ORIGINS", "http://a.test,http://b.test")
    with objstore.from_env() as store:
        assert store.presign("k").startswith("http://env.test/files/k?")
        assert settings(store).cors_origins == ("http://a.test", "http://b.test")


def test_s3_presigns_natively_so_its_section_has_no_signing_keys() -> None:
    with pytest.raises(objstore.ConfigError, match="unknown key 'signing_key' in 's3'"):
        objstore.open({"backend": "s3", "s3": {"bucket": "b", "signing_key": KEY}})


def test_urls_name_the_keys_the_user_sees_under_a_prefix() -> None:
    config = {"prefix": "tenant-a/", **memory(base_url="http://f.test", signing_key=KEY)}
    with objstore.open(config) as store:
        assert urlsplit(store.presign("k")).path == "/k"


def test_a_read_only_store_signs_reads_only() -> None:
    config = {"read_only": True, **memory(base_url="http://f.test", signing_key=KEY)}
    with objstore.open(config) as store:
        assert store.presign("k")
        with pytest.raises(objstore.PermissionDeniedError):
            store.presign("k", method="PUT")


def test_presign_never_passes_through_the_circuit_breaker() -> None:
    config = {"circuit_breaker": {"enabled": True, "fail_max": 1},
              **memory(base_url="http://f.test", signing_key=KEY)}  # fmt: skip
    with objstore.open(config) as store:
        layers = []
        backend: object = store._backend
        while backend is not None:
            layers.append(type(backend).__name__)
            backend = getattr(backend, "inner", None)
    assert layers == ["SignedUrlLayer", "CircuitBreakerLayer", "MemoryBackend"]


def test_the_layer_can_wrap_a_backend_by_hand() -> None:
    layer = SignedUrlLayer(MemoryBackend(), base_url="http://f.test/x", signing_key=KEY)
    with objstore.Store(layer) as store:
        assert store.presign("k").startswith("http://f.test/x/k?")
    with pytest.raises(ValueError, match="at least 16"):
        SignedUrlLayer(MemoryBackend(), base_url="http://f.test", signing_key="short")


# -- plugins ----------------------------------------------------------------------------------


class PluginBackend(MemoryBackend):
    name = "signed-plugin-test"


def test_a_plugin_gets_signed_urls_through_the_store() -> None:
    spec = BackendSpec(
        name=PluginBackend.name,
        options={"label": Option(as_str, "x", doc="anything")},
        factory=lambda section, shared: PluginBackend(),
    )
    register_backend(spec)
    config = {"backend": spec.name, spec.name: {"base_url": "http://p.test", "signing_key": KEY}}
    with objstore.open(config) as store:
        assert store.capabilities.presign
        assert store.presign("k").startswith("http://p.test/k?")
    with (
        objstore.open({"backend": spec.name}) as store,
        pytest.raises(objstore.UnsupportedOperationError, match=r"signed-plugin-test\.base_url"),
    ):
        store.presign("k")


def test_a_plugin_cannot_take_the_signed_url_keys() -> None:
    spec = BackendSpec(
        name="clashing-plugin-test",
        options={"base_url": Option(as_str, "x")},
        factory=lambda section, shared: MemoryBackend(),
    )
    with pytest.raises(objstore.ConfigError, match="declares base_url"):
        register_backend(spec)
    register_backend(dataclasses.replace(spec, native_presign=True))  # presigns by itself: fine
