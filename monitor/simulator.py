"""A scriptable fake "ministry site" HTTP/1.1 server on loopback, for tests, demos and benchmarks.

Pages, validators (ETag/Last-Modified -> 304), faults and a request log live in a thread-safe SimSite.
"""

from __future__ import annotations

import csv
import email.utils
import hashlib
import ipaddress
import math
import re
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "FAULT_KINDS",
    "Fault",
    "FixtureRow",
    "Page",
    "RequestRecord",
    "SimServer",
    "SimSite",
    "load_fixture_site",
]

# kind -> (required params, optional params)
_FAULT_PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "status": (frozenset({"status"}), frozenset({"body", "headers"})),
    "delay": (frozenset({"seconds"}), frozenset()),
    "reset": (frozenset(), frozenset()),
    "slow_body": (frozenset({"seconds"}), frozenset({"chunks"})),
    "oversize": (frozenset({"bytes"}), frozenset({"chunked"})),
    "charset": (frozenset({"content_type"}), frozenset()),
}
FAULT_KINDS: frozenset[str] = frozenset(_FAULT_PARAMS)
_FILLER = b"<p>filler filler filler filler filler filler filler filler filler filler filler filler</p>\n"
_IO_CHUNK = 64 * 1024
_NOT_FOUND = b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n"


@dataclass(frozen=True)
class Page:
    """One stored response. `etag`/`last_modified` (epoch seconds) are None when validators are off."""

    path: str
    host: str | None
    body: bytes
    status: int = 200
    content_type: str = "text/html"
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: float | None = None

    @property
    def last_modified_http(self) -> str | None:
        if self.last_modified is None:
            return None
        return email.utils.formatdate(self.last_modified, usegmt=True)


@dataclass(frozen=True)
class RequestRecord:
    """One handled request. status is 0 for a "reset" fault (no response sent); header names are lower-case."""

    host: str
    path: str
    method: str
    status: int
    conditional: bool
    started: float
    ended: float
    headers: dict[str, str]


@dataclass
class Fault:
    """A scripted misbehaviour for (host, path); path "*" matches every path, host None every host."""

    path: str
    kind: str
    host: str | None
    remaining: int | None
    params: dict[str, Any]

    def matches(self, host: str, path: str) -> bool:
        return (self.path == "*" or self.path == path) and (self.host is None or self.host == host)


@dataclass
class _Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    filler: int = 0
    chunked: bool = False
    spread: float = 0.0
    pieces: int = 10

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()] + [(name, value)]


@dataclass
class _Pending:
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


def _etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip() for t in header.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


def _not_modified_since(header: str, last_modified: float) -> bool:
    try:
        since = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        return False
    return since.timestamp() >= math.floor(last_modified)


def _is_not_modified(page: Page, request_headers: Mapping[str, str]) -> bool:
    """RFC 9110 13.2.2: If-None-Match wins over If-Modified-Since."""
    inm = request_headers.get("if-none-match")
    if inm is not None:
        return page.etag is not None and _etag_matches(inm, page.etag)
    ims = request_headers.get("if-modified-since")
    return ims is not None and page.last_modified is not None and _not_modified_since(ims, page.last_modified)


class SimSite:
    """Thread-safe store of pages keyed by (host, path), plus scripted faults and a request log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: dict[tuple[str | None, str], Page] = {}
        self._faults: list[Fault] = []
        self._requests: list[RequestRecord] = []
        self._in_flight: dict[str, int] = {}
        self._max_in_flight: dict[str, int] = {}

    # -- pages ---------------------------------------------------------------------------------------
    def put(
        self,
        path: str,
        body: bytes,
        *,
        host: str | None = None,
        status: int = 200,
        content_type: str = "text/html",
        headers: Mapping[str, str] | None = None,
        validators: bool = True,
        last_modified: float | None = None,
    ) -> Page:
        """Store a page. Re-putting bumps Last-Modified by >= 1 s so If-Modified-Since clients see the change."""
        key = (_norm_host(host), path)
        with self._lock:
            stamp: float | None = None
            if validators:
                stamp = time.time() if last_modified is None else last_modified
                prev = self._pages.get(key)
                if last_modified is None and prev is not None and prev.last_modified is not None:
                    stamp = max(stamp, math.floor(prev.last_modified) + 1.0)
            page = Page(
                path=path,
                host=key[0],
                body=bytes(body),
                status=status,
                content_type=content_type,
                headers=dict(headers or {}),
                etag=_etag_for(body) if validators else None,
                last_modified=stamp,
            )
            self._pages[key] = page
        return page

    def remove(self, path: str, host: str | None = None) -> None:
        with self._lock:
            self._pages.pop((_norm_host(host), path), None)

    def redirect(self, path: str, location: str, status: int = 302, host: str | None = None) -> Page:
        body = f'<html><body><a href="{location}">moved</a></body></html>\n'.encode()
        return self.put(path, body, host=host, status=status, headers={"Location": location}, validators=False)

    def get(self, path: str, host: str | None = None) -> Page | None:
        """The page a request for `path` on `host` would get: the host's own page, else the any-host one."""
        with self._lock:
            return self._lookup(_norm_host(host), path)

    def _lookup(self, host: str | None, path: str) -> Page | None:
        page = self._pages.get((host, path)) if host is not None else None
        return page if page is not None else self._pages.get((None, path))

    # -- faults --------------------------------------------------------------------------------------
    def fault(self, path: str, kind: str, *, times: int | None = None, host: str | None = None, **params: Any) -> Fault:
        """Script a fault for the next `times` matching requests (None = forever).

        Several faults may hit one request (e.g. "delay" on "*" plus "status" on a path); of several faults of
        the same kind, the earliest registered applies, so `times` lets you script a sequence.
        """
        if kind not in _FAULT_PARAMS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        required, optional = _FAULT_PARAMS[kind]
        missing, unknown = required - params.keys(), params.keys() - required - optional
        if missing or unknown:
            raise TypeError(f"fault {kind!r}: missing params {sorted(missing)}, unknown params {sorted(unknown)}")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        new = Fault(path=path, kind=kind, host=_norm_host(host), remaining=times, params=dict(params))
        with self._lock:
            self._faults.append(new)
        return new

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_faults(self, host: str, path: str) -> dict[str, Fault]:
        taken: dict[str, Fault] = {}
        with self._lock:
            for f in self._faults:
                if f.kind in taken or not f.matches(host, path):
                    continue
                taken[f.kind] = f
                if f.remaining is not None:
                    f.remaining -= 1
            self._faults = [f for f in self._faults if f.remaining is None or f.remaining > 0]
        return taken

    # -- request log ---------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str, host: str | None = None) -> list[RequestRecord]:
        h = _norm_host(host)
        return [r for r in self.requests if r.path == path and (h is None or r.host == h)]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._max_in_flight = dict(self._in_flight)

    def max_concurrency(self, host: str = "127.0.0.1") -> int:
        """Most requests for `host` that were in flight at the same time (since start or clear_requests)."""
        with self._lock:
            return self._max_in_flight.get(_norm_host(host) or "", 0)

    def _begin(self, host: str) -> None:
        with self._lock:
            n = self._in_flight.get(host, 0) + 1
            self._in_flight[host] = n
            self._max_in_flight[host] = max(n, self._max_in_flight.get(host, 0))

    def _end(self, record: RequestRecord) -> None:
        with self._lock:
            self._in_flight[record.host] -= 1
            self._requests.append(record)

    # -- response planning ---------------------------------------------------------------------------
    def _plan(self, host: str, path: str, request_headers: Mapping[str, str], faults: Mapping[str, Fault]) -> _Reply:
        if "status" in faults:
            reply = _status_reply(faults["status"].params)
        elif "oversize" in faults:
            reply = _oversize_reply(faults["oversize"].params, self.get(path, host))
        else:
            reply = _page_reply(self.get(path, host), request_headers)
        if "charset" in faults:
            reply.set_header("Content-Type", str(faults["charset"].params["content_type"]))
        if "slow_body" in faults:
            reply.spread = float(faults["slow_body"].params["seconds"])
            reply.pieces = max(1, int(faults["slow_body"].params.get("chunks", 10)))
        return reply


def _norm_host(host: str | None) -> str | None:
    return None if host is None else host.strip().lower()


def _status_reply(params: Mapping[str, Any]) -> _Reply:
    headers = {"Content-Type": "text/html", **dict(params.get("headers") or {})}
    return _Reply(int(params["status"]), list(headers.items()), body=bytes(params.get("body", b"")))


def _oversize_reply(params: Mapping[str, Any], page: Page | None) -> _Reply:
    content_type = page.content_type if page is not None else "text/html"
    return _Reply(
        200, [("Content-Type", content_type)], filler=int(params["bytes"]), chunked=bool(params.get("chunked"))
    )


def _page_reply(page: Page | None, request_headers: Mapping[str, str]) -> _Reply:
    if page is None:
        return _Reply(404, [("Content-Type", "text/html; charset=utf-8")], body=_NOT_FOUND)
    headers = [("Content-Type", page.content_type), *page.headers.items()]
    if page.etag is not None:
        headers.append(("ETag", page.etag))
    lm = page.last_modified_http
    if lm is not None:
        headers.append(("Last-Modified", lm))
    if page.status == 200 and _is_not_modified(page, request_headers):
        return _Reply(304, [h for h in headers if h[0] in ("ETag", "Last-Modified")])
    return _Reply(page.status, headers, body=page.body)


def _host_of(header: str | None, default: str) -> str:
    if not header:
        return default
    value = header.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] or value
    return value.rsplit(":", 1)[0]


def _piece_size(reply: _Reply) -> int:
    total = reply.filler or len(reply.body)
    size = -(-total // reply.pieces) if reply.spread else total
    return max(1, min(size, _IO_CHUNK) if reply.filler else size)


def _body_pieces(reply: _Reply, size: int) -> Iterator[bytes]:
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
        self.server.site._begin(host)
        try:
            self._respond(method, host, headers)
        finally:
            self._commit()

    def _commit(self) -> None:
        """Log the request and leave the in-flight count; done before the response's last byte is sent."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self.server.site._end(pending.record(time.monotonic()))

    def _respond(self, method: str, host: str, headers: Mapping[str, str]) -> None:
        faults = self.server.site._take_faults(host, self.path)
        if "delay" in faults and self.server.stop_event.wait(float(faults["delay"].params["seconds"])):
            raise ConnectionAbortedError("simulator stopping")  # drop the connection without answering
        if "reset" in faults:
            self._reset()
            return
        reply = self.server.site._plan(host, self.path, headers, faults)
        if self._pending is not None:
            self._pending.status = reply.status
        self._send(reply, method)

    def _reset(self) -> None:
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.server.mark_reset(self.connection)

    def _send(self, reply: _Reply, method: str) -> None:
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

    def _write_body(self, reply: _Reply) -> None:
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

    def __init__(self, address: tuple[str, int], site: SimSite, stop_event: threading.Event) -> None:
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

    def __init__(self, site: SimSite, hosts: Sequence[str] = ("127.0.0.1",), port: int = 0) -> None:
        if not hosts:
            raise ValueError("hosts must name at least one loopback address")
        for h in hosts:
            if not ipaddress.ip_address(h).is_loopback:
                raise ValueError(f"SimServer binds to loopback addresses only, not {h!r}")
        self.site = site
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
            return _Listener((host, port), self.site, self._stop_event)
        except OSError:
            if self._want_port or not self._listeners:
                raise
            return _Listener((host, 0), self.site, self._stop_event)

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
        return f"http://{h}:{self.port_for(h)}"

    def url(self, path: str, host: str | None = None) -> str:
        return self.base_url(host) + (path if path.startswith("/") else "/" + path)


# -- fixtures ----------------------------------------------------------------------------------------
_SOURCES_COLUMNS = ["file", "url", "repo", "path_in_repo", "commit", "kind", "notes"]
_DATE_IN_NAME = re.compile(r"\d{4}-\d{2}(?:-\d{2})?")


@dataclass(frozen=True)
class FixtureRow:
    """One SOURCES.tsv row. `path` is the URL's path+query; `paths` adds the directory alias of a default.shtml."""

    file: str
    url: str
    path: str
    kind: str
    notes: str
    fixtures_dir: Path

    @property
    def paths(self) -> tuple[str, ...]:
        plain = self.path.split("?", 1)[0]
        if self.kind == "listing" and plain.endswith("/default.shtml") and "?" not in self.path:
            return (self.path, plain.removesuffix("default.shtml"))
        return (self.path,)

    @property
    def snapshot(self) -> str:
        """The date in the file name ("2023-06-02", "2019-08"), or "" if none."""
        found = _DATE_IN_NAME.findall(Path(self.file).name)
        return found[-1] if found else ""

    def body(self) -> bytes:
        return (self.fixtures_dir / self.file).read_bytes()

    def install(self, site: SimSite, host: str | None = None) -> None:
        """Serve this snapshot at all its paths (use it to swap a newer snapshot in), as text/html without charset."""
        data = self.body()
        for p in self.paths:
            site.put(p, data, host=host, content_type="text/html")


def _url_path(url: str) -> str:
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"


def _read_sources(fixtures_dir: Path) -> list[FixtureRow]:
    with (fixtures_dir / "SOURCES.tsv").open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        if header != _SOURCES_COLUMNS:
            raise ValueError(f"unexpected SOURCES.tsv header {header!r}")
        rows = []
        for cells in reader:
            if not cells:
                continue
            rec = dict(zip(header, cells, strict=True))
            rows.append(
                FixtureRow(rec["file"], rec["url"], _url_path(rec["url"]), rec["kind"], rec["notes"], fixtures_dir)
            )
    return rows


def load_fixture_site(
    site: SimSite,
    fixtures_dir: str | Path,
    host: str | None = None,
    include: Callable[[FixtureRow], bool] | None = None,
) -> dict[str, FixtureRow]:
    """Serve every SOURCES.tsv file at its original path+query; returns all rows keyed by file name.

    When several snapshots share a URL, the oldest (by the date in the file name, then file order) is served;
    call `rows[newer_file].install(site)` to swap a newer one in.
    """
    rows = _read_sources(Path(fixtures_dir))
    if include is not None:
        rows = [r for r in rows if include(r)]
    oldest: dict[str, FixtureRow] = {}
    for row in reversed(sorted(rows, key=lambda r: r.snapshot)):  # newest first, so the oldest is written last
        oldest[row.path] = row
    for row in oldest.values():
        row.install(site, host)
    return {r.file: r for r in rows}
