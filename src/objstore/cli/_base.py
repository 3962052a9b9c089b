"""What every command shares: its description (:class:`Command`) and what it runs with
(:class:`Context`: the parsed arguments, the store, output, progress bars)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from .._config import Config
from . import _progress, _targets

if TYPE_CHECKING:
    from .._store import Store
    from ._progress import Bar


class UsageError(Exception):
    """The command line is wrong in a way argparse cannot see (exit status 2)."""


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    return None


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, one line of help, an example, its arguments, its body.

    Attributes:
        name: What the user types (``objstore NAME``).
        summary: One line for ``objstore --help``.
        example: Shown at the end of ``objstore NAME --help``.
        run: The body; returns the exit status.
        arguments: Adds the command's own arguments to its parser.
    """

    name: str
    summary: str
    example: str
    run: Callable[[Context], int]
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments


class Context:
    """What a command runs with; the store is opened on first use and closed after."""

    def __init__(self, args: argparse.Namespace, out: TextIO | None = None):
        self.args = args
        self.out = out if out is not None else sys.stdout
        self._store: Store | None = None

    def store(self) -> Store:
        """The store named by ``--config``/``--url``, else ``from_env()``.

        Raises:
            ConfigError: the configuration is invalid.
        """
        if self._store is None:
            self._store = _targets.sync_store(self.config())
        return self._store

    def config(self) -> Config:
        """The global store's validated configuration."""
        return _targets.global_config(self.args.config, self.args.url)

    def describe(self) -> str:
        """The global store as a message may show it (no secret)."""
        return _targets.describe_global(self.args.config, self.args.url)

    def print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def progress(self, label: str, total: int | None) -> contextlib.AbstractContextManager[Bar]:
        """A progress bar on a terminal (standard error); one that draws nothing elsewhere."""
        return _progress.bar(label, total)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
