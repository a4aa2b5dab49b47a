"""Open and close what a run needs, in one place: the store, the HTTP transport and client, fetcher, pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from monitor.config import Config
from monitor.http import Fetcher, FetchObserver, build_client, build_transport
from monitor.pages import PageReaders, default_processes
from monitor.pipeline import Pipeline
from storage import Store, open_store

__all__ = ["POLLER_WAIT_S", "App", "open_app", "utc_now"]

POLLER_WAIT_S = 10.0


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
    config: Config,
    *,
    observer: FetchObserver | None = None,
    clock: Callable[[], datetime] = utc_now,
    poller: bool = False,
) -> AsyncIterator[App]:
    """Open the store, the HTTP client and the page readers, yield them wired together, close in reverse.

    A `poller` (check, the service) first becomes the store's one polling writer, waiting up to POLLER_WAIT_S for
    another to finish; raises StoreBusyError (one line at the CLI) if it does not.
    """
    store = open_store(config.database)
    if poller:
        try:
            store.claim_writer(POLLER_WAIT_S)
        except BaseException:
            store.close()
            raise
    processes = default_processes() if config.read_workers is None else config.read_workers
    readers = PageReaders(processes)
    try:
        transport = build_transport(config.http, config.sources)
        async with build_client(config.http, transport) as client:  # closing the client closes the transport
            fetcher = Fetcher(transport, config.http, observer=observer)
            pipeline = Pipeline(config, store, fetcher, clock, readers)
            yield App(config, store, client, fetcher, pipeline, clock)
    finally:
        readers.close()
        store.close()
