"""The native transport on asyncio: the same signed requests, sent with aiohttp.

aiohttp parses HTTP with its C parser and keeps a keep-alive pool per session;
httpx's async client parses in pure Python and costs several times more CPU
per request (docs/decisions.md). A session belongs to the event loop that made
it, so :class:`AsyncNativeWire` keeps one per loop: a store used from a second
``asyncio.run`` (or in a forked child) gets a new session, and the old one is
dropped without touching a loop that no longer runs.

:meth:`AsyncNativeWire.call` is the one place every asyncio request goes
through (the twin of :meth:`._native.NativeWire.call`).
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from ...errors import ConfigError
from ._endpoint import Endpoint, Prepared, failure
from ._errors import TransportError, WireError
from ._http import proxy_url
from ._ops import Body, Op, Pieces, Reply, Request
from ._presets import S3Options
from ._retry import Attempts, span

T = TypeVar("T")


def _aiohttp() -> Any:
    try:
        import aiohttp
    except ImportError as exc:
        raise ConfigError(
            "the native async S3 transport needs aiohttp, which is not installed: install "
            "objstore[s3]",
            backend="s3",
        ) from exc
    return aiohttp


class AsyncNativeWire:
    """Sends the operations of :mod:`._ops` on the running event loop."""

    def __init__(
        self,
        options: S3Options,
        endpoint: Endpoint,
        tls: ssl.SSLContext | None,
        secrets: Callable[[], tuple[str, ...]],
    ):
        self._aiohttp = _aiohttp()
        self.endpoint = endpoint
        self.secrets = secrets
        self._options = options
        self._tls = tls
        self._session: Any = None
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = os.getpid()
        # read here, once: aiohttp's trust_env would look both up in a thread per request
        self._proxy = proxy_url(endpoint.scheme, endpoint.host.rsplit(":", 1)[0])

    async def call(self, op: Op[T]) -> T:
        """Send ``op`` (retrying as :mod:`._retry` says) and read its answer.

        Raises:
            WireError: the last attempt failed; ``attempts`` and ``uncertain`` say how.
        """
        request = op.request()
        attempts = Attempts(self._options.max_attempts, self.endpoint)
        while True:
            attempt = attempts.begin()
            try:
                # Only as many requests as there are connections get signed and built at
                # once: hundreds of tasks doing that in one turn of the loop would delay
                # every other task on it.
                async with self._slots():
                    reply = await self._attempt(request, op, attempt)
                return op.answer(reply)
            except WireError as exc:
                failed = exc
            await asyncio.sleep(attempts.after(failed))

    async def _attempt(self, request: Request, op: Op[T], attempt: int) -> Reply:
        prepared = self.endpoint.prepare(request)
        with span(self.endpoint, request, prepared, op.name, attempt) as client:
            answer = await self._send(prepared)
            client.answered(answer.status)
            headers = {k.lower(): v for k, v in answer.headers.items()}
            if op.streamed and answer.status < 300:
                return Reply(answer.status, headers, stream=AsyncBody(answer))
            try:
                body = await answer.read()
            except (self._aiohttp.ClientError, TimeoutError, OSError) as exc:
                answer.close()
                raise _failure(exc) from None
            finally:
                answer.release()
            if answer.status >= 300:
                raise failure(answer.status, headers, body, self.secrets())
        return Reply(answer.status, headers, body)

    async def _send(self, prepared: Prepared) -> Any:
        from yarl import URL

        url = URL(f"{prepared.scheme}://{prepared.host}{prepared.target}", encoded=True)
        headers = dict(prepared.headers)
        headers.setdefault("accept-encoding", "identity")
        data: Any = prepared.body or None
        if data is not None and len(data) > SLICE:
            headers["content-length"] = str(len(data))
            data = _slices(data)
        elif isinstance(data, Pieces):
            data = data.tobytes()
        try:
            return await self._current().request(
                prepared.method,
                url,
                headers=headers,
                data=data,
                allow_redirects=False,
                proxy=self._proxy,
            )
        except (self._aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _failure(exc) from None

    def _slots(self) -> asyncio.Semaphore:
        self._current()
        assert self._semaphore is not None
        return self._semaphore

    def _current(self) -> Any:
        """The session of the running loop (a new one in a new loop or a forked child)."""
        loop = asyncio.get_running_loop()
        if self._session is not None and (self._loop is not loop or self._pid != os.getpid()):
            self.abandon()
        if self._session is None:
            aiohttp = self._aiohttp
            options = self._options
            # No cap on connections (a caller holding many open streams must never
            # wait for one): the semaphore bounds the requests in flight instead.
            connector = aiohttp.TCPConnector(
                limit=0,
                ssl=self._tls if self._tls is not None else False,
                resolver=aiohttp.ThreadedResolver(loop=cast(Any, self._lookups)),
            )
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=options.connect_timeout, sock_read=options.read_timeout
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=timeout, auto_decompress=False, trust_env=False
            )
            self._semaphore = asyncio.Semaphore(options.max_connections)
            self._loop, self._pid = loop, os.getpid()
        return self._session

    @functools.cached_property
    def _lookups(self) -> _Lookups:
        return _Lookups()

    def abandon(self) -> None:
        """Drop the session without awaiting anything (its loop may be gone)."""
        self._drop_lookups()  # a forked child has none of their threads
        session, self._session = self._session, None
        if session is None:
            return
        connector = session.connector
        session.detach()
        if connector is not None:
            connector._close()  # no awaiting: the loop may be closed or another one

    def _drop_lookups(self) -> None:
        lookups = self.__dict__.pop("_lookups", None)
        if lookups is not None:
            lookups.close()

    async def aclose(self) -> None:
        self._drop_lookups()
        session, self._session = self._session, None
        if session is not None:
            if self._loop is asyncio.get_running_loop():
                await session.close()
            else:
                self._session = session
                self.abandon()


SLICE = 256 << 10  # bodies go out in slices, so no step of the loop copies a whole part


async def _slices(body: Body) -> AsyncIterator[memoryview]:
    views = body.views if isinstance(body, Pieces) else [memoryview(body)]
    for view in views:
        for start in range(0, len(view), SLICE):
            yield view[start : start + SLICE]


def _failure(exc: BaseException) -> TransportError:
    import aiohttp

    if isinstance(exc, ssl.SSLError | aiohttp.ClientSSLError):
        return TransportError(f"TLS: {type(exc).__name__}", tls=True)
    if isinstance(exc, TimeoutError):
        return TransportError("timed out")
    if isinstance(exc, ConnectionRefusedError) or "Connect call failed" in str(exc):
        return TransportError("connection refused")
    return TransportError(f"{type(exc).__name__}: {exc}"[:200])


class AsyncBody:
    """A streamed answer's body on asyncio; the connection is released when closed."""

    def __init__(self, answer: Any):
        self._answer = answer

    async def read(self, n: int) -> bytes:
        import aiohttp

        try:
            data: bytes = await self._answer.content.read(n)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.close()
            raise _failure(exc) from None
        if not data and self._answer.content.at_eof() is False:
            self.close()
            raise TransportError("the answer ended early")
        return data

    def close(self) -> None:
        self._answer.release()


class _Lookups:
    """Host name lookups for aiohttp's resolver, in threads of this transport's own.

    aiohttp's default resolver calls the loop's ``getaddrinfo``, which runs in the
    loop's default executor; objstore never uses that executor (SPEC §5). Given
    to aiohttp's ``ThreadedResolver`` in place of the loop, this runs the same
    calls in two threads owned here (aiohttp caches answers for 10 s, so lookups
    are rare).
    """

    def __init__(self) -> None:
        self._threads: ThreadPoolExecutor | None = None

    async def getaddrinfo(self, *args: Any, **kwargs: Any) -> Any:
        return await self._run(functools.partial(socket.getaddrinfo, *args, **kwargs))

    async def getnameinfo(self, *args: Any) -> Any:
        return await self._run(functools.partial(socket.getnameinfo, *args))

    async def _run(self, call: Callable[[], T]) -> T:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(2, thread_name_prefix="objstore-dns")
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=False)
