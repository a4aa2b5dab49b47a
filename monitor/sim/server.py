"""Serve a SimSite (monitor.sim.site) over HTTP/1.1 on loopback: one threaded listener per address.

The request handler acts on "delay" and "reset" faults itself, sends what SimSite.plan_reply planned, and logs
each request through SimSite.begin_request / end_request. Given a server TLS context, it serves HTTPS instead (the
handshake runs in the connection's own thread, so a client that refuses the certificate stalls nothing else).
"""

from __future__ import annotations

import ipaddress
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from monitor.sim.site import Fault, Reply, RequestRecord, SimSite

__all__ = ["SimServer"]

_FILLER = b"<p>filler filler filler filler filler filler filler filler filler filler filler filler</p>\n"
_IO_CHUNK = 64 * 1024


@dataclass
class _Pending:
    """The request being answered, until it is logged."""

    host: str
    path: str
    method: str
    started: float
    headers: dict[str, str]
    status: int = 0

    def record(self, ended: float) -> RequestRecord:
        conditional = "if-none-match" in self.headers or "if-modified-since" in self.headers
        return RequestRecord(
            self.host, self.path, self.method, self.status, conditional, self.started, ended, self.headers
        )


def _host_of(header: str | None, default: str) -> str:
    if not header:
        return default
    value = header.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] or value
    return value.rsplit(":", 1)[0]


def _piece_size(reply: Reply) -> int:
    total = reply.filler or len(reply.body)
    size = -(-total // reply.pieces) if reply.spread else total
    return max(1, min(size, _IO_CHUNK) if reply.filler else size)


def _body_pieces(reply: Reply, size: int) -> Iterator[bytes]:
    total = reply.filler or len(reply.body)
    block = (_FILLER * (size // len(_FILLER) + 1))[:size] if reply.filler else b""
    for start in range(0, total, size):
        end = min(total, start + size)
        yield block[: end - start] if reply.filler else reply.body[start:end]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SimSite/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 30.0  # idle keep-alive connections are dropped after this
    server: _Listener
    _pending: _Pending | None = None  # the request being answered, until it is logged

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self, method: str) -> None:
        host = _host_of(self.headers.get("Host"), self.server.host)
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._pending = _Pending(host, self.path, method, time.monotonic(), headers)
        faults = self.server.site.begin_request(host, self.path)
        try:
            self._respond(method, host, headers, faults)
        finally:
            self._commit()

    def _commit(self) -> None:
        """Log the request and leave the in-flight count; done before the response's last byte is sent."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self.server.site.end_request(pending.record(time.monotonic()))

    def _respond(self, method: str, host: str, headers: Mapping[str, str], faults: Mapping[str, Fault]) -> None:
        if "delay" in faults and self.server.stop_event.wait(float(faults["delay"].params["seconds"])):
            raise ConnectionAbortedError("simulator stopping")  # drop the connection without answering
        if "reset" in faults:
            self._reset()
            return
        reply = self.server.site.plan_reply(host, self.path, headers, faults)
        if self._pending is not None:
            self._pending.status = reply.status
        self._send(reply, method)

    def _reset(self) -> None:
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.server.mark_reset(self.connection)

    def _send(self, reply: Reply, method: str) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        no_body = method == "HEAD" or reply.status in (204, 304) or 100 <= reply.status < 200
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif reply.status != 304:
            self.send_header("Content-Length", str(reply.filler or len(reply.body)))
        if no_body or not (reply.chunked or reply.filler or reply.body):
            self._commit()
            self.end_headers()
            return
        self.end_headers()
        self._write_body(reply)

    def _write_body(self, reply: Reply) -> None:
        size = _piece_size(reply)
        pause = reply.spread / max(1, -(-(reply.filler or len(reply.body)) // size))
        held = b""  # the last piece is held back until the request is committed to the log
        for piece in _body_pieces(reply, size):
            if held:
                self.wfile.write(held)
            if pause and self.server.stop_event.wait(pause):
                raise ConnectionAbortedError("simulator stopping")
            held = b"%x\r\n%s\r\n" % (len(piece), piece) if reply.chunked else piece
        self._commit()
        self.wfile.write(held + (b"0\r\n\r\n" if reply.chunked else b""))


class _Listener(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    request_queue_size = 256

    def __init__(
        self, address: tuple[str, int], site: SimSite, stop_event: threading.Event, tls: ssl.SSLContext | None = None
    ) -> None:
        self.tls = tls
        self.site = site
        self.stop_event = stop_event
        self.host = address[0]
        self._conn_lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._resets: set[socket.socket] = set()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's getfqdn() reverse-DNS lookup
        self.server_name, self.server_port = self.host, self.server_address[1]
        if self.tls is not None:  # accepted sockets do the handshake on their first read, in their own thread
            self.socket = self.tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def mark_reset(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._resets.add(conn)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._conns.discard(request)
            reset = request in self._resets
            self._resets.discard(request)
        if reset:
            self.close_request(request)  # no shutdown(SHUT_WR): with SO_LINGER 0 close() sends RST, not FIN
        else:
            super().shutdown_request(request)

    def abort_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # client went away mid-response, or we are stopping
        super().handle_error(request, client_address)


class SimServer:
    """Serves a SimSite over HTTP/1.1 on one loopback listener per address in `hosts` (same port if possible)."""

    def __init__(
        self,
        site: SimSite,
        hosts: Sequence[str] = ("127.0.0.1",),
        port: int = 0,
        *,
        public: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`public=True` allows IPv4 addresses other than loopback ones (e.g. 0.0.0.0), for a person who asks.

        `tls` (a server-side context holding the site's certificate) serves HTTPS.
        """
        if not hosts:
            raise ValueError("hosts must name at least one loopback address")
        for h in hosts:
            address = ipaddress.ip_address(h)
            if not address.is_loopback and not (public and address.version == 4):
                raise ValueError(f"SimServer binds to loopback addresses only, not {h!r}")
        self.site = site
        self._tls = tls
        self._hosts = [str(h) for h in hosts]
        self._want_port = port
        self._stop_event = threading.Event()
        self._listeners: dict[str, _Listener] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> SimServer:
        if self._listeners:
            raise RuntimeError("SimServer already started")
        self._stop_event.clear()
        try:
            for h in self._hosts:
                self._listeners[h] = self._bind(h)
        except BaseException:
            self._close_listeners()
            raise
        for h, listener in self._listeners.items():
            t = threading.Thread(target=listener.serve_forever, args=(0.05,), name=f"SimServer-{h}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _bind(self, host: str) -> _Listener:
        port = self._want_port or (self.port if self._listeners else 0)
        try:
            return _Listener((host, port), self.site, self._stop_event, self._tls)
        except OSError:
            if self._want_port or not self._listeners:
                raise
            return _Listener((host, 0), self.site, self._stop_event, self._tls)

    def stop(self) -> None:
        """Stop accepting, drop open connections (incl. idle keep-alive ones) and join every thread."""
        self._stop_event.set()
        for listener in self._listeners.values():
            listener.shutdown()
        for t in self._threads:
            t.join()
        self._threads.clear()
        self._close_listeners()

    def _close_listeners(self) -> None:
        for listener in self._listeners.values():
            listener.abort_connections()
            listener.server_close()  # joins handler threads
        self._listeners.clear()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def hosts(self) -> list[str]:
        return list(self._hosts)

    @property
    def port(self) -> int:
        """Port of the first listener (all listeners share it unless it was taken on another address)."""
        return self.port_for(self._hosts[0])

    def port_for(self, host: str) -> int:
        listener = self._listeners.get(host)
        if listener is None:
            raise ValueError(f"no running listener on {host!r}; listeners: {sorted(self._listeners)}")
        return int(listener.server_address[1])

    def base_url(self, host: str | None = None) -> str:
        """e.g. "http://127.0.0.2:PORT"; host defaults to the first address (127.0.0.1 unless hosts= says otherwise)."""
        h = host or self._hosts[0]
        return f"{'https' if self._tls else 'http'}://{h}:{self.port_for(h)}"

    def url(self, path: str, host: str | None = None) -> str:
        return self.base_url(host) + (path if path.startswith("/") else "/" + path)
