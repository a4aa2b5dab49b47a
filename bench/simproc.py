"""Serve the benchmark site from its own process, so the server's CPU is never counted against the client measured.

The parent talks to it over a multiprocessing Pipe: publish new articles, read and clear the request statistics.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from bench.site import Layout, build_site, publish
from monitor.sim import SimServer, SimSite

__all__ = ["SimProcess"]

_START_TIMEOUT_S = 600.0


def _stats(site: SimSite, clear: bool) -> dict[str, Any]:
    records = site.requests
    if clear:
        site.clear_requests()
    statuses = Counter(r.status for r in records)
    return {
        "requests": len(records),
        "not_modified": statuses.get(304, 0),
        "ok": statuses.get(200, 0),
        "robots": sum(1 for r in records if r.path == "/robots.txt"),
        "conditional": sum(1 for r in records if r.conditional),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "paths_200": sorted(r.path for r in records if r.status == 200 and r.path != "/robots.txt"),
        "first_started": _first_started(records),
    }


def _first_started(records: list[Any]) -> dict[str, float]:
    """Return when (time.monotonic(), shared by every process on the machine) each path was first asked for."""
    first: dict[str, float] = {}
    for record in records:
        first[record.path] = min(first.get(record.path, record.started), record.started)
    return first


def _serve(conn: Connection, layout: Layout, port: int) -> None:
    site = SimSite()
    newest = build_site(site, layout)
    with SimServer(site, hosts=layout.hosts, port=port) as server:
        conn.send({host: server.base_url(host) for host in layout.hosts})
        while True:
            command, argument = conn.recv()
            if command == "stop":
                break
            if command == "publish":
                conn.send(publish(site, layout, newest, argument))
            elif command == "stats":
                conn.send(_stats(site, bool(argument)))
            else:
                conn.send(ValueError(f"unknown command {command!r}"))
    conn.send("stopped")


class SimProcess:
    """The benchmark site served on loopback by a child process; use as a context manager."""

    def __init__(self, layout: Layout, port: int = 0) -> None:
        self.layout = layout
        self.bases: dict[str, str] = {}
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, layout, port), name="bench-sim", daemon=True)

    def __enter__(self) -> SimProcess:
        self._process.start()
        if not self._conn.poll(_START_TIMEOUT_S):
            self._process.kill()
            raise RuntimeError("the simulator process did not start")
        self.bases = self._conn.recv()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._conn.send(("stop", None))
            self._conn.poll(30)
        finally:
            self._process.join(30)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()

    def _call(self, command: str, argument: Any) -> Any:
        self._conn.send((command, argument))
        answer = self._conn.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def publish(self, indices: list[int]) -> list[str]:
        """Add one article to each listing in `indices`; return the new article paths."""
        result: list[str] = self._call("publish", indices)
        return result

    def stats(self, clear: bool = True) -> dict[str, Any]:
        """Return request counts since the last clear (and clear them)."""
        result: dict[str, Any] = self._call("stats", clear)
        return result

    def url(self, i: int) -> str:
        return self.bases[self.layout.host(i)] + self.layout.listing_path(i)
