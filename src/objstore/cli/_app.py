"""The parser built from the registered commands, and how a command is run: exit
statuses, one-line errors, Ctrl-C and SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from types import FrameType

from .._version import __version__
from ..errors import ObjstoreError
from ._base import Command, Context, UsageError

INTERRUPTED = 130  # 128 + SIGINT, as shells report it
TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` and cleanup runs."""


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="objstore",
        description="One storage interface over local files and S3-compatible stores.",
        epilog="Without --config or --url, the store comes from the environment "
        "(OBJSTORE_CONFIG, OBJSTORE_URL, OBJSTORE_<SECTION>_<KEY>); with nothing set, "
        "a local store in ./objstore-data. Run 'objstore COMMAND --help' for examples.",
    )
    parser.add_argument("--version", action="version", version=f"objstore {__version__}")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--config", metavar="FILE", help="a YAML or JSON configuration file")
    where.add_argument("--url", metavar="URL", help="a store URL, such as s3://bucket/prefix")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in commands:
        sub = subparsers.add_parser(
            command.name,
            help=command.summary,
            description=command.summary[0].upper() + command.summary[1:] + ".",
            epilog=f"example:\n  {command.example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.arguments(sub)
        sub.set_defaults(command=command, parser=sub)
    return parser


def run(commands: Sequence[Command], argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run the command; return the exit status."""
    parser = build_parser(commands)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed
        return exc.code if isinstance(exc.code, int) else 2
    if getattr(args, "command", None) is None:
        parser.print_help()
        return 2
    ctx = Context(args)
    with _sigterm_raises():
        return _run_guarded(ctx)


def _run_guarded(ctx: Context) -> int:
    command: Command = ctx.args.command
    try:
        try:
            return command.run(ctx)
        finally:
            ctx.close()
    except UsageError as exc:
        ctx.args.parser.print_usage(sys.stderr)
        print(f"objstore {command.name}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`objstore cat x | head`): not our error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ObjstoreError, OSError, ValueError) as exc:
        print(f"objstore: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Terminated:
        print("objstore: terminated", file=sys.stderr)
        return _without_stuck_threads(TERMINATED)
    except KeyboardInterrupt:
        print("objstore: interrupted", file=sys.stderr)
        return _without_stuck_threads(INTERRUPTED)


def _without_stuck_threads(status: int, patience: float = 5.0) -> int:
    """Return ``status``, or exit with it at once if threads the interrupted command left
    (a conformance test's, say) would keep the process alive: its cleanup has run."""
    deadline = time.monotonic() + patience
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    if any(
        t.is_alive() and not t.daemon
        for t in threading.enumerate()
        if t is not threading.current_thread()
    ):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while a command runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
