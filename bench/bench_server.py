"""Signed-URL transfers through objstore's server, against plain file I/O.

Moves one large object up (``PUT``) and down (``GET``) through ``objstore
serve`` (the ASGI app on uvicorn) and through the WSGI app on a threaded
``wsgiref`` server, each in its own process on 127.0.0.1, with a plain
``http.client`` on the other end; and, as baselines, through the store directly
(``put``/``get_stream``) and with plain Python file I/O (``raw``). Reports the
median throughput of the rounds and its ratio to ``raw``, and the peak RSS growth
of each server process over the whole run.

    .venv/bin/python bench/bench_server.py --quick     # 32 MiB, 1 round
    .venv/bin/python bench/bench_server.py             # 256 MiB, 5 rounds
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import objstore

MIB = 1 << 20
KEY = "bench/object.bin"
SIGNING_KEY = "bench-signing-key-0123456789abcdef"

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pieces(size: int) -> Iterator[bytes]:
    piece = os.urandom(MIB)
    for _ in range(size // MIB):
        yield piece


@contextlib.contextmanager
def server_process(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        while "serving the signed URLs" not in log.read_text(errors="replace"):
            if process.poll() is not None:
                raise RuntimeError(log.read_text())
            time.sleep(0.05)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def http_put(url: str, size: int) -> None:
    parts = url.split("/", 3)
    host, port = parts[2].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    connection.request("PUT", "/" + parts[3], body=pieces(size),
                       headers={"Content-Length": str(size)})  # fmt: skip
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 200, response.status


def http_get(url: str, size: int) -> None:
    parts = url.split("/", 3)
    host, port = parts[2].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    connection.request("GET", "/" + parts[3])
    response = connection.getresponse()
    got = 0
    while chunk := response.read(MIB):
        got += len(chunk)
    connection.close()
    assert (response.status, got) == (200, size), (response.status, got)


def timed(action: Callable[[], None]) -> float:
    os.sync()  # the previous write's dirty pages are not this one's to flush
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def run(size: int, rounds: int, directory: Path) -> dict[str, dict[str, float]]:
    port = free_port()
    section = {"root": str(directory / "data"), "base_url": f"http://127.0.0.1:{port}/files",
               "signing_key": SIGNING_KEY}  # fmt: skip
    config = directory / "objstore.json"
    config.write_text(json.dumps({"backend": "file", "file": section}))
    store = objstore.from_config(config)
    raw_path = directory / "raw.bin"

    def raw_put() -> None:
        with raw_path.open("wb") as out:
            for piece in pieces(size):
                out.write(piece)

    def raw_get() -> None:
        with raw_path.open("rb") as source:
            while source.read(MIB):
                pass

    def store_get() -> None:
        for _ in store.get_stream(KEY):
            pass

    results: dict[str, dict[str, list[float]]] = {}

    def measure(name: str, put: Callable[[], None], get: Callable[[], None]) -> None:
        entry = results.setdefault(name, {"PUT": [], "GET": []})
        entry["PUT"].append(timed(put))
        entry["GET"].append(timed(get))

    servers = {
        "objstore serve (ASGI, uvicorn)": [sys.executable, "-m", "objstore", "--config",
                                           str(config), "serve", "--port", str(port)],
        "wsgi_app (wsgiref, threaded)": [sys.executable, "-c", WSGI_MAIN, str(config), str(port)],
    }  # fmt: skip
    growth: dict[str, float] = {}
    for _ in range(rounds):
        measure("raw", raw_put, raw_get)
        measure("objstore (no HTTP)", lambda: store.put(KEY, pieces(size)), store_get)
        for name, command in servers.items():
            with server_process(command, directory / "server.log") as process:
                store.put("warm-up", b"x")
                http_get(store.presign("warm-up"), 1)
                before = peak_rss(process.pid)
                measure(
                    name,
                    lambda: http_put(store.presign(KEY, method="PUT"), size),
                    lambda: http_get(store.presign(KEY), size),
                )
                grown = (peak_rss(process.pid) - before) / MIB
                growth[name] = max(growth.get(name, 0.0), grown)
    report: dict[str, dict[str, float]] = {}
    for name, times in results.items():
        report[name] = {op: size / MIB / statistics.median(t) for op, t in times.items()}
        if name in growth:
            report[name]["rss_mib"] = growth[name]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="MiB per object (default 256)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="32 MiB, 1 round")
    args = parser.parse_args()
    size, rounds = (32, 1) if args.quick else (args.size, args.rounds)
    directory = Path(tempfile.mkdtemp(prefix="objstore-bench-server-"))
    try:
        report = run(size * MIB, rounds, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    raw = report["raw"]
    print(f"{size} MiB object, median of {rounds} round(s); MiB/s and ratio to raw\n")
    print("| path | PUT MiB/s | PUT / raw | GET MiB/s | GET / raw | server peak RSS growth |")
    print("|---|---|---|---|---|---|")
    for name, row in report.items():
        rss = f"{row['rss_mib']:.1f} MiB" if "rss_mib" in row else ""
        print(f"| {name} | {row['PUT']:.0f} | {row['PUT'] / raw['PUT']:.2f} "
              f"| {row['GET']:.0f} | {row['GET'] / raw['GET']:.2f} | {rss} |")  # fmt: skip


if __name__ == "__main__":
    main()
