"""The web view served beside the daemon (`monitor run --http`): the same app, with the daemon's own probes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime

from monitor.config import Config
from monitor.web.app import Probe, build_app
from monitor.web.reader import StoreReader
from monitor.web.server import WebServer, start_web_server

__all__ = ["serve_beside"]


@asynccontextmanager
async def serve_beside(
    config: Config,
    address: tuple[str, int],
    probes: Mapping[str, Probe],
    clock: Callable[[], datetime],
    current_config: Callable[[], Config],
) -> AsyncIterator[WebServer]:
    """Serve the web view and `probes` on `address`, reading through a store connection of its own; close both after.

    Raises MonitorError if the address cannot be bound.
    """
    reader = StoreReader(config.database)
    try:
        app = build_app(config, reader, probes=probes, clock=clock, current_config=current_config)
        server = await start_web_server(*address, app)
        try:
            yield server
        finally:
            await server.close()
    finally:
        await reader.close()
