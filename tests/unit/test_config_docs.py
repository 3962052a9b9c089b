"""docs/configuration.md documents every key of every built-in section."""

from __future__ import annotations

from pathlib import Path

import pytest

from objstore import _builtin, _config

DOC = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()

KEYS = [
    *[
        (f"{section}.{key}", f"OBJSTORE_{section}_{key}".upper())
        for section, schema in _config.SHARED_SECTIONS.items()
        for key in schema
    ],
    *[(key, f"OBJSTORE_{key}".upper()) for key in _config.SHARED_SCALARS],
    *[
        (f"{spec.name}.{key}", f"OBJSTORE_{spec.name}_{key}".upper())
        for spec in (_builtin.FILE, _builtin.MEMORY, _builtin.S3)
        for key in spec.options
    ],
]


@pytest.mark.parametrize(("key", "variable"), KEYS, ids=[k for k, _ in KEYS])
def test_every_key_is_documented_with_its_variable(key: str, variable: str) -> None:
    row = next((line for line in DOC.splitlines() if line.startswith(f"| `{key}` |")), None)
    assert row is not None, f"{key} is missing from docs/configuration.md"
    assert f"`{variable}`" in row
