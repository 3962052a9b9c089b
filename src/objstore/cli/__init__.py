"""The ``objstore`` command line (also ``python -m objstore``).

``objstore [--config FILE | --url URL] COMMAND ...``; docs/cli.md documents each
command. A command is one :class:`~objstore.cli._base.Command` (name, help,
example, arguments, body) listed in :data:`COMMANDS`: adding one is writing it
and adding it there.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import _app
from ._base import Command
from ._check import CHECK
from ._commands import CAT, CP, GET, LS, PRESIGN, PUT, RM, STAT
from ._demo import DEMO
from ._serve import SERVE
from ._sync import SYNC

__all__ = ["COMMANDS", "main"]

#: Every command, in the order ``objstore --help`` lists them.
COMMANDS: tuple[Command, ...] = (
    LS, STAT, CAT, GET, PUT, RM, CP, SYNC, PRESIGN, SERVE, CHECK, DEMO,
)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    0 on success; 1 on an error (one line on standard error); 2 on a usage
    error; 130 when interrupted (Ctrl-C), 143 when terminated (SIGTERM).
    """
    return _app.run(COMMANDS, argv)
