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
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sqlite_backend.py"


def build_wheel(directory: Path, dist: str, module: str, names: Mapping[str, str]) -> Path:
    """Write ``<dist>-1.0-py3-none-any.whl`` exposing ``names`` as objstore backends."""
    info = f"{dist}-1.0.dist-info"
    entry_points = "[objstore.backends]\n" + "".join(
        f"{name} = {target}\n" for name, target in names.items()
    )
    files = {
        f"{module}/__init__.py": EXAMPLE.read_text(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{info}/entry_points.txt": entry_points,
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    wheel = directory / f"{dist}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr(f"{info}/RECORD", record)
    return wheel


def pip_install(wheel: Path, target: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )


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
        build_wheel(root, "objstore_sqlite", "objstore_sqlite", {"sqlite": "objstore_sqlite:SPEC"}),
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
        build_wheel(tmp_path, "first_plugin", "first_plugin", {"sqlite": "first_plugin:SPEC"}),
        target,
    )
    pip_install(
        build_wheel(
            tmp_path,
            "second_plugin",
            "second_plugin",
            {"sqlite": "second_plugin:SPEC", "file": "second_plugin:SPEC"},
        ),
        target,
    )
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
