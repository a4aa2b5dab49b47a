"""The fake "ministry site" model for tests, demos and benchmarks: a thread-safe SimSite of pages, validators
(ETag/Last-Modified -> 304), scripted faults and a request log, which plans the reply to each request.

monitor.sim.server serves a SimSite over HTTP/1.1 on loopback; monitor.sim.fixtures loads the saved real pages into one.
"""

from __future__ import annotations

import email.utils
import hashlib
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FAULT_KINDS",
    "Fault",
    "Page",
    "RequestRecord",
    "SimSite",
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
class Reply:
    """The planned response to one request, for monitor.sim.server to send (package-internal, not in __all__).

    `filler` > 0 sends that many filler bytes instead of `body`; `chunked` uses Transfer-Encoding: chunked instead
    of Content-Length; `spread` > 0 spreads the body over that many seconds, in `pieces` writes.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    filler: int = 0
    chunked: bool = False
    spread: float = 0.0
    pieces: int = 10

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()] + [(name, value)]


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
        """Consume the faults matching (host, path): the earliest registered of each kind, one use each."""
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

    def take_requests(self) -> list[RequestRecord]:
        """Return the logged requests and empty the log in one step (a long-running server calls this to count)."""
        with self._lock:
            taken, self._requests = self._requests, []
        return taken

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._max_in_flight = dict(self._in_flight)

    def max_concurrency(self, host: str = "127.0.0.1") -> int:
        """Most requests for `host` that were in flight at the same time (since start or clear_requests)."""
        with self._lock:
            return self._max_in_flight.get(_norm_host(host) or "", 0)

    # -- serving interface (for monitor.sim.server) ----------------------------------------------------
    # A server calls begin_request when a request arrives, acts on its "delay" and "reset" faults itself, asks
    # plan_reply for everything else, and calls end_request exactly once per begin_request.
    def begin_request(self, host: str, path: str) -> dict[str, Fault]:
        """Count a request to `host` as in flight and consume the faults that match it (at most one per kind)."""
        with self._lock:
            n = self._in_flight.get(host, 0) + 1
            self._in_flight[host] = n
            self._max_in_flight[host] = max(n, self._max_in_flight.get(host, 0))
        return self._take_faults(host, path)

    def plan_reply(
        self, host: str, path: str, request_headers: Mapping[str, str], faults: Mapping[str, Fault]
    ) -> Reply:
        """The reply to send: the page (or 404, or 304 when the validators match) shaped by the taken faults.

        Applies "status", "oversize", "charset" and "slow_body"; "delay" and "reset" are the server's to act on.
        `request_headers` must have lower-case names.
        """
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

    def end_request(self, record: RequestRecord) -> None:
        """Log a finished request and take it out of the in-flight count of `record.host`."""
        with self._lock:
            self._in_flight[record.host] -= 1
            self._requests.append(record)


def _norm_host(host: str | None) -> str | None:
    return None if host is None else host.strip().lower()


def _status_reply(params: Mapping[str, Any]) -> Reply:
    headers = {"Content-Type": "text/html", **dict(params.get("headers") or {})}
    return Reply(int(params["status"]), list(headers.items()), body=bytes(params.get("body", b"")))


def _oversize_reply(params: Mapping[str, Any], page: Page | None) -> Reply:
    content_type = page.content_type if page is not None else "text/html"
    return Reply(
        200, [("Content-Type", content_type)], filler=int(params["bytes"]), chunked=bool(params.get("chunked"))
    )


def _page_reply(page: Page | None, request_headers: Mapping[str, str]) -> Reply:
    if page is None:
        return Reply(404, [("Content-Type", "text/html; charset=utf-8")], body=_NOT_FOUND)
    headers = [("Content-Type", page.content_type), *page.headers.items()]
    if page.etag is not None:
        headers.append(("ETag", page.etag))
    lm = page.last_modified_http
    if lm is not None:
        headers.append(("Last-Modified", lm))
    if page.status == 200 and _is_not_modified(page, request_headers):
        return Reply(304, [h for h in headers if h[0] in ("ETag", "Last-Modified")])
    return Reply(page.status, headers, body=page.body)
