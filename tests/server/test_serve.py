"""``objstore [--config F] serve``: a real process on 127.0.0.1, its log, its signals."""

from __future__ import annotations

import hashlib
import http.client
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from signed_servers import (
    SIGNING_KEY,
    ServeProcess,
    free_port,
    objstore_serve,
    request,
    serve_command,
    serve_process,
)

import objstore


def write_config(tmp_path: Path, port: int, **extra: str) -> Path:
    lines = [
        "backend: file",
        "file:",
        f"  root: {tmp_path / 'data'}",
        f"  base_url: http://127.0.0.1:{port}/files",
        "  signing_key: ${SERVE_TEST_KEY}",
        *(f"  {name}: {value}" for name, value in extra.items()),
    ]
    path = tmp_path / "objstore.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SERVE_TEST_KEY", SIGNING_KEY)  # the child inherits it
    return write_config(tmp_path, free_port())


def port_of(config: Path) -> int:
    return int(config.read_text().split("127.0.0.1:")[1].split("/")[0])


@pytest.fixture
def server(config: Path, tmp_path: Path) -> Iterator[ServeProcess]:
    with objstore_serve(config, port_of(config), tmp_path / "serve.log") as served:
        yield served


def access_lines(served: ServeProcess) -> list[str]:
    return [line for line in served.log_text().splitlines() if '"' in line]


def test_serve_answers_signed_urls_and_logs_one_line_per_request(
    server: ServeProcess, config: Path
) -> None:
    store = objstore.from_config(config)
    put = store.presign("models/a b.bin", method="PUT", content_type="application/x-model")
    answer = request(server.port, "PUT", put, b"weights", {"Content-Type": "application/x-model"})
    assert answer.status == 200
    assert request(server.port, "GET", store.presign("models/a b.bin")).body == b"weights"
    assert request(server.port, "GET", put).status == 403
    assert server.stop() == 0
    lines = access_lines(server)  # written as each answer ends: in any order
    assert len(lines) == 3, server.log_text()
    for expected in ('"PUT /files/models/a%20b.bin" 200 0 ', '"GET /files/models/a%20b.bin" 200 7 ',
                     '"GET /files/models/a%20b.bin" 403 '):  # fmt: skip
        assert sum(expected in line for line in lines) == 1, (expected, lines)
    log = server.log_text()
    assert "Signature" not in log and SIGNING_KEY not in log  # the query is never logged
    assert log.rstrip().endswith("stopped (SIGTERM)")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_it_cleanly(server: ServeProcess, sig: signal.Signals) -> None:
    assert server.stop(sig) == 0
    assert server.log_text().rstrip().endswith(f"stopped ({sig.name})")


def run_serve(config: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    command = [*prefix, "--config", str(config), "serve", "--port", str(port_of(config))]
    if not prefix:
        command = serve_command(*command)
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_a_missing_uvicorn_names_the_extra(config: Path) -> None:
    code = textwrap.dedent("""
        import sys
        sys.modules["uvicorn"] = None  # as if objstore[server] were not installed
        from objstore.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    result = run_serve(config, sys.executable, "-c", code)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "objstore: error: serving signed URLs needs uvicorn: install objstore[server]"
    )


def test_a_store_without_signing_key_cannot_be_served(tmp_path: Path) -> None:
    path = tmp_path / "plain.json"
    path.write_text(f'{{"backend": "file", "file": {{"root": "{tmp_path}"}}}}')
    result = subprocess.run(serve_command("--config", str(path), "serve", "--port", "0"),
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 1
    assert "set file.base_url and file.signing_key" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_port_in_use_is_one_clear_line(server: ServeProcess, config: Path) -> None:
    result = run_serve(config)
    assert result.returncode == 1
    assert result.stderr.startswith(f"objstore: error: cannot listen on 127.0.0.1:{server.port}")


# -- memory: bodies stream through the server ---------------------------------------------------

BIG = 300 << 20
PIECE = 1 << 20


def pattern(index: int) -> bytes:
    return hashlib.sha256(index.to_bytes(8, "big")).digest() * (PIECE // 32)


def peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def put_and_get_big(port: int, store: objstore.Store, key: str) -> None:
    expected = hashlib.sha256()
    pieces = (pattern(i) for i in range(BIG // PIECE))

    def body() -> Iterator[bytes]:
        for piece in pieces:
            expected.update(piece)
            yield piece

    put = request(port, "PUT", store.presign(key, method="PUT"), body(),
                  {"Content-Length": str(BIG)})  # fmt: skip
    assert put.status == 200, put.body
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    url = store.presign(key)
    connection.request("GET", url[url.index("/", 8) :])
    response = connection.getresponse()
    got = hashlib.sha256()
    while piece := response.read(PIECE):
        got.update(piece)
    connection.close()
    assert response.status == 200
    assert got.hexdigest() == expected.hexdigest()


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


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_300_mib_up_and_down_in_bounded_memory(kind: str, config: Path, tmp_path: Path) -> None:
    port = port_of(config)
    store = objstore.from_config(config)
    log = tmp_path / "serve.log"
    if kind == "asgi":
        context = objstore_serve(config, port, log)
    else:
        context = serve_process(
            [sys.executable, "-c", WSGI_MAIN, str(config), str(port)], port, log
        )
    with context as server:
        store.put("warm-up", b"x")
        assert request(port, "GET", store.presign("warm-up")).body == b"x"  # imports done
        before = peak_rss(server.process.pid)
        put_and_get_big(port, store, "big.bin")
        growth = peak_rss(server.process.pid) - before
    print(f"{kind}: peak RSS grew by {growth / (1 << 20):.1f} MiB for 300 MiB up and down")
    assert growth < 32 << 20
    assert (tmp_path / "data" / "big.bin").stat().st_size == BIG
