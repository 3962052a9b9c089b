"""The documentation site builds with ``mkdocs build --strict``: every page in the nav, no
broken link or anchor, and an API reference whose every name resolves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

for _module in ("mkdocs", "mkdocstrings", "material"):
    pytest.importorskip(_module, reason=f"{_module} is not installed: pip install -e '.[docs]'")

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "mkdocs.yml"


class ConfigLoader(yaml.SafeLoader):
    """Reads mkdocs.yml; its ``!relative`` tags are kept as plain strings."""


ConfigLoader.add_constructor("!relative", lambda loader, node: loader.construct_scalar(node))


def read_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.load(CONFIG.read_text(), Loader=ConfigLoader)
    return config


def build(config: Path, site: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` as a user runs it."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config)]
    return subprocess.run(
        [*command, "-d", str(site)], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    result = build(CONFIG, tmp_path / "site", cwd=tmp_path)  # from anywhere, not only the root
    assert result.returncode == 0, result.stderr
    reference = (tmp_path / "site" / "reference" / "objstore" / "index.html").read_text()
    for name in ("objstore.Store.put", "objstore.AsyncStore.get_stream", "objstore.from_config"):
        assert f'id="{name}"' in reference, name
    assert ":class:" not in reference  # docstrings' Sphinx roles are shown as code


def test_every_page_is_in_the_nav() -> None:
    def pages(nav: Any) -> list[str]:
        if isinstance(nav, str):
            return [nav]
        if isinstance(nav, list):
            return [page for item in nav for page in pages(item)]
        return [page for value in nav.values() for page in pages(value)]

    listed = set(pages(read_config()["nav"]))
    docs = ROOT / "docs"
    assert {str(path.relative_to(docs)) for path in docs.rglob("*.md")} == listed


def site_with(tmp_path: Path, page: str) -> Path:
    """The project's own configuration over one page of ``tmp_path``."""
    config = read_config()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text(page)
    config.update(docs_dir=str(tmp_path / "docs"), nav=["index.md"])
    handler = config["plugins"][1]["mkdocstrings"]["handlers"]["python"]
    handler["paths"] = [str(ROOT / "src")]
    extensions = handler["options"]["extensions"]
    handler["options"]["extensions"] = [str(ROOT / extension) for extension in extensions]
    snippets = next(e for e in config["markdown_extensions"] if "pymdownx.snippets" in str(e))
    snippets["pymdownx.snippets"]["base_path"] = [str(ROOT)]
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    return tmp_path / "mkdocs.yml"


def test_a_broken_link_anchor_or_cross_reference_fails_the_build(tmp_path: Path) -> None:
    page = (
        "# Page\n\n[gone](missing.md), [no anchor](#nowhere), "
        "[no such name][objstore.Store.no_such_method]\n"
    )
    result = build(site_with(tmp_path, page), tmp_path / "site")
    assert result.returncode != 0
    assert "missing.md" in result.stderr
    assert "#nowhere" in result.stderr
    assert "objstore.Store.no_such_method" in result.stderr


def test_a_missing_api_reference_fails_the_build(tmp_path: Path) -> None:
    result = build(site_with(tmp_path, "# API\n\n::: objstore.NoSuchName\n"), tmp_path / "site")
    assert result.returncode != 0
    assert "objstore.NoSuchName" in result.stderr
