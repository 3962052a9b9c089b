"""The README's usage example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_usage_example_runs(tmp_path: Path) -> None:
    example = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert example is not None
    result = subprocess.run([sys.executable, "-c", example.group(1)], cwd=tmp_path,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("image/jpeg ")
    assert (tmp_path / "cat-copy.jpg").read_bytes() == b"...jpeg bytes..."
    assert (tmp_path / "data" / "backup" / "cat.jpg").read_bytes() == b"v2"


def test_quick_start_commands_are_the_ones_ci_runs() -> None:
    text = README.read_text()
    assert ".venv/bin/objstore demo" in text
    assert '.venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest' in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert '-m pip install --quiet -e ".[test]"' in ci
    assert '"$work/venv/bin/python" -m pytest\n' in ci
