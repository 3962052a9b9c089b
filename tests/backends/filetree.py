"""Reading a file store's tree from the outside, as ``ls -R`` would: what is debris."""

from __future__ import annotations

import os
from pathlib import Path

from objstore.backends import _localfs

# The on-disk names docs/file-backend.md documents.
STAGING = "\x01objstore-staging"
SIDECARS = "\x01objstore-meta"
JOURNAL = "\x01journal"
TEMP_PREFIX = "\x01objstore-tmp-"


def visible_entries(path: Path) -> list[str]:
    """Every name under ``path``, internal directories left out when empty (or holding
    only an empty journal): what a user of the tree sees besides objstore's bookkeeping."""
    out = []
    for p in path.rglob("*"):
        relative = str(p.relative_to(path))
        top = relative.split("/", maxsplit=1)[0]
        if top in (STAGING, SIDECARS):
            continue
        out.append(relative)
    return sorted(out)


def leftovers(root: Path) -> list[str]:
    """What is on disk beyond the store's objects and the records of their versions.

    Debris is: anything in the staging directory, a temp file anywhere, an empty
    directory, a non-empty journal, and a sidecar record of no current version.
    It reads the tree without opening a store (which would sweep it).
    """
    etags = {_localfs.etag_of(p.lstat()) for p in root.rglob("*") if _is_object(root, p)}
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        relative = here.relative_to(root)
        top = relative.parts[0] if relative.parts else ""
        if top == STAGING:
            found += [str(relative / name) for name in dirnames + filenames]
            continue
        if top == SIDECARS:
            found += [str(relative / n) for n in filenames if _stale_record(here / n, n, etags)]
            continue
        if not dirnames and not filenames and relative.parts:
            found.append(str(relative) + "/")
        found += [str(relative / n) for n in filenames if n.startswith(TEMP_PREFIX)]
    return sorted(found)


def _is_object(root: Path, path: Path) -> bool:
    parts = path.relative_to(root).parts
    return path.is_file() and not path.is_symlink() and not parts[0].startswith("\x01")


def _stale_record(path: Path, name: str, etags: set[str]) -> bool:
    if name == JOURNAL:
        return path.stat().st_size != 0
    return name not in etags
