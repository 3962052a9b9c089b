"""docs/configuration.md documents every key of every built-in section."""

from __future__ import annotations

from pathlib import Path

import pytest

from objstore import _config
from objstore._registry import REGISTRY

DOC = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()

KEYS = [
    *[
        (f"{section}.{key}", f"OBJSTORE_{section}_{key}".upper())
        for section, schema in _config.SHARED_SECTIONS.items()
        for key in schema
    ],
    *[(key, f"OBJSTORE_{key}".upper()) for key in _config.SHARED_SCALARS],
    *[
        (f"{name}.{key}", f"OBJSTORE_{name}_{key}".upper())
        for name in ("file", "memory", "s3")
        for key in REGISTRY.get(name).options
    ],
]


@pytest.mark.parametrize(("key", "variable"), KEYS, ids=[k for k, _ in KEYS])
def test_every_key_is_documented_with_its_variable(key: str, variable: str) -> None:
    row = next((line for line in DOC.splitlines() if line.startswith(f"| `{key}` |")), None)
    assert row is not None, f"{key} is missing from docs/configuration.md"
    assert f"`{variable}`" in row
