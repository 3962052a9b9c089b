"""The ``objstore`` command line (also ``python -m objstore``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence

from . import _defaults
from ._async_store import AsyncStore
from ._store import Store
from ._version import __version__
from .errors import ObjstoreError, PreconditionFailedError

DEFAULT_URL = "file://./objstore-data"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (errors: one line, status 1)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except ObjstoreError as exc:
        print(f"objstore: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="objstore",
        description="One storage interface over local files and S3-compatible stores.",
    )
    parser.add_argument("--version", action="version", version=f"objstore {__version__}")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--url", help="the store to use (default: from the environment)")
    source.add_argument("--config", metavar="FILE", help="a YAML or JSON configuration file")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help=f"walk through put, get, list, a conditional write and copy ({DEFAULT_URL})"
    )
    demo.set_defaults(run=_demo)
    serve = commands.add_parser("serve", help="serve the store's signed URLs over HTTP")
    serve.add_argument("--host", default=_defaults.SERVE_HOST, help="address to listen on")
    serve.add_argument("--port", type=int, default=_defaults.SERVE_PORT, help="port to listen on")
    serve.set_defaults(run=_serve)
    return parser


def _open(args: argparse.Namespace) -> Store:
    from . import open as open_store

    return open_store(args.url or DEFAULT_URL)


def _open_async(args: argparse.Namespace) -> AsyncStore:
    from . import from_config_async, from_env_async, open_async

    if args.config:
        return from_config_async(args.config)
    return open_async(args.url) if args.url else from_env_async()


def _demo(args: argparse.Namespace) -> int:
    with _open(args) as store:
        _DemoTour(store, args.url or DEFAULT_URL).run()
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .server import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    store = _open_async(args)
    try:
        serve(store, args.host, args.port)
    finally:
        asyncio.run(store.aclose())
    return 0


class _DemoTour:
    """The newcomer's walk-through: each step prints the call and what it returned."""

    def __init__(self, store: Store, url: str):
        self.store = store
        self.url = url

    def run(self) -> None:
        print(f"objstore {__version__} demo on {self.url}\n")
        self.put_and_get()
        self.listing()
        self.conditional_writes()
        self.copy()
        print("\nObjects are plain files: look in ./objstore-data/demo (or your --url root).")

    def step(self, title: str) -> None:
        print(f"== {title}")

    def put_and_get(self) -> None:
        self.step("put: store bytes with metadata (the content type is guessed)")
        info = self.store.put("demo/hello.txt", b"Hello, objstore!\n", metadata={"author": "Zoë"})
        print(f"   put('demo/hello.txt') -> size={info.size} etag={info.etag}")
        print(f"   content_type={info.content_type} metadata={dict(info.metadata or {})}")
        self.step("get: whole object, then a byte range")
        print(f"   get('demo/hello.txt') -> {self.store.get('demo/hello.txt')!r}")
        part = self.store.get("demo/hello.txt", offset=7, length=8)
        print(f"   get(..., offset=7, length=8) -> {part!r}")
        for day in ("2024-01-01", "2024-01-02"):
            self.store.put(f"demo/logs/{day}.log", f"log for {day}\n".encode())

    def listing(self) -> None:
        self.step("list: recursive, in key order")
        for item in self.store.list("demo/"):
            print(f"   {item.key}")
        self.step("list with delimiter='/': one level, prefixes collapsed")
        for item in self.store.list("demo/", delimiter="/"):
            print(f"   {type(item).__name__:12} {item.key}")

    def conditional_writes(self) -> None:
        self.step("conditional write: create only if absent (if_none_match='*')")
        try:
            self.store.put("demo/counter", b"0", if_none_match="*")
            print("   created demo/counter = 0")
        except PreconditionFailedError:
            print("   demo/counter already exists (from an earlier run): left as it is")
        self.step("compare-and-swap: increment only if nobody changed it (if_match=etag)")
        with self.store.open("demo/counter") as reader:
            value, etag = int(reader.read()), reader.info.etag
        self.store.put("demo/counter", str(value + 1).encode(), if_match=etag)
        print(f"   demo/counter: {value} -> {value + 1}")
        try:
            self.store.put("demo/counter", b"stale", if_match=etag)
        except PreconditionFailedError as exc:
            print(f"   a second write with the old etag is refused: {exc}")

    def copy(self) -> None:
        self.step("copy: content, content type and metadata travel together")
        info = self.store.copy("demo/hello.txt", "demo/hello-copy.txt")
        copied = self.store.stat(info.key)
        print(
            f"   copy -> {copied.key} content_type={copied.content_type} "
            f"metadata={dict(copied.metadata or {})}"
        )
