"""A forward proxy on loopback, for tests: plain HTTP forwarding, CONNECT tunnels and SOCKS5, recording each request.

Raw asyncio in a thread of its own (the CLI under test runs its own event loop). Each forwarded request goes upstream
on a new connection with `Connection: close`, and the client's connection is closed after the answer; a tunnel
(CONNECT, SOCKS5) pipes bytes both ways until either side closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["ForwardProxy", "Forwarded", "running_proxy"]


@dataclass(frozen=True)
class Forwarded:
    """One request the proxy handled: method (GET, CONNECT, SOCKS5), target (absolute URL or host:port), headers."""

    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)


class ForwardProxy:
    def __init__(self) -> None:
        self.records: list[Forwarded] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="ForwardProxy", daemon=True)

    def url(self, scheme: str = "http", userinfo: str = "") -> str:
        return f"{scheme}://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
            server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.readexactly(1)
            if first == b"\x05":
                await self._socks5(reader, writer)
            else:
                await self._http(first + await reader.readuntil(b"\r\n\r\n"), reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _http(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ")
        headers = dict(line.split(": ", 1) for line in lines if line)
        self.records.append(Forwarded(method, target, {k.lower(): v for k, v in headers.items()}))
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await _pipe_both(reader, writer, up_reader, up_writer)
            return
        parts = urlsplit(target)
        up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        kept = [
            f"{k}: {v}"
            for k, v in headers.items()
            if k.lower() not in ("proxy-authorization", "proxy-connection", "connection")
        ]
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        lines_out = [f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""]
        up_writer.write("\r\n".join(lines_out).encode("latin-1"))
        await _pipe(up_reader, writer)
        up_writer.close()

    async def _socks5(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        methods = await reader.readexactly((await reader.readexactly(1))[0])
        if 0 not in methods:
            writer.write(b"\x05\xff")
            return
        writer.write(b"\x05\x00")  # no authentication
        _version, _command, _reserved, kind = await reader.readexactly(4)
        if kind == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode("idna")
        elif kind == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        else:
            raise OSError("only IPv4 and domain names")
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        self.records.append(Forwarded("SOCKS5", f"{host}:{port}"))
        up_reader, up_writer = await asyncio.open_connection(host, port)
        writer.write(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
        await _pipe_both(reader, writer, up_reader, up_writer)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.write_eof()


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    try:
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
    finally:
        up_writer.close()


@contextlib.contextmanager
def running_proxy() -> Iterator[ForwardProxy]:
    proxy = ForwardProxy()
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
