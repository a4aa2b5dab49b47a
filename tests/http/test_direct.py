"""DirectTransport (aiohttp under httpx) against raw HTTP/1.1 servers on 127.0.0.1: keep-alive, framing, errors mapped
to httpx's, the head bounds, TLS, httpx.AsyncClient.

The servers speak bytes written by each test, so framing, keep-alive and closing are exactly what the test says; they
number their accepted connections and note which ones the client closed, which is how reuse is observed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import re
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import httpx
import pytest

from monitor.http.direct import ERRORS as MAPPING
from monitor.http.direct import MAX_HEAD_BYTES, MAX_INFORMATIONAL, DirectTransport, httpx_error

T = TypeVar("T")
TIMEOUTS = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
SHORT_READ = {**TIMEOUTS, "read": 0.2}
DEADLINE_S = 10.0  # how long a test waits for something the server should see; a guard against hangs, not a measure


# --- a raw HTTP/1.1 server in the test's own event loop ---------------------------------------------------------


@dataclass
class Received:
    """One request as the server parsed it."""

    conn: int
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class Peer:
    """The server's end of one accepted connection."""

    def __init__(self, server: RawServer, number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.server = server
        self.number = number
        self.reader = reader
        self.writer = writer
        self.closed = False

    async def read_request(self) -> Received | None:
        """Return the next request, or None when the client closed the connection."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return Received(self.number, method, target, headers, await self._read_body(headers))

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        if "content-length" in headers:
            return await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding") != "chunked":
            return b""
        chunks = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            chunks.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
        while await self.reader.readuntil(b"\r\n") != b"\r\n":
            pass  # trailers
        return b"".join(chunks)

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    def close(self) -> None:
        """Close after sending what was written (FIN)."""
        self.closed = True
        self.writer.close()

    def reset(self) -> None:
        """Drop the connection with a TCP RST, as a crashed or impatient server does."""
        self.closed = True
        self.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Handler = Callable[[Received, Peer], Awaitable[None]]
RawHandler = Callable[[Peer], Awaitable[None]]


class RawServer:
    """Accepts connections on 127.0.0.1 and passes each request to `handler` (or each connection to `raw`)."""

    def __init__(self, handler: Handler | None, raw: RawHandler | None, tls: ssl.SSLContext | None) -> None:
        self._handler = handler
        self._raw = raw
        self._tls = tls
        self.accepted = 0
        self.peers: dict[int, Peer] = {}
        self.received: list[Received] = []
        self.eof: set[int] = set()  # connections the client closed (FIN or RST)
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._stopping = False

    def url(self, path: str = "/") -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{port}{path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self._tls)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        assert not self.errors, self.errors

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        peer = self.peers[self.accepted] = Peer(self, self.accepted, reader, writer)
        try:
            if self._raw is not None:
                await self._raw(peer)
            else:
                await self._serve(peer)
        except ConnectionError:
            self.eof.add(peer.number)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Python 3.11's start_server logs a cancelled handler task as an error: end it normally instead.
        except Exception as exc:  # reported by stop(): an assertion there names the server's failure
            self.errors.append(exc)
        finally:
            writer.close()

    async def _serve(self, peer: Peer) -> None:
        assert self._handler is not None
        while not peer.closed:
            request = await peer.read_request()
            if request is None:
                if not peer.closed:
                    self.eof.add(peer.number)
                return
            self.received.append(request)
            await self._handler(request, peer)


@contextlib.asynccontextmanager
async def serve(
    handler: Handler | None = None, *, raw: RawHandler | None = None, tls: ssl.SSLContext | None = None
) -> AsyncIterator[RawServer]:
    server = RawServer(handler, raw, tls)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def direct(ssl_context: ssl.SSLContext | None = None, keepalive_expiry: float = 5.0) -> DirectTransport:
    """Return a transport as routes.py makes one (None: the default roots)."""
    context = ssl_context or ssl.create_default_context()
    return DirectTransport(tls=lambda: context, keepalive_expiry=keepalive_expiry)


@contextlib.asynccontextmanager
async def pooled(**options: Any) -> AsyncIterator[DirectTransport]:
    transport = direct(**options)
    try:
        yield transport
    finally:
        await transport.aclose()


async def until(predicate: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(DEADLINE_S):
            while not predicate():
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"gave up waiting for {what}") from None


async def fetch(
    transport: DirectTransport, url: str, method: str = "GET", *, timeouts: dict[str, float] = TIMEOUTS, **kw: Any
) -> httpx.Response:
    """Send one request straight to the transport (as the Fetcher does), read the whole body and close it."""
    response = await transport.handle_async_request(httpx.Request(method, url, extensions={"timeout": timeouts}, **kw))
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


def response(status: int = 200, body: bytes = b"", *, reason: str = "OK", headers: tuple[str, ...] = ()) -> bytes:
    head = "\r\n".join([f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}", *headers])
    return head.encode() + b"\r\n\r\n" + body


def chunked(*chunks: bytes) -> bytes:
    framed = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + framed + b"0\r\n\r\n"


async def echo(request: Received, peer: Peer) -> None:
    """Answer with which connection carried which request: "<conn> <method> <target>"."""
    peer.write(response(body=f"{request.conn} {request.method} {request.target}".encode()))


def answer(raw: bytes, *, close: bool = False) -> Handler:
    async def handler(request: Received, peer: Peer) -> None:
        peer.write(raw)
        if close:
            peer.close()

    return handler


async def hang(*_args: object) -> None:
    await asyncio.Event().wait()


async def no_answer(request: Received, peer: Peer) -> None:
    """Never answer, but notice when the client closes (the next read sees the EOF)."""
    await peer.reader.read(1)


def in_groups(*sizes: int) -> Handler:
    """Echo, but hold each request until its whole group has arrived, so a group's requests overlap."""
    bounds = list(itertools.accumulate(sizes))

    async def handler(request: Received, peer: Peer) -> None:
        arrived = len(peer.server.received)
        bound = next(b for b in bounds if b >= arrived)
        await until(lambda: len(peer.server.received) >= bound, f"{bound} requests")
        await echo(request, peer)

    return handler


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(main())


# --- keep-alive and the idle pools ------------------------------------------------------------------------------


def test_sequential_requests_to_one_origin_share_one_connection() -> None:
    async def main() -> list[bytes]:
        async with serve(echo) as server, pooled() as transport:
            responses = [await fetch(transport, server.url(f"/{i}")) for i in range(5)]
            assert server.accepted == 1
            return [r.content for r in responses]

    assert run(main) == [f"1 GET /{i}".encode() for i in range(5)]


def test_concurrent_requests_open_several_connections_and_later_ones_reuse_them() -> None:
    async def main() -> None:
        async with serve(in_groups(4, 4)) as server, pooled() as transport:
            await asyncio.gather(*(fetch(transport, server.url(f"/a{i}")) for i in range(4)))
            assert server.accepted == 4
            await asyncio.gather(*(fetch(transport, server.url(f"/b{i}")) for i in range(4)))
            assert server.accepted == 4
            assert sorted(r.conn for r in server.received[4:]) == [1, 2, 3, 4]
            assert server.eof == set()

    run(main)


def test_an_idle_connection_past_keepalive_expiry_is_closed_not_reused() -> None:
    async def main() -> None:
        async with serve(echo) as server, pooled(keepalive_expiry=0.05) as transport:
            await fetch(transport, server.url("/1"))
            await asyncio.sleep(0.2)
            second = await fetch(transport, server.url("/2"))
            assert second.content == b"2 GET /2"
            await until(lambda: server.eof == {1}, "the expired connection closed")

    run(main)


def test_response_closed_after_aclose_of_the_transport_is_not_pooled() -> None:
    async def main() -> None:
        async with serve(echo) as server:
            transport = direct()
            request = httpx.Request("GET", server.url(), extensions={"timeout": TIMEOUTS})
            in_flight = await transport.handle_async_request(request)
            await transport.aclose()
            await in_flight.aread()
            await in_flight.aclose()
            await until(lambda: server.eof == {1}, "the in-flight connection closed")

    run(main)


# --- connections the server dropped, retries ----------------------------------------------------------------------


def drop_second_request(how: str) -> Handler:
    """Echo, except that on connection 1 the request for /second is read and then the connection dropped."""

    async def handler(request: Received, peer: Peer) -> None:
        if peer.number == 1 and request.target == "/second":
            getattr(peer, how)()
        else:
            await echo(request, peer)

    return handler


async def close_after_answer(request: Received, peer: Peer) -> None:
    await echo(request, peer)
    peer.close()  # a keep-alive answer, then the server closes it while idle


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(close_after_answer, id="closed-while-idle"),
        pytest.param(drop_second_request("close"), id="closed-on-next-request"),
        pytest.param(drop_second_request("reset"), id="reset-on-next-request"),
    ],
)
def test_a_dropped_idle_connection_is_replaced_transparently(handler: Handler) -> None:
    async def main() -> None:
        async with serve(handler) as server, pooled() as transport:
            await fetch(transport, server.url("/first"))
            await asyncio.sleep(0.05)
            second = await fetch(transport, server.url("/second"))
            assert (second.status_code, second.content) == (200, b"2 GET /second")
            assert server.accepted == 2

    run(main)


async def payload() -> AsyncIterator[bytes]:
    yield b"pay"
    yield b"load"


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_get_is_sent_again_on_a_new_connection_but_a_post_is_not(how: str) -> None:
    # aiohttp sends an idempotent request once more when its reused connection turns out closed (RFC 9112, 9.3.1).
    async def main() -> None:
        async with serve(drop_second_request(how)) as server, pooled() as transport:
            await fetch(transport, server.url("/first"))
            again = await fetch(transport, server.url("/second"))
            assert again.content == b"2 GET /second"
            assert [r.conn for r in server.received] == [1, 1, 2]

        async with serve(drop_second_request(how)) as server, pooled() as transport:
            await fetch(transport, server.url("/first"))
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await fetch(transport, server.url("/second"), "POST", content=b"payload")
            assert [(r.conn, r.body) for r in server.received] == [(1, b""), (1, b"payload")]
            assert server.accepted == 1

    run(main)


@pytest.mark.parametrize("warm", [False, True], ids=["fresh", "after-a-stale-one"])
def test_a_connection_closed_before_any_answer_is_an_error_after_one_more_try(warm: bool) -> None:
    async def handler(request: Received, peer: Peer) -> None:
        if request.target == "/warm":
            await echo(request, peer)
        else:
            peer.close()

    async def main() -> None:
        async with serve(handler) as server, pooled() as transport:
            if warm:
                await fetch(transport, server.url("/warm"))
            with pytest.raises(httpx.RemoteProtocolError, match="server disconnected"):
                await fetch(transport, server.url("/x"))
            assert [r.target for r in server.received].count("/x") == 2
            assert server.accepted == 2

    run(main)


def test_a_read_timeout_on_a_reused_connection_is_not_retried() -> None:
    async def handler(request: Received, peer: Peer) -> None:
        await (hang() if request.target == "/slow" else echo(request, peer))

    async def main() -> None:
        async with serve(handler) as server, pooled() as transport:
            await fetch(transport, server.url("/first"))
            with pytest.raises(httpx.ReadTimeout):
                await fetch(transport, server.url("/slow"), timeouts=SHORT_READ)
            assert server.accepted == 1
            assert [r.target for r in server.received] == ["/first", "/slow"]

    run(main)


@pytest.mark.parametrize("close", [True, False], ids=["then-close", "kept-open"])
def test_bytes_a_server_sends_on_an_idle_connection_are_not_taken_as_the_next_answer(close: bool) -> None:
    async def main() -> None:
        async with serve(echo) as server, pooled() as transport:
            await fetch(transport, server.url("/first"))
            server.peers[1].write(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            if close:
                server.peers[1].close()
            await asyncio.sleep(0.05)
            second = await fetch(transport, server.url("/second"))
            assert (second.status_code, second.content) == (200, b"2 GET /second")
            assert [r.conn for r in server.received] == [1, 2]

    run(main)


@pytest.mark.parametrize(
    ("extra", "connections"),
    [(b"HTTP/1.1 200 OK\r\n", [1, 1]), (response(body=b"smuggled"), [1, 2])],
    ids=["part-of-a-head", "a-whole-answer"],
)
def test_bytes_after_the_end_of_a_response_are_never_the_next_answer(extra: bytes, connections: list[int]) -> None:
    # A part of a head is dropped with the parser each request gets; a whole answer retires the connection.
    async def handler(request: Received, peer: Peer) -> None:
        if request.target == "/first":
            peer.write(response(body=b"ok") + extra)  # more than Content-Length promised
        else:
            await echo(request, peer)

    async def main() -> None:
        async with serve(handler) as server, pooled() as transport:
            first = await fetch(transport, server.url("/first"))
            second = await fetch(transport, server.url("/second"))
            assert (first.content, second.content) == (b"ok", b"%d GET /second" % connections[1])
            assert [r.conn for r in server.received] == connections

    run(main)


def test_a_cancelled_request_closes_its_connection() -> None:
    async def handler(request: Received, peer: Peer) -> None:
        await (no_answer(request, peer) if request.target == "/slow" else echo(request, peer))

    async def main() -> None:
        async with serve(handler) as server, pooled() as transport:
            task = asyncio.create_task(fetch(transport, server.url("/slow")))
            await until(lambda: len(server.received) == 1, "the request")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await until(lambda: server.eof == {1}, "the connection closed")
            assert (await fetch(transport, server.url("/next"))).content == b"2 GET /next"

    run(main)


# --- bodies closed early -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "partial",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n",
    ],
    ids=["content-length", "chunked"],
)
def test_a_response_closed_before_its_end_closes_the_connection(partial: bytes) -> None:
    async def handler(request: Received, peer: Peer) -> None:
        await (echo(request, peer) if request.target == "/next" else answer(partial)(request, peer))

    async def main() -> None:
        async with serve(handler) as server, pooled() as transport:
            request = httpx.Request("GET", server.url("/partial"), extensions={"timeout": TIMEOUTS})
            unfinished = await transport.handle_async_request(request)
            async for chunk in unfinished.aiter_raw():
                assert chunk == b"12345"
                break
            await unfinished.aclose()
            await until(lambda: server.eof == {1}, "the connection closed")
            assert (await fetch(transport, server.url("/next"))).content == b"2 GET /next"

    run(main)


@pytest.mark.parametrize(
    ("method", "raw"),
    [
        ("GET", response(304, headers=('ETag: "v1"',), reason="Not Modified")),
        ("GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n"),
        ("GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
    ],
    ids=["304", "304-with-length", "204", "HEAD"],
)
def test_a_response_without_body_closed_unread_keeps_its_connection(method: str, raw: bytes) -> None:
    async def main() -> None:
        async with serve(answer(raw)) as server, pooled() as transport:
            for _ in range(3):
                request = httpx.Request(method, server.url(), extensions={"timeout": TIMEOUTS})
                await (await transport.handle_async_request(request)).aclose()
            assert server.accepted == 1

    run(main)


def test_a_closed_body_cannot_be_read_and_closing_twice_is_harmless() -> None:
    async def main() -> None:
        async with serve(echo) as server, pooled() as transport:
            request = httpx.Request("GET", server.url(), extensions={"timeout": TIMEOUTS})
            got = await transport.handle_async_request(request)
            assert isinstance(got.stream, httpx.AsyncByteStream)
            await got.stream.aclose()
            await got.stream.aclose()
            with pytest.raises(httpx.StreamClosed):
                async for _ in got.stream:
                    pass
            assert (await fetch(transport, server.url())).content == b"1 GET /"  # given back once, still good

    run(main)


# --- framing -------------------------------------------------------------------------------------------------------

BIG = bytes(range(256)) * 4096  # 1 MiB: many reads
BIG_CHUNKED = chunked(*[BIG[i : i + 100_000] for i in range(0, len(BIG), 100_000)])


@pytest.mark.parametrize(
    ("method", "raw", "server_closes", "status", "body", "reused"),
    [
        pytest.param("GET", response(body=b"hello"), False, 200, b"hello", True, id="content-length"),
        pytest.param("GET", response(body=BIG), False, 200, BIG, True, id="content-length-1MiB"),
        pytest.param(
            "GET",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-T: 1\r\n\r\n",
            False,
            200,
            b"hello",
            True,
            id="chunked-with-extension-and-trailer",
        ),
        pytest.param("GET", BIG_CHUNKED, False, 200, BIG, True, id="chunked-1MiB"),
        pytest.param("GET", b"HTTP/1.1 200 OK\r\n\r\nhello", True, 200, b"hello", False, id="until-close-1.1"),
        pytest.param("GET", b"HTTP/1.0 200 OK\r\n\r\nhello", True, 200, b"hello", False, id="until-close-1.0"),
        pytest.param(
            "GET", b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", False, 200, b"hello", False, id="1.0-length"
        ),
        pytest.param(
            "GET",
            response(body=b"hello", headers=("Connection: close",)),
            False,
            200,
            b"hello",
            False,
            id="connection-close",
        ),
        pytest.param(
            "GET",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + response(body=b"ok"),
            False,
            200,
            b"ok",
            True,
            id="1xx-first",
        ),
        pytest.param("GET", b"HTTP/1.1 204 No Content\r\n\r\n", False, 204, b"", True, id="204"),
        pytest.param(
            "GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", False, 304, b"", True, id="304"
        ),
        pytest.param("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", False, 200, b"", True, id="HEAD-length"),
        pytest.param(
            "HEAD", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", False, 200, b"", True, id="HEAD-chunked"
        ),
    ],
)
def test_framing(method: str, raw: bytes, server_closes: bool, status: int, body: bytes, reused: bool) -> None:
    async def main() -> None:
        async with serve(answer(raw, close=server_closes)) as server, pooled() as transport:
            for i in range(2):
                got = await fetch(transport, server.url(f"/{i}"), method)
                assert (got.status_code, got.content) == (status, body)
            assert server.accepted == (1 if reused else 2)
            if not reused and not server_closes:
                await until(lambda: 1 in server.eof, "the client to close the connection")

    run(main)


# --- errors as httpx exception types -------------------------------------------------------------------------------


def write_then(raw: bytes, then: Callable[[Peer], object]) -> Handler:
    async def handler(request: Received, peer: Peer) -> None:
        peer.write(raw)
        await asyncio.sleep(0.01)  # the bytes go out before the FIN or RST
        result = then(peer)
        if asyncio.iscoroutine(result):
            await result

    return handler


HEAD_10 = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345"
HEAD_CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n"
CLOSES = write_then(b"", Peer.close)
RESETS = write_then(b"", Peer.reset)
RESENT = (CLOSES, RESETS)


@pytest.mark.parametrize(
    ("handler", "timeouts", "errors"),
    [
        pytest.param(hang, SHORT_READ, httpx.ReadTimeout, id="never-answers"),
        pytest.param(write_then(HEAD_10, hang), SHORT_READ, httpx.ReadTimeout, id="stalls-mid-body"),
        pytest.param(write_then(HEAD_10, Peer.close), TIMEOUTS, httpx.RemoteProtocolError, id="closes-mid-body"),
        pytest.param(write_then(HEAD_CHUNKED, Peer.close), TIMEOUTS, httpx.RemoteProtocolError, id="closes-mid-chunk"),
        pytest.param(
            write_then(HEAD_10, Peer.reset),
            TIMEOUTS,
            (httpx.ReadError, httpx.RemoteProtocolError),
            id="resets-mid-body",
        ),
        pytest.param(CLOSES, TIMEOUTS, httpx.RemoteProtocolError, id="closes-before-answer"),
        pytest.param(RESETS, TIMEOUTS, httpx.ReadError, id="resets-before-answer"),
        pytest.param(answer(b"garbage\r\n\r\n"), TIMEOUTS, httpx.RemoteProtocolError, id="garbage"),
        pytest.param(answer(b"HTTP/1.1 abc OK\r\n\r\n"), TIMEOUTS, httpx.RemoteProtocolError, id="bad-status"),
        pytest.param(answer(b"HTTP/2 200\r\n\r\n"), TIMEOUTS, httpx.RemoteProtocolError, id="http-2-status-line"),
        pytest.param(
            answer(b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n"),
            TIMEOUTS,
            httpx.RemoteProtocolError,
            id="bad-content-length",
        ),
        pytest.param(
            answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            TIMEOUTS,
            httpx.RemoteProtocolError,
            id="bad-chunk-size",
        ),
        pytest.param(
            answer(b"SSH-2.0-OpenSSH_9.6\r\n", close=True), TIMEOUTS, httpx.RemoteProtocolError, id="not-http"
        ),
        pytest.param(
            write_then(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100_000, hang),
            TIMEOUTS,
            httpx.RemoteProtocolError,
            id="endless-head",
        ),
    ],
)
def test_server_failures_raise_httpx_errors(handler: Handler, timeouts: dict[str, float], errors: Any) -> None:
    resent = handler in RESENT  # a GET whose connection dropped before any answer is sent once more

    async def main() -> None:
        async with serve(handler) as server, pooled() as transport:
            with pytest.raises(errors):
                await fetch(transport, server.url(), timeouts=timeouts)
            assert server.accepted == (2 if resent else 1)

    run(main)


def test_connection_refused_is_a_connect_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]  # closed on leaving: nothing listens there any more

    async def main() -> None:
        async with pooled() as transport:
            with pytest.raises(httpx.ConnectError):
                await fetch(transport, f"http://127.0.0.1:{port}/")

    run(main)


def test_a_tls_handshake_never_answered_is_a_connect_timeout() -> None:
    async def main() -> None:
        async with serve(raw=hang) as server, pooled() as transport:
            url = server.url().replace("http:", "https:")
            with pytest.raises(httpx.ConnectTimeout):
                await fetch(transport, url, timeouts={**TIMEOUTS, "connect": 0.2})

    run(main)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/file", "ws://127.0.0.1/", "file:///etc/passwd", "http:///no-host"])
def test_unsupported_schemes_are_refused(url: str) -> None:
    async def main() -> None:
        async with pooled() as transport:
            with pytest.raises(httpx.UnsupportedProtocol):
                await transport.handle_async_request(httpx.Request("GET", url))

    run(main)


def test_a_header_that_would_inject_another_is_a_local_protocol_error() -> None:
    async def main() -> None:
        async with serve(echo) as server, pooled() as transport:
            with pytest.raises(httpx.LocalProtocolError):
                await fetch(transport, server.url(), headers={"X-Note": "a\r\nInjected: 1"})
            assert server.received == []

    run(main)


def test_a_sync_request_body_is_refused_not_sent_empty() -> None:
    async def main() -> None:
        async with serve(echo) as server, pooled() as transport:
            with pytest.raises(TypeError):
                await fetch(transport, server.url(), "POST", content=iter([b"pay", b"load"]))
            assert server.received == []

    run(main)


# --- the bounds aiohttp's parser lacks, and what the transport leaves to the fetcher ------------------------------

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        pytest.param(CONTINUE * MAX_INFORMATIONAL + response(body=b"ok"), None, id="10-1xx"),
        pytest.param(CONTINUE * (MAX_INFORMATIONAL + 1) + response(body=b"ok"), "informational (1xx)", id="11-1xx"),
        pytest.param(CONTINUE * 5000, "informational (1xx)", id="endless-1xx-at-once"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\n" + b"a: b\r\n" * (MAX_HEAD_BYTES // 6) + b"Content-Length: 2\r\n\r\nok",
            f"head over {MAX_HEAD_BYTES} bytes",
            id="head-over-64KiB",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES - 200) + b"\r\nContent-Length: 2\r\n\r\nok",
            None,
            id="one-long-header-within-64KiB",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (8 << 20) + b"\r\nContent-Length: 2\r\n\r\nok",
            f"head over {MAX_HEAD_BYTES} bytes",
            id="8MiB-header",
        ),
    ],
)
def test_the_head_and_1xx_answers_are_bounded(raw: bytes, error: str | None) -> None:
    async def main() -> None:
        async with serve(answer(raw)) as server, pooled() as transport:
            if error is None:
                assert (await fetch(transport, server.url())).content == b"ok"
                return
            with pytest.raises(httpx.RemoteProtocolError, match=re.escape(error)):
                await fetch(transport, server.url())

    run(main)


def test_an_endless_1xx_stream_ends_at_the_bound_not_at_a_timeout() -> None:
    async def trickle(request: Received, peer: Peer) -> None:
        while True:
            peer.write(CONTINUE)
            await asyncio.sleep(0.001)

    async def main() -> None:
        async with serve(trickle) as server, pooled() as transport:
            async with asyncio.timeout(DEADLINE_S):
                with pytest.raises(httpx.RemoteProtocolError, match=r"informational \(1xx\)"):
                    await fetch(transport, server.url())

    run(main)


def test_many_header_fields_within_the_head_bound_reach_the_caller() -> None:
    # The fetcher refuses more than 100 with its own message (monitor/http/fetch.py): aiohttp's 128 must not.
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + b"".join(b"X-%d: a\r\n" % n for n in range(5000)) + b"\r\n"

    async def main() -> httpx.Response:
        async with serve(answer(raw)) as server, pooled() as transport:
            return await fetch(transport, server.url())

    assert len(run(main).headers) == 5001


def test_bodies_come_undecoded_and_cookies_are_not_kept() -> None:
    packed = gzip.compress(b"hello" * 1000)
    raw = response(body=packed, headers=("Content-Encoding: gzip", "Set-Cookie: session=1; Path=/"))

    async def main() -> None:
        async with serve(answer(raw)) as server, pooled() as transport:
            first = await transport.handle_async_request(httpx.Request("GET", server.url("/a")))
            assert b"".join([chunk async for chunk in first.aiter_raw()]) == packed
            await first.aclose()
            await fetch(transport, server.url("/b"))
            assert [r.headers.get("cookie") for r in server.received] == [None, None]

    run(main)


def test_every_aiohttp_error_maps_to_an_httpx_transport_error() -> None:
    expected = {
        aiohttp.ConnectionTimeoutError: httpx.ConnectTimeout,
        aiohttp.SocketTimeoutError: httpx.ReadTimeout,
        aiohttp.ServerDisconnectedError: httpx.RemoteProtocolError,
        aiohttp.ClientPayloadError: httpx.RemoteProtocolError,
        aiohttp.ClientOSError: httpx.ReadError,
        aiohttp.ClientConnectionResetError: httpx.ReadError,
        aiohttp.NonHttpUrlClientError: httpx.UnsupportedProtocol,
    }
    for aiohttp_class, httpx_class in expected.items():
        assert type(httpx_error(aiohttp_class())) is httpx_class, aiohttp_class
    errors = {getattr(aiohttp, name) for name in aiohttp.client_exceptions.__all__}
    for error in (e for e in errors if isinstance(e, type) and issubclass(e, aiohttp.ClientError)):
        assert issubclass(next(to for source, to in MAPPING if issubclass(error, source)), httpx.TransportError)


# --- TLS -------------------------------------------------------------------------------------------------------------

OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = ministry-monitor test CA
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:localhost, IP:127.0.0.1
[other]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:other.test
"""


@dataclass(frozen=True)
class Certs:
    """A throwaway CA, a server certificate for 127.0.0.1/localhost ("leaf") and one for other.test ("other")."""

    directory: Path

    def server(self, name: str = "leaf") -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.directory / f"{name}.pem", self.directory / f"{name}.key")
        return context

    def client(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.directory / "ca.pem"))


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    directory = tmp_path_factory.mktemp("tls")
    (directory / "openssl.cnf").write_text(OPENSSL_CONFIG)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl(*"req -x509 -config openssl.cnf -extensions ca -keyout ca.key -out ca.pem -days 2".split(), *key)
    for name, serial in (("leaf", "2"), ("other", "3")):
        openssl(*f"req -new -config openssl.cnf -keyout {name}.key -out {name}.csr -subj /CN={name}".split(), *key)
        openssl(
            *f"x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -set_serial {serial} -out {name}.pem -days 2".split(),
            *f"-extfile openssl.cnf -extensions {name}".split(),
        )
    return Certs(directory)


def test_https_with_a_trusted_ca_works_and_keeps_the_connection_alive(certs: Certs) -> None:
    async def main() -> None:
        async with serve(echo, tls=certs.server()) as server, pooled(ssl_context=certs.client()) as transport:
            responses = [await fetch(transport, server.url(f"/{i}")) for i in range(3)]
            assert [r.content for r in responses] == [f"1 GET /{i}".encode() for i in range(3)]
            assert server.accepted == 1
            assert server.peers[1].writer.get_extra_info("ssl_object") is not None

    run(main)


def test_the_tls_context_is_made_at_the_first_https_connection_and_reused(certs: Certs) -> None:
    made: list[ssl.SSLContext] = []

    def tls() -> ssl.SSLContext:  # routes.py hands Transports.context, which loads the CA bundle once
        made.append(certs.client())
        return made[-1]

    async def main() -> None:
        transport = DirectTransport(tls=tls, keepalive_expiry=5.0)
        try:
            async with serve(echo) as plain:
                assert (await fetch(transport, plain.url("/plain"))).content == b"1 GET /plain"
            assert made == []  # plain http: no context, no CA bundle loaded
            async with serve(echo, tls=certs.server()) as secure, serve(echo, tls=certs.server()) as other:
                for i in range(2):
                    await fetch(transport, secure.url(f"/{i}"))
                assert len(made) == 1  # a kept-alive connection asks no more
                await fetch(transport, other.url("/other"))  # a new connection asks again
                assert secure.accepted == other.accepted == 1
                assert secure.peers[1].writer.get_extra_info("ssl_object") is not None
            assert len(made) == 2
        finally:
            await transport.aclose()

    run(main)


async def plain_http_400(peer: Peer) -> None:
    await peer.reader.read(1)
    peer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    peer.close()


@pytest.mark.parametrize("case", ["unknown-ca", "wrong-name", "plain-http-server"])
def test_a_certificate_not_trusted_for_the_host_is_a_connect_error(certs: Certs, case: str) -> None:
    client = None if case == "unknown-ca" else certs.client()  # None: the transport's default context (certifi)

    async def main() -> None:
        tls = certs.server("other" if case == "wrong-name" else "leaf")
        raw = plain_http_400 if case == "plain-http-server" else None
        async with serve(echo, raw=raw, tls=None if raw else tls) as server, pooled(ssl_context=client) as transport:
            with pytest.raises(httpx.ConnectError):
                await fetch(transport, server.url().replace("http:", "https:"))
            assert server.received == []

    run(main)


class SilentTlsServer:
    """A blocking TLS server in a thread: answers one request, then never reads again, so never answers close_notify."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(DEADLINE_S)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self.errors: list[BaseException] = []
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}/"

    def _run(self) -> None:
        try:
            conn, _ = self._listener.accept()
            with self._context.wrap_socket(conn, server_side=True) as tls:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += tls.recv(65536)
                tls.sendall(response(body=b"ok"))
                self._done.wait(DEADLINE_S * 3)
        except BaseException as exc:  # reported by __exit__
            self.errors.append(exc)

    @contextlib.contextmanager
    def running(self) -> Iterator[SilentTlsServer]:
        self._thread.start()
        try:
            yield self
        finally:
            self._done.set()
            self._thread.join()
            self._listener.close()
        assert not self.errors, self.errors


def test_aclose_does_not_wait_long_for_a_tls_server_that_never_answers_close_notify(certs: Certs) -> None:
    async def main() -> None:
        transport = direct(certs.client())
        assert (await fetch(transport, server.url)).content == b"ok"
        async with asyncio.timeout(DEADLINE_S):  # the TLS shutdown must give up well before asyncio's 30 s default
            await transport.aclose()

    with SilentTlsServer(certs.server()).running() as server:
        run(main)


# --- through httpx.AsyncClient (as webhooks use it) ------------------------------------------------------------------


def test_client_post_arrives_intact_and_the_response_is_described_right() -> None:
    body = bytes(range(256)) * 800
    raw = (
        b"HTTP/1.1 299 Fine Thanks\r\nX-Mixed-Case: v\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
        b"Content-Length: 4\r\n\r\ndone"
    )

    async def main() -> httpx.Response:
        async with serve(answer(raw)) as server:
            async with httpx.AsyncClient(transport=direct()) as client:
                got = await client.post(server.url("/hook?x=1"), content=body, headers={"Content-Type": "a/b"})
            [received] = server.received
            assert (received.method, received.target, received.body) == ("POST", "/hook?x=1", body)
            assert received.headers["content-length"] == str(len(body))
            assert "transfer-encoding" not in received.headers
            assert received.headers["content-type"] == "a/b"
            return got

    got = run(main)
    assert (got.status_code, got.reason_phrase, got.http_version) == (299, "Fine Thanks", "HTTP/1.1")
    assert got.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert (b"X-Mixed-Case", b"v") in got.headers.raw
    assert got.text == "done"


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_client_aclose_closes_the_idle_connections(certs: Certs, tls: bool) -> None:
    async def main() -> None:
        async with serve(echo, tls=certs.server() if tls else None) as server:
            client = httpx.AsyncClient(transport=direct(certs.client() if tls else None))
            for i in range(3):
                assert (await client.get(server.url(f"/{i}"))).text == f"1 GET /{i}"
            await client.aclose()
            await until(lambda: server.eof == {1}, "the client to close its connection")
            assert server.accepted == 1

    run(main)


def test_client_streams_a_chunked_response() -> None:
    async def main() -> list[bytes]:
        async with serve(answer(chunked(b"a" * 70_000, b"b" * 70_000))) as server:
            async with httpx.AsyncClient(transport=direct()) as client:
                async with client.stream("GET", server.url()) as streamed:
                    return [chunk async for chunk in streamed.aiter_raw()]

    assert b"".join(run(main)) == b"a" * 70_000 + b"b" * 70_000
