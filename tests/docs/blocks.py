"""The fenced code blocks of the documentation, with what each declares around it.

The convention (docs/decisions.md, "Documentation"):

- every fenced block names its language; ``text`` is for output, messages and
  diagrams, never for code;
- a ``python`` block runs, in a fresh interpreter whose working directory is an empty
  temporary directory (top-level ``await`` is allowed: the block then runs in an event
  loop, as in ``python -m asyncio``); the repository's root is on its path, so it
  imports the cookbook as ``examples.*``, as it would run from a checkout;
- a ``yaml`` or ``json`` block with a top-level ``backend`` key is a configuration: it
  is validated as ``objstore.from_config`` validates it (every ``${NAME}`` it uses set
  to a placeholder), without building the store;
- ``<!-- setup: CODE -->`` just before a block runs CODE first, in the same namespace,
  and ``<!-- check: CODE -->`` just after it runs CODE afterwards (assertions a reader
  need not see);
- ``<!-- not run: REASON -->`` just before a block marks it as not runnable, for the
  stated reason; any other block (``sh``, ``toml``, …) must carry it.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
COMMENT = re.compile(r"<!--\s*(?P<kind>setup|check|not run)\s*:(?P<body>.*?)-->", re.S)


@dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    page: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    setup: str = ""
    check: str = ""
    not_run: str | None = None  # the reason, when the block is marked

    @property
    def name(self) -> str:
        return f"{self.page.name}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order."""
    lines = page.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = _closing(lines, index, opening)
        body = textwrap.dedent("\n".join(lines[index + 1 : end]))
        before = _comment("\n".join(lines[:index]), at_end=True)
        after = _comment("\n".join(lines[end + 1 :]), at_end=False)
        found.append(
            Block(
                page=page,
                line=index + 1,
                language=(opening["info"].split() or [""])[0],
                code=body + "\n",
                setup=_code(before, "setup"),
                check=_code(after, "check"),
                not_run=before[1].strip() if before and before[0] == "not run" else None,
            )
        )
        index = end + 1
    return found


def _closing(lines: list[str], start: int, opening: re.Match[str]) -> int:
    fence = opening["fence"]
    for index in range(start + 1, len(lines)):
        stripped = lines[index].strip()
        if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
            return index
    raise ValueError(f"unclosed code block at line {start + 1}")


def _comment(text: str, *, at_end: bool) -> tuple[str, str] | None:
    """The comment directly before (``at_end``) or after a block, blank lines aside."""
    text = text.rstrip() if at_end else text.lstrip()
    matches = list(COMMENT.finditer(text))
    for match in matches:
        adjacent = match.end() == len(text) if at_end else match.start() == 0
        if adjacent:
            return match["kind"], match["body"]
    return None


def _code(comment: tuple[str, str] | None, kind: str) -> str:
    if comment is None or comment[0] != kind:
        return ""
    return textwrap.dedent(comment[1].strip("\n")) + "\n"
