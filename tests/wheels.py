"""Third-party plugins for the tests: a wheel assembled by hand (a wheel is a zip with
metadata), pip-installed into a target directory that a subprocess's ``PYTHONPATH``
then points at, as an application's would after ``pip install objstore-sqlite``."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path


def build_wheel(
    directory: Path, dist: str, sources: Mapping[str, str], backends: Mapping[str, str]
) -> Path:
    """Write ``<dist>-1.0-py3-none-any.whl`` holding ``sources`` (path: text) and
    registering ``backends`` (name: ``module:attribute``) as objstore backends."""
    info = f"{dist}-1.0.dist-info"
    files = {
        **sources,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{info}/entry_points.txt": "[objstore.backends]\n"
        + "".join(f"{name} = {target}\n" for name, target in backends.items()),
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    wheel = directory / f"{dist}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr(f"{info}/RECORD", record)
    return wheel


def pip_install(wheel: Path, target: Path) -> None:
    """Install ``wheel`` (no dependencies, no index) into the directory ``target``."""
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
