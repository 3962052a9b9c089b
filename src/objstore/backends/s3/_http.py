"""The native transport's synchronous HTTP/1.1 client: ``http.client`` on a keep-alive pool.

``http.client`` parses answers in C-backed buffered I/O and costs about 70 µs
of CPU per small request here, where urllib3 costs 160 µs on top of the same
``http.client`` (docs/decisions.md has the measurements). What urllib3 would
add is written here in a few lines: a thread-safe pool of idle connections
(LIFO) keeping up to ``max_connections``, connect and read timeouts, TLS
verification, ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``, and a pool that
rebuilds itself in a child process after ``os.fork()``.
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
import threading
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ._endpoint import Prepared
from ._errors import TransportError

NETWORK_ERRORS = (OSError, http.client.HTTPException)


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: str | None  # Proxy-Authorization


def proxy_url(scheme: str, host: str) -> str | None:
    """The proxy URL the environment names for ``scheme://host`` (``NO_PROXY`` honoured)."""
    proxies = urllib.request.getproxies_environment()
    url = proxies.get(scheme)
    if not url or urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
        return None
    return url if "://" in url else f"http://{url}"


def proxy_for(scheme: str, host: str) -> Proxy | None:
    """The proxy the environment names for ``scheme://host`` (``NO_PROXY`` honoured)."""
    url = proxy_url(scheme, host)
    if url is None:
        return None
    parts = urlsplit(url)
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    return Proxy(parts.hostname or "", parts.port or 8080, authorization)


def tls_context(verify: bool | str, ca_bundle: str | None = None) -> ssl.SSLContext:
    """TLS settings: ``verify`` is a bool or a CA bundle; ``True`` uses ``ca_bundle`` (boto3's
    ``AWS_CA_BUNDLE`` or profile setting), else certifi's bundle, else the system's."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    cafile = verify if isinstance(verify, str) else ca_bundle or _certifi()
    return ssl.create_default_context(cafile=cafile)


def _certifi() -> str | None:
    try:
        import certifi
    except ImportError:
        return None
    return str(certifi.where())


class _Headers(dict[str, str]):
    """An answer's headers, names in lower case: what http.client itself asks of them."""

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self, name.lower(), default)

    def get_all(self, name: str, default: Any = None) -> Any:
        value = self.get(name)
        return default if value is None else [value]


MAX_HEADERS = 100


def _read_headers(fp: Any) -> _Headers:
    """Header lines up to the blank one, in a few microseconds (http.client hands every
    answer's headers to the ``email`` package, which costs ~25 µs)."""
    headers = _Headers()
    while True:
        line = fp.readline(65537)
        if len(line) > 65536:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return headers
        if len(headers) >= MAX_HEADERS:
            raise http.client.HTTPException(f"more than {MAX_HEADERS} headers")
        name, _, value = line.decode("iso-8859-1").partition(":")
        name, value = name.strip().lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value


class _Response(http.client.HTTPResponse):
    """``HTTPResponse`` with a fast header reader; everything after the headers is its own."""

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            _read_headers(self.fp)  # the interim answer's, skipped
        if not version.startswith("HTTP/"):
            raise http.client.UnknownProtocol(version)
        self.code = self.status = status
        self.reason = reason.strip()
        self.version = 11 if version.startswith("HTTP/1.") and version != "HTTP/1.0" else 10
        self.headers = self.msg = _read_headers(self.fp)
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self.chunk_left = None
        self.will_close = self._check_close()
        length = self.headers.get("content-length")
        digits = length is not None and length.isdigit() and not self.chunked
        self.length = int(length) if digits else None
        if status in (204, 304) or status < 200 or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


class _Connection(http.client.HTTPConnection):
    read_timeout = 60.0
    reused = False
    response_class = _Response

    def connect(self) -> None:
        super().connect()  # over TLS: the connection made, then wrapped
        self.sock.settimeout(self.read_timeout)


class _TlsConnection(_Connection, http.client.HTTPSConnection):
    pass


Connection = _Connection | _TlsConnection


class Pool:
    """Keep-alive connections to one host, at most ``size`` of them kept idle.

    A caller never waits for a connection: one more is opened when all are busy
    (and closed after use), so code holding many open streams cannot deadlock.
    """

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        *,
        size: int,
        connect_timeout: float,
        read_timeout: float,
        tls: ssl.SSLContext | None,
    ):
        self._address = (scheme, host, port)
        self._size = size
        self._timeouts = (connect_timeout, read_timeout)
        self._tls = tls
        self._proxy = proxy_for(scheme, host)
        # Over plain HTTP a proxy takes absolute URLs; over TLS it tunnels (CONNECT).
        self._absolute_urls = self._proxy is not None and scheme == "http"
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    def exchange(self, request: Prepared, streamed: bool) -> tuple[int, dict[str, str], Any]:
        """Send ``request``; return status, headers and the body (read, or a :class:`Body`).

        Raises:
            TransportError: no (whole) answer came.
        """
        if self._pid != os.getpid():
            self._reset()  # a forked child: the parent's sockets are not ours to use
        connection = None
        try:
            connection = self._checkout()
            answer = _send(connection, request, self._absolute_urls)
            headers = dict(answer.headers)
            if streamed and answer.status < 300:
                return answer.status, headers, Body(self, connection, answer)
            body = answer.read()
        except NETWORK_ERRORS as exc:
            self._discard(connection)
            raise _failure(exc) from None
        except BaseException:
            self._discard(connection)
            raise
        self._checkin(connection, answer)
        return answer.status, headers, body

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _checkout(self) -> Connection:
        with self._lock:
            if self._idle:
                connection = self._idle.pop()
                connection.reused = True
                return connection
        return self._connect()

    def _connect(self) -> Connection:
        scheme, host, port = self._address
        connect_timeout, read_timeout = self._timeouts
        proxy = self._proxy
        where = (proxy.host, proxy.port) if proxy else (host, port)
        connection: Connection
        if scheme == "https":
            connection = _TlsConnection(*where, timeout=connect_timeout, context=self._tls)
            if proxy:
                auth = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else {}
                connection.set_tunnel(host, port, headers=auth)
        else:
            connection = _Connection(*where, timeout=connect_timeout)
        connection.read_timeout = read_timeout
        return connection

    def _checkin(self, connection: Connection, answer: http.client.HTTPResponse) -> None:
        keep = not answer.will_close and answer.isclosed() and self._pid == os.getpid()
        with self._lock:
            if keep and len(self._idle) < self._size:
                self._idle.append(connection)
                return
        connection.close()

    def _discard(self, connection: Connection | None) -> None:
        if connection is not None:
            connection.close()


def _send(connection: Connection, request: Prepared, absolute_url: bool) -> Any:
    target = request.target
    if absolute_url:
        target = f"http://{request.host}{target}"
    connection.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in request.headers.items():
        connection.putheader(name, value)
    body = request.body if isinstance(request.body, bytes) else request.body.tobytes()
    if body or request.method in ("PUT", "POST"):
        connection.putheader("content-length", str(len(body)))
    connection.endheaders(body or None)
    return connection.getresponse()


def _failure(exc: BaseException) -> TransportError:
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return TransportError(f"TLS: {type(exc).__name__}: {exc}", tls=True)
    if isinstance(exc, TimeoutError | socket.timeout):
        return TransportError("timed out")
    if isinstance(exc, ConnectionRefusedError):
        return TransportError("connection refused")
    return TransportError(f"{type(exc).__name__}: {exc}"[:200])


class Body:
    """A streamed answer's body; the connection goes back to the pool once it is read whole."""

    def __init__(self, pool: Pool, connection: Connection, answer: http.client.HTTPResponse):
        self._pool: Pool | None = pool
        self._connection = connection
        self._answer = answer

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes, ``b""`` at the end.

        Raises:
            TransportError: the connection dropped or timed out.
        """
        if self._pool is None:
            return b""
        try:
            data = self._answer.read(n)
        except NETWORK_ERRORS as exc:
            self.close()
            raise _failure(exc) from None
        if self._answer.isclosed():
            self._release()
        return data

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool._discard(self._connection)  # unread bytes: the connection cannot be reused

    def _release(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool._checkin(self._connection, self._answer)
