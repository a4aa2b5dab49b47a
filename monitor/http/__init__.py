"""Fetching: the shared httpx client, its transport, polite retries and decoding of response bytes."""

from __future__ import annotations

from monitor.http.decode import decode_html, sniff_charset
from monitor.http.fetch import Fetcher, FetchObserver, Page, build_client, build_transport
from monitor.http.origin import same_site
from monitor.http.retry_after import parse_retry_after
from monitor.http.routes import Transports

__all__ = [
    "FetchObserver",
    "Fetcher",
    "Transports",
    "Page",
    "build_client",
    "build_transport",
    "decode_html",
    "parse_retry_after",
    "same_site",
    "sniff_charset",
]
