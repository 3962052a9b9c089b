"""Every code block of the documentation runs, or says why it cannot (tests/docs/blocks.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from blocks import Block, blocks

from objstore import _config

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCKS = [block for page in PAGES for block in blocks(page)]
RUNNER = Path(__file__).with_name("run_block.py")
HOW = (
    "make it runnable (with <!-- setup: ... --> before it if it needs one) or mark it "
    "<!-- not run: REASON --> (see tests/docs/blocks.py)"
)


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBJSTORE_")}
    return {**env, **extra}


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_block(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.not_run is not None:
        assert block.not_run, f"{block.name}: say why the block is not run"
        assert not (block.setup or block.check), f"{block.name}: a block not run has no setup"
        return
    assert block.language, f"{block.name}: name the block's language (text for output)"
    if block.language == "text":
        return
    if block.language == "python":
        run_python(block, tmp_path)
    elif block.language in {"yaml", "json"} and re.search(r"^\{?\s*\"?backend\b", block.code):
        open_configuration(block, tmp_path, monkeypatch)
    else:
        pytest.fail(f"{block.name}: a {block.language} block that nothing runs: {HOW}")


def run_python(block: Block, tmp_path: Path) -> None:
    script = tmp_path / "block.py"
    script.write_text("\n".join(part for part in (block.setup, block.code, block.check) if part))
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [sys.executable, str(RUNNER), str(script)],
        cwd=work,
        env=environment(PYTHONPATH=str(ROOT)),  # the cookbook's examples import as examples.*
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{block.name} failed ({HOW}):\n{result.stderr}"


def open_configuration(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validate the configuration as ``from_config`` does, without building the store (so a
    placeholder root such as /srv/objects is not created)."""
    config = tmp_path / f"objstore.{block.language}"
    config.write_text(block.code)
    for name in set(re.findall(r"\$\{(\w+)", block.code)):
        monkeypatch.setenv(name, f"placeholder-{name.lower()}-0123456789")
    monkeypatch.chdir(tmp_path)
    assert _config.load_config(config).backend


def test_the_convention_finds_blocks() -> None:
    kinds = {block.language for block in BLOCKS}
    assert {"python", "text"} <= kinds
    assert any(block.setup for block in BLOCKS) and any(block.check for block in BLOCKS)
    assert any(block.not_run for block in BLOCKS)


def test_a_block_whose_check_fails_fails(tmp_path: Path) -> None:
    """The FastAPI block of docs/async.md without its error handler turned a bad key into a
    500; its check catches that."""
    page = ROOT / "docs" / "async.md"
    block = next(b for b in blocks(page) if "@app.put" in b.code)
    handler = re.search(
        r"@app.exception_handler\(objstore.InvalidKeyError\).*?\n\n", block.code, re.S
    )
    assert handler is not None and block.check
    unmapped = Block(**{**vars(block), "code": block.code.replace(handler.group(0), "")})
    with pytest.raises(AssertionError, match=r"async\.md"):
        run_python(unmapped, tmp_path)
