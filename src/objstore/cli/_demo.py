"""``objstore demo``: the newcomer's walk-through of the main calls."""

from __future__ import annotations

from .._store import Store
from .._version import __version__
from ..errors import PreconditionFailedError
from ._base import Command, Context


def _demo(ctx: Context) -> int:
    _DemoTour(ctx.store(), ctx.describe()).run()
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
        print("\nObjects are plain files: look in ./objstore-data/demo (or your store's root).")

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


DEMO = Command(
    "demo",
    "walk through put, get, list, a conditional write and copy",
    "objstore demo   (on ./objstore-data, or the store of --url/--config)",
    _demo,
)
