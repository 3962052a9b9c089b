"""A fault-injecting HTTP/1.1 proxy for the S3 tests: the network misbehaving on demand.

:class:`FaultProxy` sits between a client and a real server on 127.0.0.1 and
forwards each request whole; armed rules make chosen requests fail the ways a
network and an overloaded service do:

- ``status``: answer 503 SlowDown (or any status) without asking the server;
- ``reset_request``: cut the connection while the request body is still
  arriving (the server never sees the request);
- ``reset_answer``: cut the connection after ``after`` bytes of the answer
  (mid-body on a GET);
- ``truncate``: send the answer's headers and part of the body, then close
  cleanly (a body shorter than its ``Content-Length``);
- ``hang``: accept the request and never answer;
- ``lose_answer``: forward the request, let the server apply it, and drop the
  answer (the client sees a reset).

Each rule applies to the requests ``match`` accepts, ``times`` times. Every
request is recorded (method, path, headers) for tests to inspect. ``CONNECT``
is tunnelled, so the proxy also serves as an ``HTTPS_PROXY``.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

Match = Callable[[str, str], bool]

SLOW_DOWN = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
    b"<Message>Please reduce your request rate.</Message></Error>"
)


def anything(method: str, path: str) -> bool:
    return True


def matching(method: str, text: str = "") -> Match:
    """Requests with this method whose path (and query) contains ``text``."""
    return lambda m, p: m == method and text in p


@dataclass
class Rule:
    action: str
    match: Match
    times: int
    after: int = 0
    status: int = 503
    body: bytes = SLOW_DOWN
    headers: dict[str, str] = field(default_factory=dict)
    then: Callable[[], object] | None = None  # run when it fires, before the fault shows


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FaultProxy:
    """A proxy to ``127.0.0.1:target``; use as a context manager, or ``close()`` it."""

    target: int
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arm(self, action: str, match: Match = anything, times: int = 1, **options: object) -> None:
        with self._lock:
            self.rules.append(Rule(action, match, times, **options))  # type: ignore[arg-type]

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in list(self._open):
                _reset(sock)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving ---------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:  # noqa: PLR0912 - one branch per fault
        upstream: socket.socket | None = None
        upstream_reader: BinaryIO | None = None
        reader = client.makefile("rb")
        try:
            while True:
                head = _read_head(reader)
                if head is None:
                    return
                method, path, headers, raw = head
                if method == "CONNECT":
                    with self._lock:
                        self.seen.append(Seen(method, path, headers))
                    self._tunnel(client, reader, path)
                    return
                raw = _take_body_ourselves(client, headers, raw)
                rule = self._rule(method, path, headers)
                if rule is not None and rule.action == "reset_request":
                    _read_exactly(reader, min(rule.after, int(headers.get("content-length", 0))))
                    if rule.then is not None:
                        rule.then()
                    _reset(client)
                    return
                body = _read_body(reader, headers)
                if rule is not None and rule.action == "status":
                    client.sendall(_answer(rule.status, rule.body, rule.headers))
                    continue
                if rule is not None and rule.action == "hang":
                    threading.Event().wait(600)  # until the proxy closes the connection
                    return
                if upstream is None:
                    upstream = socket.create_connection(("127.0.0.1", self.target))
                    upstream_reader = upstream.makefile("rb")
                upstream.sendall(raw + body)
                assert upstream_reader is not None
                answer = _read_answer(upstream_reader, method)
                if rule is None:
                    client.sendall(answer)
                    continue
                self._misbehave(client, rule, answer)
                return
        except OSError:
            return
        finally:
            with self._lock:
                self._open.discard(client)
            for sock in (client, upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()

    def _misbehave(self, client: socket.socket, rule: Rule, answer: bytes) -> None:
        if rule.then is not None:
            rule.then()
        if rule.action == "lose_answer":
            _reset(client)
        elif rule.action == "reset_answer":
            client.sendall(answer[: rule.after])
            _reset(client)
        elif rule.action == "truncate":
            head_end = answer.index(b"\r\n\r\n") + 4
            client.sendall(answer[: head_end + rule.after])
            client.shutdown(socket.SHUT_RDWR)
        else:
            raise ValueError(f"unknown fault {rule.action!r}")

    def _rule(self, method: str, path: str, headers: dict[str, str]) -> Rule | None:
        with self._lock:
            self.seen.append(Seen(method, path, headers))
            for rule in self.rules:
                if rule.times > 0 and rule.match(method, path):
                    rule.times -= 1
                    self.fired.append(f"{rule.action} {method} {path}")
                    return rule
        return None

    def _tunnel(self, client: socket.socket, reader: BinaryIO, where: str) -> None:
        host, _, port = where.rpartition(":")
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)


def _take_body_ourselves(client: socket.socket, headers: dict[str, str], raw: bytes) -> bytes:
    """Answer ``Expect: 100-continue`` here and forward the request without it."""
    if headers.get("expect", "").lower() != "100-continue":
        return raw
    client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    kept = [line for line in raw.split(b"\r\n")[:-2] if not line.lower().startswith(b"expect:")]
    return b"".join(line + b"\r\n" for line in kept) + b"\r\n"


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST, as a broken network does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


def _read_head(reader: BinaryIO) -> tuple[str, str, dict[str, str], bytes] | None:
    lines = []
    while True:
        line = reader.readline(65536)
        if not line:
            return None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            break
    method, path, _ = lines[0].decode("latin-1").split(" ", 2)
    headers = {}
    for line in lines[1:-1]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return method, path, headers, b"".join(lines)


def _read_exactly(reader: BinaryIO, n: int) -> bytes:
    data = reader.read(n) if n else b""
    return data or b""


def _read_body(reader: BinaryIO, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return _read_chunked(reader)
    return _read_exactly(reader, int(headers.get("content-length", 0)))


def _read_chunked(reader: BinaryIO) -> bytes:
    out = []
    while True:
        size_line = reader.readline()
        out.append(size_line)
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        chunk = reader.read(size + 2)
        out.append(chunk)
        if size == 0:
            while True:  # trailers, then the blank line (already read if none)
                if chunk.endswith(b"\r\n\r\n") or chunk == b"\r\n":
                    return b"".join(out)
                line = reader.readline()
                out.append(line)
                if line in (b"\r\n", b""):
                    return b"".join(out)


def _read_answer(reader: BinaryIO, method: str) -> bytes:
    head = _read_head(reader)
    if head is None:
        raise OSError("the server closed the connection")
    _, code, headers, raw = head
    status = int(code)
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return raw
    return raw + _read_body(reader, headers)


def _answer(status: int, body: bytes, headers: dict[str, str]) -> bytes:
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (
        f"HTTP/1.1 {status} Fault\r\nContent-Type: application/xml\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
