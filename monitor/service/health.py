"""A tiny HTTP/1.1 server for probes and scrapes (`/healthz`, `/readyz`, `/metrics`), on 127.0.0.1 by default.

Each route is a plain function returning (status, content type, body); every answer closes its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from monitor.errors import MonitorError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "TEXT",
    "Response",
    "Route",
    "bound_address",
    "parse_address",
    "start_health_server",
]

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
REQUEST_TIMEOUT_S = 5.0
MAX_LINE_BYTES = 8192
MAX_HEADERS = 100
TEXT = "text/plain; charset=utf-8"
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}

Response = tuple[int, str, bytes]
Route = Callable[[], Response]


def parse_address(text: str) -> tuple[str, int]:
    """Parse `PORT`, `HOST:PORT` or `[IPv6]:PORT`; a bare port binds 127.0.0.1. Raise ValueError otherwise."""
    host, colon, port = text.rpartition(":")
    if not colon:
        host, port = DEFAULT_HOST, text
    host = host.removeprefix("[").removesuffix("]") or DEFAULT_HOST
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not a listen address like 127.0.0.1:8787")
    return host, int(port)


async def start_health_server(host: str, port: int, routes: Mapping[str, Route]) -> asyncio.Server:
    """Start serving the routes; raise MonitorError if the address cannot be bound."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve(reader, writer, routes)

    try:
        return await asyncio.start_server(handle, host, port, limit=MAX_LINE_BYTES)
    except OSError as exc:
        raise MonitorError(f"cannot listen on {host}:{port} for --http: {exc.strerror or exc}") from exc


def bound_address(server: asyncio.Server) -> tuple[str, int]:
    """Return the (host, port) the server listens on (the port is real even when 0 was asked for)."""
    sockname = server.sockets[0].getsockname()
    return str(sockname[0]), int(sockname[1])


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, routes: Mapping[str, Route]) -> None:
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            method, path = await _read_request(reader)
        status, content_type, body = _answer(method, path, routes)
    except (ValueError, asyncio.LimitOverrunError, asyncio.IncompleteReadError, TimeoutError):
        method, (status, content_type, body) = "GET", (400, TEXT, b"bad request\n")
    except ConnectionError:
        writer.close()
        return
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n"
    )
    if status == 405:
        head += "Allow: GET, HEAD\r\n"
    writer.write(head.encode("ascii") + b"\r\n" + (b"" if method == "HEAD" else body))
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str]:
    """Return the method and path of one request, after reading (and ignoring) its headers."""
    line = (await reader.readuntil(b"\r\n")).decode("latin-1").split()
    if len(line) != 3 or not line[2].startswith("HTTP/"):
        raise ValueError("malformed request line")
    for _ in range(MAX_HEADERS):
        if await reader.readuntil(b"\r\n") == b"\r\n":
            return line[0], line[1].split("?", 1)[0]
    raise ValueError("too many headers")


def _answer(method: str, path: str, routes: Mapping[str, Route]) -> Response:
    route = routes.get(path)
    if route is None:
        return 404, TEXT, b"not found\n"
    if method not in ("GET", "HEAD"):
        return 405, TEXT, b"method not allowed\n"
    return route()
