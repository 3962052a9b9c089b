"""The commands that work on one store: ls, stat, cat, get, put, rm, cp, presign."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from pathlib import Path

from . import _output, _transfer
from ._base import Command, Context, UsageError

# -- ls ---------------------------------------------------------------------------------------


def _ls_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "prefix",
        nargs="?",
        default="",
        metavar="PREFIX",
        help="a plain string prefix of keys (not a directory)",
    )
    parser.add_argument(
        "-r", "--recursive", action="store_true", help="every key below PREFIX, not one level"
    )
    parser.add_argument(
        "-l", "--long", action="store_true", help="size and time of last change too"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def _ls(ctx: Context) -> int:
    args = ctx.args
    delimiter = None if args.recursive else "/"
    show = _output.as_json if args.json else _output.long_line if args.long else _key_of
    for item in ctx.store().list(args.prefix, delimiter=delimiter):
        ctx.print(show(item))
    return 0


def _key_of(item: object) -> str:
    return str(getattr(item, "key", ""))


LS = Command(
    "ls",
    "list keys under a prefix, one level (or all with -r)",
    "objstore --url file://./data ls photos/ -l",
    _ls,
    _ls_arguments,
)

# -- stat, cat ----------------------------------------------------------------------------


def _key_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", metavar="KEY", help="the object's key")


def _stat_arguments(parser: argparse.ArgumentParser) -> None:
    _key_argument(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object")


def _stat(ctx: Context) -> int:
    info = ctx.store().stat(ctx.args.key)
    for line in [_output.as_json(info)] if ctx.args.json else _output.stat_lines(info):
        ctx.print(line)
    return 0


STAT = Command(
    "stat",
    "describe one object: size, etag, time, content type, metadata",
    "objstore stat photos/cat.jpg --json",
    _stat,
    _stat_arguments,
)


def _cat(ctx: Context) -> int:
    out = sys.stdout.buffer
    with contextlib.closing(ctx.store().get_stream(ctx.args.key)) as chunks:
        for chunk in chunks:
            out.write(chunk)
    out.flush()
    return 0


CAT = Command(
    "cat",
    "write an object's bytes to standard output",
    "objstore cat notes/today.txt | less",
    _cat,
    _key_argument,
)

# -- get, put ---------------------------------------------------------------------------------


def _get_arguments(parser: argparse.ArgumentParser) -> None:
    _key_argument(parser)
    parser.add_argument(
        "dest",
        nargs="?",
        metavar="DEST|-",
        help="a file or directory (default: the key's last segment, here); - for stdout",
    )


def _get(ctx: Context) -> int:
    key, dest = ctx.args.key, ctx.args.dest
    if dest == "-":
        return _cat(ctx)
    path = _transfer.local_name(key, dest)
    with contextlib.closing(ctx.store().get_stream(key)) as chunks:
        size = chunks.info.size
        with ctx.progress(key, size) as bar, _transfer.atomic_file(path) as out:
            for chunk in chunks:
                out.write(chunk)
                bar.advance(len(chunk))
    ctx.print(f"{key} -> {path} ({size} bytes)")
    return 0


GET = Command(
    "get",
    "download an object into a file (written whole or not at all)",
    "objstore get photos/cat.jpg ./cat.jpg",
    _get,
    _get_arguments,
)


def _metadata_item(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name, value


def _put_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", metavar="SRC", help="a file, or - for standard input")
    parser.add_argument(
        "key", nargs="?", metavar="KEY", help="the key (default: SRC's file name; required with -)"
    )
    parser.add_argument(
        "--content-type", metavar="TYPE", help="the media type (default: guessed from the key)"
    )
    parser.add_argument(
        "-m",
        "--meta",
        action="append",
        default=[],
        type=_metadata_item,
        metavar="NAME=VALUE",
        help="user metadata (repeatable)",
    )


def _put(ctx: Context) -> int:
    args = ctx.args
    if args.src == "-" and args.key is None:
        raise UsageError("put - needs a KEY (standard input has no file name)")
    key = args.key if args.key is not None else Path(args.src).name
    with contextlib.ExitStack() as stack:
        source = sys.stdin.buffer if args.src == "-" else stack.enter_context(open(args.src, "rb"))
        total = None if args.src == "-" else Path(args.src).stat().st_size
        bar = stack.enter_context(ctx.progress(key, total))
        info = ctx.store().put(
            key,
            source,
            content_type=args.content_type,
            metadata=dict(args.meta),
            progress=bar.callback(),
        )
    ctx.print(f"{info.key} ({info.size} bytes, etag {info.etag})")
    return 0


PUT = Command(
    "put",
    "upload a file or standard input (atomic: whole or not at all)",
    "objstore put ./cat.jpg photos/cat.jpg -m owner=zoe",
    _put,
    _put_arguments,
)

# -- rm, cp -----------------------------------------------------------------------------------


def _rm_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("keys", nargs="+", metavar="KEY", help="keys to delete (missing: fine)")


def _rm(ctx: Context) -> int:
    ctx.store().delete_many(ctx.args.keys)
    return 0


RM = Command(
    "rm",
    "delete objects (a missing key is not an error)",
    "objstore rm photos/cat.jpg photos/dog.jpg",
    _rm,
    _rm_arguments,
)


def _cp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", metavar="SRC", help="the source key")
    parser.add_argument("dst", metavar="DST", help="the new key")


def _cp(ctx: Context) -> int:
    store, src, dst = ctx.store(), ctx.args.src, ctx.args.dst
    if store.capabilities.server_side_copy:
        info = store.copy(src, dst)  # no byte passes through here: nothing to show
    else:
        with ctx.progress(src, None) as bar:
            info = _transfer.copy_object(store, src, store, dst, progress=bar.callback())[1]
    ctx.print(f"{src} -> {info.key} ({info.size} bytes)")
    return 0


CP = Command(
    "cp",
    "copy an object with its content type and metadata (server-side if possible)",
    "objstore cp photos/cat.jpg backup/cat.jpg",
    _cp,
    _cp_arguments,
)

# -- presign ----------------------------------------------------------------------------------

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?")


def expires_seconds(text: str) -> int:
    """``1h``, ``30m``, ``90s``, ``2d``, ``1h30m`` or plain seconds → seconds.

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    match = _DURATION.fullmatch(text.strip().lower())
    if not text.strip() or match is None or not any(match.groups()):
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r} (use seconds, or 30m, 1h, 7d, 1h30m)"
        )
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _presign_arguments(parser: argparse.ArgumentParser) -> None:
    _key_argument(parser)
    parser.add_argument("--put", action="store_true", help="a URL to upload (PUT), not download")
    parser.add_argument(
        "--expires",
        type=expires_seconds,
        metavar="DURATION",
        help="how long the URL works: seconds, or 30m, 1h, 7d (default: 1h)",
    )
    parser.add_argument(
        "--content-type", metavar="TYPE", help="the Content-Type an uploader must send (with --put)"
    )


def _presign(ctx: Context) -> int:
    args = ctx.args
    expiry = {} if args.expires is None else {"expires": args.expires}  # else the store's default
    url = ctx.store().presign(
        args.key, method="PUT" if args.put else "GET", content_type=args.content_type, **expiry
    )
    ctx.print(url)
    return 0


PRESIGN = Command(
    "presign",
    "print a URL that lets anyone GET (or PUT) one object for a while",
    "objstore presign reports/q3.pdf --expires 30m",
    _presign,
    _presign_arguments,
)
