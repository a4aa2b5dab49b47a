"""The probes served by the web app (uvicorn) over real loopback sockets: routes, methods, bad requests, addresses."""

from __future__ import annotations

import asyncio

import pytest

from monitor.config import parse_config
from monitor.errors import MonitorError
from monitor.service import TEXT, parse_address
from monitor.web import StoreReader, WebServer, build_app, start_web_server

ROUTES = {
    "/healthz": lambda: (200, TEXT, b"ok\n"),
    "/readyz": lambda: (503, TEXT, b"not ready: store unreachable\n"),
}


async def start_probe_server(host: str = "127.0.0.1", port: int = 0) -> WebServer:
    """Serve the probes as the daemon does: the web app with the probe routes (no page here touches the store)."""
    config = parse_config({}, path="probes.toml", environ={})
    return await start_web_server(host, port, build_app(config, StoreReader(config.database), probes=ROUTES))


async def exchange(raw: bytes) -> bytes:
    """Start a server, send `raw` on one connection, return everything it answers before closing."""
    server = await start_probe_server()
    try:
        reader, writer = await asyncio.open_connection(*server.address)
        writer.write(raw)
        answer = await reader.read()
        writer.close()
        await writer.wait_closed()
        return answer
    finally:
        await server.close()


def request(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = asyncio.run(exchange(raw)).partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = {name.title(): value for name, value in (line.split(": ", 1) for line in lines)}
    return status, headers, body


def test_a_route_answers_and_closes_the_connection() -> None:
    status, headers, body = request(b"GET /healthz?probe=1 HTTP/1.1\r\nHost: x\r\n\r\n")

    assert status == "HTTP/1.1 200 OK"
    assert body == b"ok\n"
    assert headers["Content-Length"] == "3" and headers["Connection"] == "close"
    assert headers["Content-Type"] == "text/plain; charset=utf-8"


def test_a_failing_probe_is_a_503_with_its_reason() -> None:
    status, _, body = request(b"GET /readyz HTTP/1.0\r\n\r\n")

    assert status == "HTTP/1.1 503 Service Unavailable"
    assert body == b"not ready: store unreachable\n"


def test_head_has_headers_but_no_body() -> None:
    status, headers, body = request(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")

    assert status == "HTTP/1.1 200 OK" and headers["Content-Length"] == "3" and body == b""


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 Not Found"),
        (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"),
        (b"hello\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (b"GET /healthz HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"),  # HTTP/1.1 without Host (h11 is strict)
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 101 + b"\r\n", "HTTP/1.1 400 Bad Request"),
        (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (b"GET /healthz HTTP/1.1\r\n", ""),  # hangs up before the end of the headers: closed, no answer
    ],
)
def test_bad_requests_get_an_error_status(raw: bytes, status: str) -> None:
    async def send_and_hang_up() -> bytes:
        server = await start_probe_server()
        try:
            reader, writer = await asyncio.open_connection(*server.address)
            writer.write(raw)
            writer.write_eof()
            answer = await reader.read()
            writer.close()
            await writer.wait_closed()
            return answer
        finally:
            await server.close()

    answer = asyncio.run(send_and_hang_up())

    assert answer.split(b"\r\n", 1)[0].decode() == status


def test_a_port_in_use_is_a_clear_error() -> None:
    async def bind_twice() -> None:
        first = await start_probe_server()
        try:
            await start_probe_server(*first.address)
        finally:
            await first.close()

    with pytest.raises(MonitorError, match=r"cannot listen on 127\.0\.0\.1:\d+ for --http"):
        asyncio.run(bind_twice())


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("8787", ("127.0.0.1", 8787)),
        (":9000", ("127.0.0.1", 9000)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("0.0.0.0:8787", ("0.0.0.0", 8787)),
        ("[::1]:8787", ("::1", 8787)),
    ],
)
def test_listen_addresses(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["", "host:", "127.0.0.1:http", "127.0.0.1:70000"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(ValueError, match="not a listen address"):
        parse_address(text)
