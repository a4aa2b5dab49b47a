"""Start a due source's poll: a few polls per host at once, the rest queued behind them, never one source twice.

The scheduler (scheduler.py) says when a source is due; the daemon owns the poll coroutine passed in here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from monitor.app import App
from monitor.errors import ConfigError
from monitor.service.admission import POLLS_PER_HOST_SLOT, Admission

__all__ = ["Dispatcher"]

logger = logging.getLogger(__name__)


class Dispatcher:
    """Starts each due source's poll, or queues it behind its host's running polls."""

    def __init__(self, app: App, poll: Callable[[str], Awaitable[None]]) -> None:
        """`poll(source_id)` polls one source and never raises; the config in force is read from `app` at each use."""
        self._app = app
        self._poll_source = poll
        self._admission = Admission()
        self._polls: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    @property
    def polls(self) -> set[asyncio.Task[None]]:
        """Return the polls running now."""
        return set(self._polls.values())

    def stop(self) -> int:
        """Start no more polls; return how many due polls waiting for their host are dropped."""
        self._stopping = True
        return self._admission.clear()

    def dispatch(self, source_id: str) -> None:
        """Start a poll that fell due, or queue it behind its host's running polls; skip it if one is under way."""
        if self._stopping:
            return
        if source_id in self._polls or source_id in self._admission:
            logger.warning("poll %s skipped: the previous poll of it has not finished", source_id)
            return
        try:
            source = self._app.config.source(source_id)
        except ConfigError:
            return  # removed by a reload
        host = (urlsplit(source.url).hostname or "").lower()
        if self._admission.admit(source_id, host, source.host_concurrency * POLLS_PER_HOST_SLOT):
            self._start_poll(source_id, host)

    def _start_poll(self, source_id: str, host: str) -> None:
        self._polls[source_id] = asyncio.create_task(self._poll(source_id, host), name=f"poll {source_id}")

    async def _poll(self, source_id: str, host: str) -> None:
        try:
            await self._poll_source(source_id)
        finally:
            del self._polls[source_id]
            following = self._admission.release(host)
            if following is not None and not self._stopping:
                self._start_poll(following, host)
