"""A real third-party plugin: a wheel with an entry point, pip-installed, found by name.

The wheel is assembled by hand (a wheel is a zip with metadata), installed with
pip into a target directory, and used from subprocesses whose ``PYTHONPATH``
points there — as an application would after ``pip install objstore-sqlite``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest
from wheels import build_wheel, pip_install

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sqlite_backend.py"


def sqlite_wheel(directory: Path, dist: str, backends: Mapping[str, str]) -> Path:
    """A wheel whose module ``dist`` is the worked example backend on SQLite."""
    return build_wheel(directory, dist, {f"{dist}/__init__.py": EXAMPLE.read_text()}, backends)


def run(code: str, target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run(
        [sys.executable, *args, "-c", textwrap.dedent(code)]
        if not args
        else [sys.executable, *args],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugin")
    target = root / "site"
    pip_install(
        sqlite_wheel(root, "objstore_sqlite", {"sqlite": "objstore_sqlite:SPEC"}),
        target,
    )
    return target


def test_plugin_is_selected_by_name_and_by_url_scheme(plugin: Path, tmp_path: Path) -> None:
    result = run(
        f"""
        import objstore
        db = {str(tmp_path / "objects.db")!r}
        with objstore.open({{"backend": "sqlite", "sqlite": {{"path": db}}}}) as store:
            store.put("hello.txt", b"from a plugin", metadata={{"via": "mapping"}})
        with objstore.open("sqlite://" + db) as store:
            assert store.get("hello.txt") == b"from a plugin"
            assert store.stat("hello.txt").content_type == "text/plain"
        with objstore.from_config({{"backend": "sqlite", "sqlite": {{"path": db}}}}) as store:
            assert [i.key for i in store.list()] == ["hello.txt"]
        signed = {{"path": db, "base_url": "http://h.test/s", "signing_key": "k" * 16}}
        with objstore.open({{"backend": "sqlite", "sqlite": signed}}) as store:
            assert store.presign("hello.txt").startswith("http://h.test/s/hello.txt?")
        try:
            objstore.open({{"backend": "sqlite", "sqlite": {{"pth": db}}}})
        except objstore.ConfigError as exc:
            print(exc)
        """,
        plugin,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "unknown key 'pth' in 'sqlite'; did you mean 'path'?; valid keys: base_url, "
        "cors_origins, max_upload_size, path, signing_key"
    ) in result.stdout


def test_plugin_passes_the_conformance_kit(plugin: Path, tmp_path: Path) -> None:
    (tmp_path / "test_sqlite_plugin.py").write_text(
        textwrap.dedent("""
        import pytest
        import objstore
        from objstore.testing import ConformanceSuite

        class TestSQLitePlugin(ConformanceSuite):
            @pytest.fixture
            def store(self, tmp_path):
                with objstore.open(f"sqlite://{tmp_path}/objects.db") as store:
                    yield store
        """)
    )
    result = run(
        "",
        plugin,
        tmp_path,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "test_sqlite_plugin.py",
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout


def test_unknown_backend_lists_the_plugin(plugin: Path, tmp_path: Path) -> None:
    result = run(
        """
        import objstore
        try:
            objstore.open("nosuch://x")
        except objstore.ConfigError as exc:
            print(exc)
        """,
        plugin,
        tmp_path,
    )
    assert "available: file, memory, s3, sqlite" in result.stdout, result.stderr


def test_a_name_registered_twice_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "site"
    pip_install(
        sqlite_wheel(tmp_path, "first_plugin", {"sqlite": "first_plugin:SPEC"}),
        target,
    )
    both = {"sqlite": "second_plugin:SPEC", "file": "second_plugin:SPEC"}
    pip_install(sqlite_wheel(tmp_path, "second_plugin", both), target)
    result = run(
        """
        import objstore
        for url in ("sqlite:///tmp/x.db", "file:///tmp/x"):
            try:
                objstore.open(url)
            except objstore.ConfigError as exc:
                print(exc)
        """,
        target,
        tmp_path,
    )
    assert "backend 'sqlite' is registered twice, by first_plugin, second_plugin" in result.stdout
    assert "backend 'file' is registered twice: by objstore and by second_plugin" in result.stdout
