"""robots.txt per RFC 9309: fetched once an hour per origin, redirects followed, failures read as the RFC says.

- 2xx: the rules, of at most the first ROBOTS_MAX_BYTES (500 KiB, the RFC's minimum; the rest is ignored).
- 3xx: followed up to five times, to any http(s) URL; more than five is "unavailable".
- 4xx: "unavailable", which allows everything.
- 5xx or unreachable: "unreachable", which disallows everything; the copy we had is kept if there is one, else
  every fetch of the origin is refused for ROBOTS_RETRY_S before robots.txt is asked for again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from monitor.config import Source
from monitor.errors import FetchError, RobotsDeniedError

__all__ = ["ROBOTS_MAX_BYTES", "RobotsCache", "RobotsRequest"]

ROBOTS_TTL_S = 3600.0
ROBOTS_RETRY_S = 300.0
ROBOTS_MAX_BYTES = 500 * 1024
ROBOTS_MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

RobotsRequest = Callable[[Source, str], Awaitable[tuple[int, str | None, bytes]]]
"""Fetch one robots URL once (no redirects), at most ROBOTS_MAX_BYTES of it; return (status, Location, body)."""


@dataclass(slots=True, frozen=True)
class _Robots:
    parser: RobotFileParser | None
    expires: float
    unreachable: str | None = None  # why everything is disallowed for now


class RobotsCache:
    """Answers "may we fetch this URL?" per origin, fetching robots.txt through `request` when it is due."""

    def __init__(self, request: RobotsRequest, user_agent: str) -> None:
        self._request = request
        self._user_agent = user_agent
        self._cache: dict[str, _Robots] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, source: Source, url: str) -> None:
        """Return if robots.txt lets our User-Agent fetch `url`; raise RobotsDeniedError if not."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        lock = self._locks.get(origin)
        if lock is None:
            lock = self._locks[origin] = asyncio.Lock()
        async with lock:
            cached = self._cache.get(origin)
            if cached is None or time.monotonic() > cached.expires:
                cached = self._cache[origin] = await self._load(source, origin, cached)
        if cached.unreachable is not None:
            message = f"{cached.unreachable} (robots.txt unreachable: everything is disallowed for now)"
            raise RobotsDeniedError(message, source_id=source.id, url=url)
        if cached.parser is not None and not cached.parser.can_fetch(self._user_agent, url):
            raise RobotsDeniedError("robots.txt disallows this URL for our User-Agent", source_id=source.id, url=url)

    async def _load(self, source: Source, origin: str, previous: _Robots | None) -> _Robots:
        now = time.monotonic()
        try:
            status, body = await self._follow(source, origin + "/robots.txt")
        except FetchError as exc:
            return _unreachable(previous, exc.reason, now)
        if status >= 500:
            return _unreachable(previous, f"robots.txt: HTTP {status}", now)
        if status >= 300:  # 4xx, or redirects without end: unavailable, which allows all
            return _Robots(None, now + ROBOTS_TTL_S)
        parser = RobotFileParser()
        parser.parse(body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace").splitlines())
        return _Robots(parser, now + ROBOTS_TTL_S)

    async def _follow(self, source: Source, url: str) -> tuple[int, bytes]:
        status, body = 310, b""
        for _hop in range(ROBOTS_MAX_REDIRECTS + 1):
            status, location, body = await self._request(source, url)
            if status not in REDIRECT_STATUSES or not location:
                return status, body
            url = urljoin(url, location)
            if urlsplit(url).scheme not in ("http", "https"):
                return 404, b""
        return 310, b""  # more than five redirects: unavailable


def _unreachable(previous: _Robots | None, reason: str, now: float) -> _Robots:
    if previous is not None and previous.unreachable is None:
        return _Robots(previous.parser, now + ROBOTS_TTL_S)  # the RFC lets a cached copy stand in
    return _Robots(None, now + ROBOTS_RETRY_S, unreachable=reason)
