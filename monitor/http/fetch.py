"""Fetch pages politely: one shared httpx.AsyncClient, per-host limits, robots.txt, conditional GET, retries.

httpx and tenacity are used only here (and httpx in webhooks.py); their errors leave as FetchError subclasses.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from monitor.config import HttpSettings, Source
from monitor.errors import (
    BlockedError,
    FetchDeadlineError,
    FetchError,
    FetchProtocolError,
    FetchStatusError,
    FetchTimeoutError,
    FetchTLSError,
    FetchTooLargeError,
)
from monitor.http.bounded import BodyLimitError, LayeredDecoder
from monitor.http.origin import same_site
from monitor.http.retry_after import parse_retry_after
from monitor.http.robots import ROBOTS_MAX_BYTES, RobotsCache
from monitor.http.routes import CertificatesError, Transports

__all__ = ["FetchObserver", "Fetcher", "Page", "build_client", "build_transport"]

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
BLOCK_STATUSES = frozenset({403, 412, 521, 522, 523, 525})
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0
MAX_HEADERS = 100
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"

FetchObserver = Callable[[str, str, str, float], None]
"""Called after every request with (source id, kind, outcome, seconds); outcome is a status or an error name."""


@dataclass(frozen=True, slots=True)
class Page:
    """One answer: status 200-class with a body, or 304 (not modified) with none."""

    url: str
    final_url: str
    status: int
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    redirected_off_site: bool = False

    @property
    def not_modified(self) -> bool:
        """Return whether the server said the page has not changed (304)."""
        return self.status == 304


def build_transport(http: HttpSettings, sources: Sequence[Source] = ()) -> Transports:
    """Return the run's transports: direct or proxied, keep-alive connections pooled per origin, shared TLS contexts.

    Logs a warning for each source with `tls_verify = false`.
    """
    # Requests in flight are capped by the Fetcher's semaphores (`concurrency`, `host_concurrency`), not by the
    # pools, which only bound the idle connections they keep.
    return Transports(http, sources)


def build_client(http: HttpSettings, transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
    """Return an httpx client on the shared transport (for webhooks): our User-Agent, no redirect following."""
    return httpx.AsyncClient(
        headers={"User-Agent": http.user_agent},
        timeout=_timeout(http),
        transport=transport,
        follow_redirects=False,
        trust_env=False,
    )


def _timeout(http: HttpSettings) -> httpx.Timeout:
    return _timeout_of(http.timeout)


def _timeout_of(timeout: timedelta) -> httpx.Timeout:
    seconds = timeout.total_seconds()
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


@dataclass(slots=True)
class _HostGate:
    slots: asyncio.Semaphore
    delay_s: float
    next_start: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Fetcher:
    """Fetches pages for sources, obeying one politeness policy for listings, articles and robots files."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        http: HttpSettings,
        *,
        observer: FetchObserver | None = None,
    ) -> None:
        self._transport = transport
        self._pick = transport.pick if isinstance(transport, Transports) else lambda _url, _source: transport
        self._headers = {"User-Agent": http.user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"}
        self._extensions = {"timeout": _timeout(http).as_dict()}
        self._http = http
        self._backoff_s = http.retry_backoff.total_seconds()
        self._observer = observer
        self._global = asyncio.Semaphore(http.concurrency)
        self._hosts: dict[str, _HostGate] = {}
        self._robots = RobotsCache(self._fetch_robots, http.user_agent)

    async def fetch(
        self, source: Source, url: str, *, kind: str, etag: str | None = None, last_modified: str | None = None
    ) -> Page:
        """Return the page at `url`, retrying transient failures.

        Raises RobotsDeniedError, BlockedError, FetchStatusError (404, 410, exhausted 5xx/429), FetchTimeoutError,
        FetchTooLargeError or FetchError; every one names the source and URL.
        """
        if source.robots:
            await self._robots.check(source, url)
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self._http.retries + 1),
            wait=self._wait,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._follow(source, url, kind, etag, last_modified)
        raise FetchError("no attempt was made", source_id=source.id, url=url)  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        base: float = wait_exponential_jitter(multiplier=self._backoff_s, max=30.0, jitter=self._backoff_s)(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, FetchStatusError) and exc.retry_after_s is not None:
            return max(base, exc.retry_after_s)
        return base

    async def _follow(self, source: Source, url: str, kind: str, etag: str | None, last_modified: str | None) -> Page:
        current = url
        for _hop in range(self._http.max_redirects + 1):
            headers = _conditional_headers(etag, last_modified) if current == url else {}
            status, response_headers, body = await self._request(source, current, kind, headers)
            location = response_headers.get("location")
            if status in REDIRECT_STATUSES and location:
                target = urljoin(current, location)
                if not _same_site(target, source):
                    return _page(url, target, status, b"", response_headers, off_site=True)
                current = target
                continue
            _raise_for_status(status, response_headers, source, current)
            return _page(url, current, status, body, response_headers)
        raise FetchError(f"more than {self._http.max_redirects} redirects", source_id=source.id, url=url)

    async def _request(
        self,
        source: Source,
        url: str,
        kind: str,
        headers: dict[str, str],
        max_bytes: int | None = None,
        truncate: bool = False,
    ) -> tuple[int, httpx.Headers, bytes]:
        host = (urlsplit(url).hostname or "").lower()
        queued = started = time.perf_counter()
        outcome = "error"
        try:
            async with self._slot(host, source):
                # The request's time starts here: waiting for a slot of the host (host_concurrency, host_delay)
                # is politeness, not the server's answer time, and is logged apart.
                started = time.perf_counter()
                with _map_errors(source.id, url):
                    cap = max_bytes or self._http.max_body_bytes
                    status, response_headers, body = await self._read(source, url, headers, cap, truncate)
            outcome = str(status)
            return status, response_headers, body
        except FetchError as exc:
            outcome = type(exc).__name__
            raise
        finally:
            elapsed, waited = time.perf_counter() - started, started - queued
            queue_note = f" (after {waited * 1000:.0f}ms waiting for the host)" if waited >= 0.001 else ""
            logger.info("fetch %s %s %s %s %.0fms%s", source.id, kind, url, outcome, elapsed * 1000, queue_note)
            if self._observer is not None:
                self._observer(source.id, kind, outcome, elapsed)

    async def _read(
        self, source: Source, url: str, headers: dict[str, str], cap: int, truncate: bool
    ) -> tuple[int, httpx.Headers, bytes]:
        """Read one answer within the request deadline, its header count and its decoded-size cap."""
        deadline_s = self._http.request_deadline.total_seconds()
        try:
            async with asyncio.timeout(deadline_s):
                return await self._read_bounded(source, url, headers, cap, truncate)
        except TimeoutError as exc:
            message = f"no complete answer within the {deadline_s:g}s request deadline"
            raise FetchDeadlineError(message, source_id=source.id, url=url) from exc

    async def _read_bounded(
        self, source: Source, url: str, headers: dict[str, str], cap: int, truncate: bool
    ) -> tuple[int, httpx.Headers, bytes]:
        """Read the answer; past `cap` decoded bytes, fail (or, with `truncate`, keep the first `cap`)."""
        # The transport is called directly (httpx.AsyncClient's cookie jar, auth and hooks are not wanted here).
        request = httpx.Request(
            "GET", url, headers={**self._source_headers(source), **headers}, extensions=self._source_extensions(source)
        )
        response = await self._pick(request.url, source).handle_async_request(request)
        try:
            if len(response.headers) > MAX_HEADERS:
                message = f"{len(response.headers)} header fields (at most {MAX_HEADERS} accepted)"
                raise FetchProtocolError(message, source_id=source.id, url=url)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap and not truncate:
                raise FetchTooLargeError(
                    f"body of {declared} bytes is over the {cap}-byte cap", source_id=source.id, url=url
                )
            try:
                # httpx's own decoding inflates each chunk without limit (a gzip-in-gzip bomb): read raw bytes.
                decoder = LayeredDecoder(response.headers.get("content-encoding"), cap)
                async for chunk in response.aiter_raw():
                    decoder.feed(chunk)
                body = decoder.finish()
            except BodyLimitError as exc:
                if exc.too_large and truncate:
                    return response.status_code, response.headers, decoder.partial()
                error = FetchTooLargeError if exc.too_large else FetchProtocolError
                raise error(str(exc), source_id=source.id, url=url) from exc
            return response.status_code, response.headers, body
        finally:
            await response.aclose()

    def _source_headers(self, source: Source) -> dict[str, str]:
        if not source.headers and source.user_agent is None:
            return self._headers
        headers = {**self._headers, **{name: value.reveal() for name, value in source.headers}}
        if source.user_agent is not None:
            headers["User-Agent"] = source.user_agent
        return headers

    def _source_extensions(self, source: Source) -> dict[str, Any]:
        if source.timeout is None:
            return self._extensions
        return {"timeout": _timeout_of(source.timeout).as_dict()}

    @asynccontextmanager
    async def _slot(self, host: str, source: Source) -> AsyncIterator[None]:
        gate = self._hosts.get(host)
        if gate is None:
            gate = _HostGate(asyncio.Semaphore(source.host_concurrency), source.host_delay.total_seconds())
            self._hosts[host] = gate
        # Host first, global second: a request waiting out a host's delay must not hold a global slot.
        async with gate.slots:
            async with gate.lock:
                wait = gate.next_start - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                gate.next_start = time.monotonic() + gate.delay_s
            try:
                async with self._global:
                    yield
            finally:
                # The delay also counts from the end of a request, so a slow or late request cannot make the
                # next one arrive at the server sooner than `host_delay` after it.
                gate.next_start = max(gate.next_start, time.monotonic() + gate.delay_s)

    async def _fetch_robots(self, source: Source, url: str) -> tuple[int, str | None, bytes]:
        status, headers, body = await self._request(source, url, "robots", {}, ROBOTS_MAX_BYTES, truncate=True)
        return status, headers.get("location"), body


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _same_site(url: str, source: Source) -> bool:
    return same_site(url, source.url, source.allow_domains)


def _page(url: str, final: str, status: int, body: bytes, headers: httpx.Headers, off_site: bool = False) -> Page:
    return Page(
        url=url,
        final_url=final,
        status=status,
        body=body,
        content_type=headers.get("content-type"),
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        redirected_off_site=off_site,
    )


def _raise_for_status(status: int, headers: httpx.Headers, source: Source, url: str) -> None:
    if 200 <= status < 300 or status == 304:
        return
    if status in BLOCK_STATUSES:
        raise BlockedError(f"blocked by the site (HTTP {status})", source_id=source.id, url=url, status=status)
    retry_after = parse_retry_after(headers.get("retry-after"), datetime.now(UTC)) if status in RETRY_STATUSES else None
    raise FetchStatusError(f"HTTP {status}", source_id=source.id, url=url, status=status, retry_after_s=retry_after)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, FetchStatusError):
        too_long = exc.retry_after_s is not None and exc.retry_after_s > MAX_RETRY_AFTER_S
        return exc.status in RETRY_STATUSES and not too_long
    if isinstance(exc, FetchDeadlineError):
        return False  # a server that trickles bytes would only take that long again
    return isinstance(exc, FetchTimeoutError) or type(exc) is FetchError


@contextmanager
def _map_errors(source_id: str, url: str) -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as exc:
        raise FetchTimeoutError(f"timed out ({type(exc).__name__})", source_id=source_id, url=url) from exc
    except CertificatesError as exc:  # a ConnectError too, but of this side: its own line says which certificates
        raise FetchTLSError(str(exc), source_id=source_id, url=url) from exc
    except httpx.ConnectError as exc:
        tls = _tls_cause(exc)
        if tls is not None:
            raise FetchTLSError(_tls_message(tls, url), source_id=source_id, url=url) from exc
        raise FetchError(f"{type(exc).__name__}: {exc}", source_id=source_id, url=url) from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}", source_id=source_id, url=url) from exc
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL: {exc}", source_id=source_id, url=url) from exc


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    """Return the TLS error behind a connect error (both transports chain it as the cause), or None."""
    seen: BaseException | None = exc
    for _depth in range(5):
        if seen is None or isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _tls_message(error: ssl.SSLError, url: str) -> str:
    host = urlsplit(url).hostname or url
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = error.verify_message or error.reason or "not trusted"
        return f"TLS certificate of {host} refused: {reason} (a private CA belongs in [monitor] ca_bundle)"
    return f"TLS handshake with {host} failed: {error.reason or error}"
