"""Open and close what a run needs, in one place: the store, the HTTP transport and client, fetcher, pipeline."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from monitor.config import Config
from monitor.fetch import Fetcher, FetchObserver, build_client, build_transport
from monitor.pipeline import Pipeline
from storage import Store, open_store

__all__ = ["App", "open_app", "utc_now"]


def utc_now() -> datetime:
    """Return the current time, aware, in UTC (the only clock the program reads)."""
    return datetime.now(UTC)


@dataclass(slots=True)
class App:
    """The open resources of one run."""

    config: Config
    store: Store
    client: httpx.AsyncClient
    fetcher: Fetcher
    pipeline: Pipeline
    clock: Callable[[], datetime]


@asynccontextmanager
async def open_app(
    config: Config, *, observer: FetchObserver | None = None, clock: Callable[[], datetime] = utc_now
) -> AsyncIterator[App]:
    """Open the store, the HTTP client and the reading threads, yield them wired together, close in reverse."""
    store = open_store(config.database)
    # Article pages are parsed and compressed in these threads: lexbor and zlib release the GIL, so the work
    # overlaps with the event loop's on another core. More threads than cores would only contend for the GIL.
    workers = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="monitor-read")
    try:
        transport = build_transport(config.http)
        async with build_client(config.http, transport) as client:  # closing the client closes the transport
            fetcher = Fetcher(transport, config.http, observer=observer)
            pipeline = Pipeline(config, store, fetcher, clock, workers)
            yield App(config, store, client, fetcher, pipeline, clock)
    finally:
        workers.shutdown(wait=True, cancel_futures=True)
        store.close()
