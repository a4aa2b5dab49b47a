"""Start each source's poll as it falls due: the daemon's timetable task, a few polls per host at once, none twice.

The daemon owns the task that runs `Dispatcher.run` and the poll coroutine it passes in; this module decides when
each poll starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from urllib.parse import urlsplit

from monitor.app import App
from monitor.errors import ConfigError
from monitor.service.admission import POLLS_PER_HOST_SLOT, Admission
from monitor.service.schedule import Schedule, Timetable

__all__ = ["WAKE_S", "Dispatcher"]

logger = logging.getLogger(__name__)

# Timers run on the monotonic clock, which stands still while the machine sleeps: re-check due times this often.
WAKE_S = 30.0


class Dispatcher:
    """Keeps every source's next due time and starts its poll when it falls due, queued behind its host's polls."""

    def __init__(self, app: App, poll: Callable[[str], Awaitable[None]]) -> None:
        """`poll(source_id)` polls one source and never raises; the config in force is read from `app` at each use."""
        self._app = app
        self._poll_source = poll
        self._timetable = Timetable(random.random)
        self._admission = Admission()
        self._tick = asyncio.Event()
        self._polls: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    @property
    def polls(self) -> set[asyncio.Task[None]]:
        """Return the polls running now."""
        return set(self._polls.values())

    def put(self, source_id: str, schedule: Schedule, due: datetime) -> None:
        """Schedule a source (replacing its previous schedule) to be next due at `due`; call `wake` after a batch."""
        self._timetable.put(source_id, schedule, due)

    def remove(self, source_id: str) -> None:
        """Stop scheduling a source (a poll of it already running or queued still happens)."""
        self._timetable.remove(source_id)

    def due_at(self, source_id: str) -> datetime | None:
        """Return when a source is next due, or None if it is not scheduled."""
        return self._timetable.due_at(source_id)

    def wake(self) -> None:
        """Make `run` look at the timetable and the wall clock now (after a change, or a system sleep)."""
        self._tick.set()

    def stop(self) -> int:
        """Start no more polls and make `run` return; return how many due polls waiting for their host are dropped."""
        self._stopping = True
        self._tick.set()
        return self._admission.clear()

    async def run(self) -> None:
        """Start each source's poll as it falls due; sleep until the next due time, a change, or at most WAKE_S."""
        while not self._stopping:
            now = self._app.clock()
            for source_id in self._timetable.pop_due(now):
                self._dispatch(source_id)
            due = self._timetable.next_due()
            wait_s = WAKE_S if due is None else min(max((due - now).total_seconds(), 0.0), WAKE_S)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._tick.wait()
            self._tick.clear()

    def _dispatch(self, source_id: str) -> None:
        """Start a poll that fell due, or queue it behind its host's running polls; skip it if one is under way."""
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
