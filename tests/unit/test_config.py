"""Configuration: URLs, mappings, files, interpolation, environment, validation, secrets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import objstore
from objstore import _config

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def config_of(store: objstore.Store) -> str:
    return repr(store)


# -- URLs -----------------------------------------------------------------------------------


def test_s3_url_carries_bucket_prefix_and_options() -> None:
    config = _config.load(
        "s3://my-bucket/models/v2?endpoint_url=http://127.0.0.1:9000"
        "&region=us-east-1&part_size=16MiB&max_concurrency=4&verify=false"
    )
    assert config.backend == "s3"
    section = config.section
    assert (section["bucket"], section["prefix"]) == ("my-bucket", "models/v2/")
    assert section["endpoint_url"] == "http://127.0.0.1:9000"
    assert (section["part_size"], section["max_concurrency"], section["verify"]) == (
        16 << 20,
        4,
        False,
    )


def test_url_query_keys_are_validated_like_any_key() -> None:
    with pytest.raises(objstore.ConfigError, match="did you mean 'region'"):
        objstore.open("s3://bucket?regin=eu-west-1")
    with pytest.raises(objstore.ConfigError, match=r"'file\.fsync': expected true or false"):
        objstore.open("file:///tmp/x?fsync=maybe")


def test_file_url_options(tmp_path: Path) -> None:
    config = _config.load(f"file://{tmp_path}?fsync=yes&metadata_storage=sidecar")
    assert config.section["fsync"] is True
    assert config.section["metadata_storage"] == "sidecar"


def test_memory_url_takes_no_location() -> None:
    with pytest.raises(objstore.ConfigError, match="takes no location"):
        objstore.open("memory://somewhere")


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"backend": "file", "file": {"rot": "/x"}},
            "unknown key 'rot' in 'file'; did you mean 'root'?; valid keys: base_url, "
            "cors_origins, fsync, max_upload_size, metadata_storage, root, signing_key",
        ),
        (
            {"backend": "file", "fille": {}},
            "unknown key 'fille' at the top level; did you mean 'file'",
        ),
        (
            {"backend": "file", "file": {"root": "/x"}, "retries": {"max_attempts": 0}},
            "'retries.max_attempts': expected an integer of at least 1, got 0",
        ),
        (
            {"backend": "file", "file": {"root": "/x"}, "timeouts": {"read": "soon"}},
            "'timeouts.read': expected a duration",
        ),
        (
            {"backend": "file", "file": {"root": "/x"}, "read_only": "perhaps"},
            "'read_only': expected true or false, got 'perhaps'",
        ),
        (
            {"backend": "file", "file": {"root": "/x"}, "max_workers": 2.5},
            "'max_workers': expected an integer",
        ),
        ({"backend": "file", "file": ["root"]}, "'file' must be a mapping"),
        (
            {"backend": "s3", "s3": {"bucket": "b", "part_size": "eight"}},
            "'s3.part_size': expected a size",
        ),
        ({"backend": "s3", "s3": {}}, "'s3.bucket' is required"),
        (
            {"backend": "s3", "s3": {"bucket": "b", "provider": "azure"}},
            "'s3.provider': expected one of aws, minio, r2, b2, ceph, rclone, other",
        ),
        ({"backend": "bogus"}, "unknown backend 'bogus'; available: file, memory, s3"),
        ({"file": {"root": "/x"}}, "needs 'backend'"),
    ],
)
def test_invalid_configs_name_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(objstore.ConfigError) as caught:
        objstore.open(raw)
    assert message in str(caught.value)


def test_only_the_chosen_section_is_interpolated_and_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One file for several environments: the s3 section's variables need not be set
    to use the file section, and a section not used is not validated (SPEC §7)."""
    monkeypatch.delenv("S3_SECRET_KEY", raising=False)
    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "data"))
    config = {
        "backend": "file",
        "file": {"root": "${DATA_ROOT}"},
        "s3": {"bucket": "b", "access_key_id": "a", "secret_access_key": "${S3_SECRET_KEY}"},
        "memory": {"no_such_key": 1},
    }
    with objstore.open(config) as store:
        store.put("k", b"v")
    assert (tmp_path / "data" / "k").read_bytes() == b"v"
    with pytest.raises(objstore.ConfigError, match="S3_SECRET_KEY is not set"):
        objstore.open({**config, "backend": "s3"})
    with pytest.raises(objstore.ConfigError, match="unknown key 'no_such_key' in 'memory'"):
        objstore.open({**config, "backend": "memory"})


def test_unknown_top_level_keys_are_still_refused() -> None:
    with pytest.raises(objstore.ConfigError, match="unknown key 's4' at the top level"):
        objstore.open({"backend": "memory", "s4": {}})


def test_from_config_reads_a_section_of_an_app_file(tmp_path: Path) -> None:
    (tmp_path / "app.json").write_text(
        json.dumps(
            {
                "app": {"name": "registry", "debug": True},
                "storage": {"backend": "file", "file": {"root": str(tmp_path / "d")}},
                "deep": {"er": {"backend": "memory"}},
            }
        )
    )
    with objstore.from_config(tmp_path / "app.json", section="storage") as store:
        store.put("m", b"1")
    assert (tmp_path / "d" / "m").read_bytes() == b"1"
    with objstore.from_config(tmp_path / "app.json", section="deep.er") as store:
        assert "Memory" in repr(store)
    with pytest.raises(objstore.ConfigError, match=r"no section 'storag'.*keys there: app, deep"):
        objstore.from_config(tmp_path / "app.json", section="storag")
    with pytest.raises(objstore.ConfigError, match="must be a mapping"):
        objstore.from_config(tmp_path / "app.json", section="app.name")
    with pytest.raises(objstore.ConfigError, match="dotted name"):
        objstore.from_config(tmp_path / "app.json", section="a..b")


def test_top_level_prefix_confines_any_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = {"backend": "file", "file": {"root": str(tmp_path)}, "prefix": "tenant-a/"}
    with objstore.open(raw) as store:
        store.put("photos/cat.jpg", b"meow")
        assert [item.key for item in store.list()] == ["photos/cat.jpg"]
        assert store.stat("photos/cat.jpg").key == "photos/cat.jpg"
    assert (tmp_path / "tenant-a" / "photos" / "cat.jpg").read_bytes() == b"meow"
    monkeypatch.setenv("OBJSTORE_URL", "memory://")
    monkeypatch.setenv("OBJSTORE_PREFIX", "t/")
    assert _config.load_env().shared.prefix == "t/"
    with pytest.raises(objstore.ConfigError, match="not a valid key prefix"):
        objstore.open({"backend": "memory", "prefix": "../"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (123, 123),
        ("123", 123),
        ("16MiB", 16 << 20),
        ("8MB", 8_000_000),
        ("512k", 512_000),
        ("1.5GiB", 3 << 29),
        ("2 KiB", 2048),
        ("10b", 10),
    ],
)
def test_sizes(value: object, expected: int) -> None:
    config = _config.load({"backend": "s3", "s3": {"bucket": "b", "part_size": value}})
    assert config.section["part_size"] == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5.0), ("2.5", 2.5), ("500ms", 0.5), ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0)],
)
def test_durations(value: object, expected: float) -> None:
    raw = {"backend": "memory", "timeouts": {"connect": value}}
    assert _config.load(raw).shared.connect_timeout == expected


@pytest.mark.parametrize("text", ["true", "Yes", "on", "1", "false", "NO", "off", "0"])
def test_booleans_from_strings(text: str) -> None:
    raw = {"backend": "memory", "read_only": text}
    assert _config.load(raw).shared.read_only is (text.lower() in ("true", "yes", "on", "1"))


def test_defaults_are_filled_in(tmp_path: Path) -> None:
    config = _config.load({"backend": "file", "file": {"root": str(tmp_path)}})
    assert config.section["metadata_storage"] == "auto" and config.section["fsync"] is False
    shared = config.shared
    assert (shared.max_attempts, shared.connect_timeout, shared.read_timeout) == (5, 5.0, 60.0)
    assert (shared.fail_max, shared.reset_timeout, shared.max_workers) == (5, 60.0, 16)
    assert shared.read_only is False


# -- interpolation --------------------------------------------------------------------------


def test_interpolation_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MISSING_ONE", raising=False)
    raw = {
        "backend": "file",
        "file": {"root": "${DATA_DIR}/store", "metadata_storage": "${MISSING_ONE:-sidecar}"},
    }
    config = _config.load(raw)
    assert config.section["root"] == f"{tmp_path}/store"
    assert config.section["metadata_storage"] == "sidecar"


def test_dollar_dollar_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X", "value")
    assert _config.interpolate({"a": ["$${X}", "$$", "a$b", "${X}-$${X}"]}) == {
        "a": ["${X}", "$", "a$b", "value-${X}"]
    }


def test_unset_variable_without_default_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OBJSTORE_TEST_UNSET", raising=False)
    with pytest.raises(objstore.ConfigError, match="OBJSTORE_TEST_UNSET is not set"):
        objstore.open({"backend": "file", "file": {"root": "${OBJSTORE_TEST_UNSET}"}})


def test_empty_default_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    assert _config.interpolate("x${NOPE:-}y") == "xy"


# -- files ----------------------------------------------------------------------------------


def test_from_config_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBJSTORE_TEST_KEY", SECRET)
    path = tmp_path / "objstore.yaml"
    path.write_text(f"""
backend: file
file:
  root: {tmp_path}/data
  signing_key: ${{OBJSTORE_TEST_KEY}}
  fsync: yes
circuit_breaker: {{fail_max: 3, reset_timeout: 30s}}
max_workers: 4
""")
    with objstore.from_config(path) as store:
        store.put("k", b"v")
        assert SECRET not in repr(store)
    assert (tmp_path / "data" / "k").read_bytes() == b"v"
    config = _config.resolve(_config.read_file(path))
    assert config.section["signing_key"] == (SECRET,)
    assert SECRET not in repr(config)
    assert (config.shared.fail_max, config.shared.reset_timeout) == (3, 30.0)


def test_from_config_json_and_mapping(tmp_path: Path) -> None:
    path = tmp_path / "objstore.json"
    path.write_text(json.dumps({"backend": "file", "file": {"root": str(tmp_path / "j")}}))
    with objstore.from_config(path) as store:
        store.put("k", b"json")
    with objstore.from_config({"backend": "file", "file": {"root": str(tmp_path / "j")}}) as s:
        assert s.get("k") == b"json"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.yaml", "backend: [unclosed", "not valid YAML"),
        ("bad.json", "{", "not valid JSON"),
        ("list.yaml", "- a\n- b\n", "mapping at the top level"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(objstore.ConfigError, match=message):
        objstore.from_config(tmp_path / name)


def test_missing_file() -> None:
    with pytest.raises(objstore.ConfigError, match="cannot read configuration file"):
        objstore.from_config("/nonexistent/objstore.yaml")


def test_missing_pyyaml_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "c.yaml").write_text("backend: memory\n")
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(objstore.ConfigError, match=r"objstore\[yaml\]"):
        objstore.from_config(tmp_path / "c.yaml")


# -- secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"s3://b?access_key_id=a&secret_access_key={SECRET}&secret_access_key={SECRET}",
        f"s3:/b?access_key_id=a&secret_access_key={SECRET}",
        f"s3//b?secret_access_key={SECRET}",
        f"s3://a:{SECRET}@b?region=x&region=y",
    ],
)
def test_secrets_in_urls_never_appear_in_errors(url: str) -> None:
    with pytest.raises(objstore.ConfigError) as caught:
        objstore.open(url)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    assert caught.value.__cause__ is None or SECRET not in str(caught.value.__cause__)


def test_yaml_syntax_errors_say_where_without_quoting(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(f"backend: s3\ns3:\n  secret_access_key: {SECRET}: [\n")
    with pytest.raises(objstore.ConfigError, match="not valid YAML at line 3") as caught:
        objstore.from_config(tmp_path / "c.yaml")
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_secrets_never_appear_in_errors() -> None:
    cases = [
        {"backend": "s3", "s3": {"bucket": "b", "secret_access_key": [SECRET]}},
        {"backend": "s3", "s3": {"bucket": "b", "session_token": {"x": SECRET}}},
        {"backend": "memory", "memory": {"signing_key": [SECRET, {"x": SECRET}]}},
        {"backend": "s3", "s3": {"bucket": "b", "secret_acces_key": SECRET}},  # a typo
    ]
    for raw in cases:
        with pytest.raises(objstore.ConfigError) as caught:
            _config.load(raw)
        assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


def test_secrets_are_hidden_in_repr() -> None:
    config = _config.load(
        {
            "backend": "s3",
            "s3": {
                "bucket": "b",
                "access_key_id": "AKIAEXAMPLE",
                "secret_access_key": SECRET,
                "session_token": SECRET,
            },
        }
    )
    assert SECRET not in repr(config)
    assert "AKIAEXAMPLE" in repr(config)  # not a secret: it identifies the key


# -- the environment ------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(__import__("os").environ):
        if name.startswith("OBJSTORE_") or name.startswith("MYAPP_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_from_env_with_nothing_set_is_a_local_store(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.chdir(tmp_path)
    with objstore.from_env() as store:
        store.put("k", b"default")
    assert (tmp_path / "objstore-data" / "k").read_bytes() == b"default"


def test_from_env_url_and_overrides(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("OBJSTORE_URL", f"file://{tmp_path}/from-url")
    with objstore.from_env() as store:
        store.put("k", b"url")
    assert (tmp_path / "from-url" / "k").exists()
    clean_env.setenv("OBJSTORE_FILE_ROOT", str(tmp_path / "overridden"))
    clean_env.setenv("OBJSTORE_READ_ONLY", "false")
    clean_env.setenv("OBJSTORE_CIRCUIT_BREAKER_FAIL_MAX", "2")
    config = _config.resolve(_config.env_config("OBJSTORE_"))
    assert config.section["root"] == str(tmp_path / "overridden")
    assert config.shared.fail_max == 2


def test_from_env_precedence(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        f"backend: file\nfile: {{root: {tmp_path}/from-file, fsync: true}}\nmax_workers: 3\n"
    )
    clean_env.setenv("OBJSTORE_CONFIG", str(path))
    config = _config.resolve(_config.env_config("OBJSTORE_"))
    assert (config.section["root"], config.section["fsync"]) == (f"{tmp_path}/from-file", True)
    clean_env.setenv("OBJSTORE_URL", f"file://{tmp_path}/from-url")
    config = _config.resolve(_config.env_config("OBJSTORE_"))
    assert config.section["root"] == f"{tmp_path}/from-url"  # the URL beats the file
    assert config.section["fsync"] is True and config.shared.max_workers == 3  # the rest stays
    clean_env.setenv("OBJSTORE_FILE_ROOT", f"{tmp_path}/from-key")
    clean_env.setenv("OBJSTORE_BACKEND", "memory")
    config = _config.resolve(_config.env_config("OBJSTORE_"))
    assert config.backend == "memory"  # single keys beat both


def test_from_env_other_prefix_and_interpolation_variables(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("MYAPP_BACKEND", "memory")
    clean_env.setenv("MYAPP_SIGNING_KEY", SECRET)  # not a section: left for ${...} use
    with objstore.from_env(prefix="MYAPP_") as store:
        assert "MemoryBackend" in repr(store)


def test_from_env_unknown_key_names_the_variable(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OBJSTORE_S3_BUKET", "x")
    with pytest.raises(
        objstore.ConfigError,
        match="OBJSTORE_S3_BUKET: unknown key 'buket' in 's3'; did you mean 'bucket'",
    ):
        objstore.from_env()


# -- layers from configuration --------------------------------------------------------------


def test_read_only(tmp_path: Path) -> None:
    with objstore.open({"backend": "file", "file": {"root": str(tmp_path)}}) as store:
        store.put("k", b"v")
    with objstore.open(
        {"backend": "file", "file": {"root": str(tmp_path)}, "read_only": True}
    ) as store:
        assert store.get("k") == b"v"
        for write in (
            lambda: store.put("k", b"x"),
            lambda: store.delete("k"),
            lambda: store.delete_many(["k"]),
            lambda: store.copy("k", "j"),
        ):
            with pytest.raises(objstore.PermissionDeniedError, match="read-only"):
                write()
        assert store.get("k") == b"v"


def test_circuit_breaker_is_off_for_local_backends_unless_enabled() -> None:
    assert "CircuitBreakerLayer" not in repr(objstore.open("memory://"))
    store = objstore.open({"backend": "memory", "circuit_breaker": {"enabled": True}})
    assert "CircuitBreakerLayer" in repr(store)


def test_circuit_breaker_is_on_for_s3_unless_disabled() -> None:
    s3 = {"bucket": "b", "access_key_id": "a", "secret_access_key": "s"}
    assert "CircuitBreakerLayer" in repr(_config.build(_config.load({"backend": "s3", "s3": s3})))
    off = {"backend": "s3", "s3": s3, "circuit_breaker": {"enabled": False}}
    assert "CircuitBreakerLayer" not in repr(_config.build(_config.load(off)))


@pytest.mark.parametrize(("workers", "expected"), [(4, 16), (64, 64)])
def test_s3_connection_pool_covers_the_async_workers(workers: int, expected: int) -> None:
    """Every worker of an AsyncStore may hold a connection: the pool is at least
    ``max_workers`` (else ``2 x max_concurrency``, 16 by default)."""
    backend = _config.build(
        _config.load(
            {
                "backend": "s3",
                "s3": {"bucket": "b", "region": "us-east-1", "access_key_id": "k",
                       "secret_access_key": "s"},
                "max_workers": workers,
            }
        )
    )
    while hasattr(backend, "inner"):
        backend = backend.inner
    assert backend.options.max_connections == expected  # type: ignore[attr-defined]
