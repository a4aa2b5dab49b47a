"""A lean HTTP/1.1 transport for httpx: h11 over asyncio streams, one pool of idle connections per origin.

httpx's default transport (httpcore on anyio) spends more CPU per request than a monitor can afford when most
answers are a 304 with no body: its pool walks every connection it holds on each request and response, and each
lock and read passes through anyio's layers. This transport does what the fetcher needs and nothing more: HTTP/1.1
with keep-alive, TLS from one shared context, timeouts, and errors raised as httpx's own exception types, so
callers (and httpx.AsyncClient, which webhooks use) see the same interface as with httpx's transport. Hostile
servers meet bounds: an answer's head is at most MAX_HEAD_BYTES, and at most MAX_INFORMATIONAL 1xx answers precede it.

Pools: at most `max_idle_per_origin` idle connections per (scheme, host, port), closed after `keepalive_expiry`
seconds unused, and idle connections to at most `max_idle_origins` origins (the least recently used are closed),
so checking thousands of hosts does not hold a socket open to each. A connection that received anything while idle
(EOF, or a 408 sent before closing) is not reused: those bytes would be read as the next answer. A request that fails
on a reused connection before any answer arrives (the server closed it while idle) is sent once more on a new
connection, unless its body is a stream that cannot be replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator

import h11
import httpx

__all__ = ["Http11Transport"]

READ_SIZE = 64 * 1024
MAX_INFORMATIONAL = 10  # an endless stream of `100 Continue` must not keep a request alive
MAX_HEAD_BYTES = 64 * 1024  # status line and headers of one answer (h11 refuses a longer head)
TLS_SHUTDOWN_TIMEOUT_S = 1.0  # asyncio waits 30 s for a close_notify answer that some servers never send
DEFAULT_PORTS = {b"http": 80, b"https": 443}
HAPPY_EYEBALLS_DELAY_S = 0.25  # RFC 8305's recommended connection attempt delay

_Origin = tuple[bytes, str, int]


class _Stale(Exception):
    """A reused connection failed before the server answered: send the request again on a new one."""


class _Connection:
    """One TCP (or TLS) connection and its h11 state machine."""

    __slots__ = ("h11", "idle_since", "reader", "reused", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.idle_since = 0.0
        self.reused = False

    def usable(self, now: float, expiry_s: float) -> bool:
        """Return whether the idle connection is fresh and nothing (bytes or EOF) arrived since its last answer."""
        # asyncio offers no public peek at a StreamReader's buffer.
        received = self.reader._buffer or self.reader.at_eof()  # type: ignore[attr-defined]
        return now - self.idle_since < expiry_s and not received and not self.writer.is_closing()

    def reusable(self) -> bool:
        """Return whether the exchange finished cleanly (an unread end of body already received counts).

        Bytes past the end of the response (a body longer than its Content-Length) make it unusable too.
        """
        with contextlib.suppress(h11.ProtocolError):
            while self.h11.their_state is h11.SEND_BODY:  # e.g. a 304 closed unread: its end is in the buffer
                if self.h11.next_event() in (h11.NEED_DATA, h11.PAUSED):
                    break
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE and not self.h11.trailing_data[0]

    def close(self) -> None:
        self.writer.close()

    async def send(self, request: httpx.Request, timeout: float | None) -> None:
        url = request.url
        target = url.raw_path
        head = h11.Request(method=request.method.encode("ascii"), target=target, headers=request.headers.raw)
        data = self.h11.send(head) or b""
        if not isinstance(request.stream, httpx.AsyncByteStream):  # else its body would go out empty
            raise TypeError("Http11Transport needs an async request body (httpx.AsyncByteStream)")
        async for chunk in request.stream:
            if chunk:
                data += self.h11.send(h11.Data(data=chunk)) or b""
        data += self.h11.send(h11.EndOfMessage()) or b""
        self.writer.write(data)
        if self.writer.transport.get_write_buffer_size():  # the usual small request went out whole at once
            async with asyncio.timeout(timeout):
                await self.writer.drain()

    async def next_event(self, timeout: float | None) -> h11.Event | type[h11.PAUSED]:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]  # h11 types NEED_DATA and PAUSED as classes
            async with asyncio.timeout(timeout):
                data = await self.reader.read(READ_SIZE)
            if not data and self.h11.their_state is h11.SEND_RESPONSE:
                raise httpx.RemoteProtocolError("server disconnected without sending a response")
            self.h11.receive_data(data)

    async def receive_head(self, timeout: float | None) -> h11.Response:
        for _answer in range(MAX_INFORMATIONAL + 1):
            event = await self.next_event(timeout)
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):  # 1xx answers come before the real one
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} before the response")
        raise httpx.RemoteProtocolError(f"more than {MAX_INFORMATIONAL} informational (1xx) answers")


class _Body(httpx.AsyncByteStream):
    """A response body read from its connection; closing it gives the connection back (or closes it)."""

    def __init__(self, transport: Http11Transport, origin: _Origin, conn: _Connection, timeout: float | None) -> None:
        self._transport = transport
        self._origin = origin
        self._conn: _Connection | None = conn
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            raise httpx.StreamClosed()
        with _mapped(read=True):
            while True:
                event = await conn.next_event(self._timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    return
                else:
                    raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} in a response body")

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._transport.release(self._origin, conn)


class Http11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with keep-alive for httpx; see the module docstring for the pooling rules."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_expiry: float = 5.0,
        max_idle_per_origin: int = 10,
        max_idle_origins: int = 64,
    ) -> None:
        self._ssl = ssl_context
        self._expiry_s = keepalive_expiry
        self._max_idle = max_idle_per_origin
        self._max_origins = max_idle_origins
        self._idle: OrderedDict[_Origin, list[_Connection]] = OrderedDict()  # least recently used first
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = _origin(request.url)
        timeouts = request.extensions.get("timeout", {})
        while True:
            conn = self._idle_connection(origin)
            if conn is None:
                conn = await self._connect(origin, timeouts.get("connect"))
            try:
                head = await self._exchange(conn, request, timeouts)
            except _Stale:
                continue  # a new connection next time round: _exchange closed this one
            return httpx.Response(
                head.status_code,
                headers=head.headers.raw_items(),
                stream=_Body(self, origin, conn, timeouts.get("read")),
                extensions={"http_version": b"HTTP/" + head.http_version, "reason_phrase": head.reason},
                request=request,
            )

    async def _exchange(self, conn: _Connection, request: httpx.Request, timeouts: dict[str, float]) -> h11.Response:
        try:
            with _mapped(read=False):
                await conn.send(request, timeouts.get("write"))
            with _mapped(read=True):
                return await conn.receive_head(timeouts.get("read"))
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            conn.close()
            if conn.reused and isinstance(request.stream, httpx.ByteStream):
                raise _Stale() from exc
            raise
        except BaseException:
            conn.close()
            raise

    def _idle_connection(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if idle is None:
            return None
        now = time.monotonic()
        found = None
        while idle and found is None:
            conn = idle.pop()
            if conn.usable(now, self._expiry_s):
                conn.reused = True
                found = conn
            else:
                conn.close()
        if not idle:
            del self._idle[origin]  # an origin with no idle connection left must not take a slot in the cap
        return found

    async def _connect(self, origin: _Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        tls = self._tls() if scheme == b"https" else None
        with _mapped(read=False, connecting=True):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls else None,
                    ssl_shutdown_timeout=TLS_SHUTDOWN_TIMEOUT_S if tls else None,
                    limit=READ_SIZE,
                    # Happy Eyeballs (RFC 8305): a host whose IPv6 address is unreachable is tried on IPv4 after
                    # 250 ms instead of after the connect timeout.
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_S,
                    interleave=1,
                )
        return _Connection(reader, writer)

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(trust_env=False)  # loading the CA bundle takes ~25 ms: once
        return self._ssl

    def release(self, origin: _Origin, conn: _Connection) -> None:
        """Take a connection back after its response: pool it if it can carry another request, else close it."""
        if self._closed or not conn.reusable():
            conn.close()
            return
        conn.h11.start_next_cycle()
        conn.idle_since = time.monotonic()
        idle = self._idle.pop(origin, None) or []
        self._idle[origin] = idle
        idle.append(conn)
        if len(idle) > self._max_idle:
            idle.pop(0).close()
        while len(self._idle) > self._max_origins:
            _oldest, conns = self._idle.popitem(last=False)
            for old in conns:
                old.close()

    async def aclose(self) -> None:
        self._closed = True
        conns = [conn for idle in self._idle.values() for conn in idle]
        self._idle.clear()
        for conn in conns:
            conn.close()
        for conn in conns:
            with contextlib.suppress(OSError, ssl.SSLError):
                await conn.writer.wait_closed()


def _origin(url: httpx.URL) -> _Origin:
    scheme = url.raw_scheme
    if scheme not in DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
    if not url.raw_host:
        raise httpx.UnsupportedProtocol(f"no host in the URL {str(url)!r}")
    return scheme, url.raw_host.decode("ascii"), url.port or DEFAULT_PORTS[scheme]


@contextlib.contextmanager
def _mapped(*, read: bool, connecting: bool = False) -> Iterator[None]:
    """Raise socket, TLS, h11 and timeout errors as the httpx exceptions callers of an httpx transport expect."""
    try:
        yield
    except TimeoutError as exc:
        timeout = httpx.ConnectTimeout if connecting else httpx.ReadTimeout if read else httpx.WriteTimeout
        raise timeout("timed out") from exc
    except h11.RemoteProtocolError as exc:
        raise httpx.RemoteProtocolError(str(exc)) from exc
    except h11.LocalProtocolError as exc:
        raise httpx.LocalProtocolError(str(exc)) from exc
    except OSError as exc:  # ssl.SSLError included
        failure = httpx.ConnectError if connecting else httpx.ReadError if read else httpx.WriteError
        raise failure(str(exc) or type(exc).__name__) from exc
