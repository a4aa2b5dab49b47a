"""Serving the web app with uvicorn inside the caller's event loop (the daemon's, or `monitor web`'s own)."""

from __future__ import annotations

import asyncio
import logging
import socket

import uvicorn
from starlette.types import ASGIApp

from monitor.errors import MonitorError

__all__ = ["MAX_REQUEST_HEAD_BYTES", "WebServer", "start_web_server"]

logger = logging.getLogger(__name__)

MAX_REQUEST_HEAD_BYTES = 8192
KEEP_ALIVE_S = 5
SHUTDOWN_GRACE_S = 5


class WebServer:
    """A running uvicorn server; `address` is where it listens (the real port when 0 was asked for)."""

    def __init__(self, server: uvicorn.Server, sock: socket.socket, ticker: asyncio.Task[None]) -> None:
        self._server = server
        self._sock = sock
        self._ticker = ticker
        name = sock.getsockname()
        self.address: tuple[str, int] = (str(name[0]), int(name[1]))

    async def close(self) -> None:
        """Stop accepting, let requests in flight finish (a few seconds at most), close."""
        self._server.should_exit = True
        await self._ticker
        await self._server.shutdown(sockets=[self._sock])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and without it
    # Nagle holds the body behind the headers until the client's delayed ACK (~40 ms a request).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise MonitorError(f"cannot listen on {host}:{port} for --http: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock


async def start_web_server(host: str, port: int, app: ASGIApp) -> WebServer:
    """Bind `host:port` and serve `app` from the running loop; raise MonitorError if the address cannot be bound."""
    sock = _bind(host, port)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        http="h11",
        ws="none",
        server_header=False,
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    ticker = asyncio.create_task(server.main_loop(), name="web-server")
    logger.debug("uvicorn serving on %s", sock.getsockname())
    return WebServer(server, sock, ticker)
