#!/usr/bin/env python3
"""Signed-URL transfers through objstore's server, against plain file I/O.

One large object up (``PUT``) and down (``GET``) through ``objstore serve``
(the ASGI app on uvicorn) and the WSGI app on a threaded ``wsgiref``, each in
its own process on 127.0.0.1 with a plain ``http.client`` on the other end;
baselines are the store itself (``put``/``get_stream``) and plain Python file
I/O (``raw``). The report gives the median MiB/s, its ratio to ``raw``, and the
peak RSS growth of each server process; bench/README.md explains the options.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _harness import MIB, RAW, Bench, Job, Measured, Results, Runner, Workload, table, timed
from _loopback import spawned

KEY = "bench/object.bin"
SIGNING_KEY = "bench-signing-key-0123456789abcdef"
STORE = "objstore (no HTTP)"
HEAD = ("path", "PUT MiB/s", "PUT / raw", "GET MiB/s", "GET / raw", "server peak RSS growth")
SERVERS = ("objstore serve (ASGI, uvicorn)", "wsgi_app (wsgiref, threaded)")
WSGI_MAIN = """
import sys, socketserver, wsgiref.simple_server as ws
import objstore, objstore.server
class Server(socketserver.ThreadingMixIn, ws.WSGIServer):
    daemon_threads = True
class Quiet(ws.WSGIRequestHandler):
    def log_message(self, *args): pass
store = objstore.from_config(sys.argv[1])
server = ws.make_server("127.0.0.1", int(sys.argv[2]), objstore.server.wsgi_app(store),
                        server_class=Server, handler_class=Quiet)
print("serving the signed URLs", flush=True)
server.serve_forever()
"""


def pieces(size: int) -> Iterator[bytes]:
    piece = os.urandom(MIB)
    for _ in range(size // MIB):
        yield piece


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def write_file(path: Path, size: int) -> int:
    with path.open("wb") as out:
        for piece in pieces(size):
            out.write(piece)
    return size


def read_file(path: Path) -> int:
    with path.open("rb") as source:
        return read_all(source)


def read_all(source: Any) -> int:
    """Read a file or an HTTP answer to its end in 1 MiB reads; return its size."""
    total = 0
    while chunk := source.read(MIB):
        total += len(chunk)
    return total


def request(method: str, url: str, size: int) -> int:
    """PUT ``size`` bytes to ``url`` or GET it; return the bytes sent or received."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=600)
    target = f"{parts.path}?{parts.query}"
    if method == "PUT":
        connection.request(method, target, pieces(size), {"Content-Length": str(size)})
    else:
        connection.request(method, target)
    response = connection.getresponse()
    received = read_all(response)
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"{method} answered {response.status}")
    return size if method == "PUT" else received


class ServerBench(Bench):
    title = "objstore's signed-URL server"
    stem = "server"
    counts = (("rounds", 5, 1, "counted rounds"), ("size", 256, 32, "MiB per object"))
    packages = ("objstore", "uvicorn")

    def setup(self) -> contextlib.AbstractContextManager[object]:
        """A file store with signed URLs, and the commands that serve it."""
        import objstore

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = str(sock.getsockname()[1])
        section = {
            "root": str(self.scratch / "data"),
            "signing_key": SIGNING_KEY,
            "base_url": f"http://127.0.0.1:{port}/files",
        }
        config = self.scratch / "objstore.json"
        config.write_text(json.dumps({"backend": "file", "file": section}))
        self.store = objstore.from_config(config)
        self.commands = {
            SERVERS[0]: ["-m", "objstore", "--config", str(config), "serve", "--port", port],
            SERVERS[1]: ["-c", WSGI_MAIN, str(config), port],
        }
        return super().setup()

    def round(self, runner: Runner, _number: int) -> None:
        size = self.args.size * MIB
        up, down = Workload("PUT", "PUT", nbytes=size), Workload("GET", "GET", nbytes=size)
        raw = self.scratch / "raw.bin"
        for name in runner.shuffled([RAW, STORE, *SERVERS]):
            if name == RAW:
                runner.run(up, name, partial(write_file, raw, size), size)
                runner.run(down, name, partial(read_file, raw), size)
            elif name == STORE:
                runner.run(up, name, lambda: self.store.put(KEY, pieces(size)).size, size)
                runner.run(down, name, lambda: sum(map(len, self.store.get_stream(KEY))), size)
            else:
                self.through(runner, name, up, down)

    def through(self, runner: Runner, name: str, up: Workload, down: Workload) -> None:
        """PUT and GET through a server process started for them, watching its memory."""
        command, log = [sys.executable, *self.commands[name]], self.scratch / "server.log"
        with spawned(command, log, "serving the signed URLs") as (process, _):
            self.store.put("warm-up", b"x")
            request("GET", self.store.presign("warm-up"), 1)
            before = peak_rss(process.pid)

            def watched(action: Callable[[], int]) -> Job:
                def job() -> Measured:
                    run = timed(action)
                    return Measured(run.seconds, run.out, {"rss": peak_rss(process.pid) - before})

                return job

            size = up.nbytes
            put_url = self.store.presign(KEY, method="PUT")
            runner.run(up, name, watched(lambda: request("PUT", put_url, size)), size)
            get_url = self.store.presign(KEY)
            runner.run(down, name, watched(lambda: request("GET", get_url, size)), size)

    def report(self, results: Results) -> list[tuple[str, str]]:
        body = []
        for name in (RAW, STORE, *SERVERS):
            cells = [name]
            for wid in ("PUT", "GET"):
                base, median = results.median(wid, RAW), results.median(wid, name)
                ratio = f"{base / median:.2f}" if base and median else "n/a"
                cells += [f"{self.args.size / median:.0f}" if median else "n/a", ratio]
            rss = results.values("PUT", name, "rss") + results.values("GET", name, "rss")
            body.append([*cells, f"{max(rss) / MIB:.1f} MiB" if rss else ""])
        text = f"{self.args.size} MiB object, median of {self.args.rounds} round(s); MiB/s and "
        return [("Through the server", f"{text}ratio to raw\n\n{table(HEAD, body, 'l' * 6)}")]


if __name__ == "__main__":
    sys.exit(ServerBench().main())
