"""A hostile web server of our own for tests and the bench: raw asyncio on 127.0.0.x, one misbehaviour per address.

Each `Behaviour` answers every request on its own loopback address (127.0.0.2, .3, ...), so a config can put a
hostile source and a healthy one side by side on different hosts, as on the internet.
"""

from __future__ import annotations

import asyncio
import functools
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

Handler = Callable[[str, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]

LISTING = "<html><body><h1>News</h1><ul>{items}</ul></body></html>"
ARTICLE = (
    '<html><body><h1>Article {n}</h1><div class="body"><p>Text of article {n}, long enough to read.</p></div>'
    "</body></html>"
)


def listing(urls: list[str]) -> bytes:
    """Return a listing page linking to `urls` (selector `a.news`)."""
    return LISTING.format(items="".join(f'<li><a class="news" href="{u}">item</a></li>' for u in urls)).encode()


def source_toml(source_id: str, url: str, **extra: str) -> str:
    """Return a [[sources]] table for the pages this module serves (links `a.news`, title `h1`, body `.body`)."""
    lines = "".join(f"{key} = {value}\n" for key, value in extra.items())
    return (
        f'[[sources]]\nid = "{source_id}"\nurl = "{url}"\n{lines}'
        '[sources.listing]\nlinks = "a.news"\n[sources.article]\ntitle = "h1"\nbody = ".body"\n\n'
    )


def response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """Return a whole HTTP/1.1 answer with a Content-Length."""
    head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\nContent-Type: text/html; charset=utf-8\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return (head + "\r\n").encode() + body


async def read_target(reader: asyncio.StreamReader) -> str:
    """Read one request head and return its target path ("" at EOF)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return ""
    parts = head.split(b" ", 2)
    return parts[1].decode("latin-1") if len(parts) > 1 else ""


@functools.cache
def gzip_bomb(decoded_mib: int = 1024) -> bytes:
    """Return `decoded_mib` MiB of zeros compressed twice with gzip (`Content-Encoding: gzip, gzip`).

    The inner stream is built from one fully flushed deflate block repeated, in well under a second, rather than
    by compressing a GiB; its trailer carries the true CRC and size, so it is a valid gzip member.
    """
    mib = bytes(1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    first = packer.compress(mib) + packer.flush(zlib.Z_FULL_FLUSH)  # with the gzip header
    block = packer.compress(mib) + packer.flush(zlib.Z_FULL_FLUSH)  # the same bytes for every further MiB
    crc = 0
    for _ in range(decoded_mib):
        crc = zlib.crc32(mib, crc)
    last = b"\x03\x00"  # an empty final block
    inner = first + block * (decoded_mib - 1) + last + struct.pack("<II", crc, (decoded_mib << 20) & 0xFFFFFFFF)
    outer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return outer.compress(inner) + outer.flush()


@dataclass
class Behaviour:
    """One misbehaviour, served on one address; `base` is set once the server runs."""

    name: str
    handler: Handler
    host: str = ""
    """Given, or 127.0.0.x in the order served; two behaviours may share a host on different ports."""
    port: int = 0

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class HostileServer:
    """Serves each behaviour on its own 127.0.0.x address from a background thread's event loop."""

    def __init__(self, behaviours: list[Behaviour], first_host: int = 2) -> None:
        self.behaviours = {b.name: b for b in behaviours}
        for offset, behaviour in enumerate(behaviours):
            behaviour.host = behaviour.host or f"127.0.0.{first_host + offset}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []

    def __getitem__(self, name: str) -> Behaviour:
        return self.behaviours[name]

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        for behaviour in self.behaviours.values():
            server = await asyncio.start_server(_serve(behaviour), behaviour.host, 0)
            behaviour.port = server.sockets[0].getsockname()[1]
            self._servers.append(server)

    def stop(self) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def _serve(behaviour: Behaviour) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while target := await read_target(reader):
                await behaviour.handler(target, reader, writer)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    return serve


@contextmanager
def hostile_server(behaviours: list[Behaviour], first_host: int = 2) -> Iterator[HostileServer]:
    """Run the behaviours on 127.0.0.2, .3, ... for the duration of the block."""
    server = HostileServer(behaviours, first_host)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# Behaviours. Each answers robots.txt with 404 (allow all) unless its job is robots.txt.


def healthy(articles: int | list[int] = 3) -> Handler:
    """A well-behaved site: a listing of `articles` links (a one-item list may be changed while serving)."""
    size = articles if isinstance(articles, list) else [articles]

    async def handle(target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if target == "/news/":
            writer.write(response(200, listing([f"/news/{n}.html" for n in range(size[0])])))
        elif target.startswith("/news/") and target.endswith(".html"):
            writer.write(response(200, ARTICLE.format(n=target[6:-5]).encode()))
        else:
            writer.write(response(404, b"not here"))

    return handle


def on_listing(answer: Answer) -> Handler:
    """Misbehave on the listing (/news/) only; 404 elsewhere (robots.txt included)."""

    async def handle(target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if target == "/news/":
            await answer(writer)
        else:
            writer.write(response(404, b"not here"))

    return handle


def bomb(decoded_mib: int = 1024, codings: str = "gzip, gzip") -> Answer:
    """Answer with a gzip-in-gzip bomb of `decoded_mib` MiB (built now, not while serving)."""
    body = gzip_bomb(decoded_mib)

    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(response(200, body, {"Content-Encoding": codings}))

    return answer


async def slow_body(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: text/html\r\n\r\n")
    for _ in range(100000):
        writer.write(b"<")
        await writer.drain()
        await asyncio.sleep(1)


async def slow_headers(writer: asyncio.StreamWriter) -> None:
    for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 100000:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1)


async def endless_continue(writer: asyncio.StreamWriter) -> None:
    while True:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.01)


async def huge_header(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nX-Huge: " + b"a" * (8 << 20) + b"\r\nContent-Length: 0\r\n\r\n")


async def many_headers(writer: asyncio.StreamWriter) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + b"".join(b"X-%d: a\r\n" % n for n in range(5000))
    writer.write(head + b"\r\n")


def pages(routes: dict[str, bytes]) -> Handler:
    """Serve whole answers by path (built with `response`); 404 elsewhere."""

    async def handle(target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(routes.get(target) or response(404, b"not here"))

    return handle


def hostile_listings() -> dict[str, Answer]:
    """Return one listing misbehaviour per name: the mix the tests and `python -m bench hostile` put beside a healthy
    source (the bomb is built here, in about half a second)."""
    return {
        "bomb": bomb(),
        "slow-body": slow_body,
        "slow-headers": slow_headers,
        "continue": endless_continue,
        "huge-header": huge_header,
        "many-headers": many_headers,
        "many-links": many_links(170_000),  # 9.4 MB: just under the default 10 MiB cap
    }


def many_links(count: int) -> Answer:
    """Answer with a listing of `count` links (about 55 bytes each), built now."""
    body = listing([f"/news/{n}.html" for n in range(count)])

    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(response(200, body))

    return answer
