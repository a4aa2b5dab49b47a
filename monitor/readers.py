"""Read fetched article pages (error-page check, extraction, hash, compression), in worker processes when it pays.

Reading a page is pure CPU work: ~2 ms of parsing, walking the text, normalising, hashing and compressing per
typical ministry article. In one process it competes with the event loop for the GIL, so a first import of
thousands of pages would run on one core. `PageReaders` reads the first START_AFTER pages of a burst itself
(starting processes costs more than a handful of pages) and then hands pages to a small pool of worker
processes, stopped after IDLE_S without work: a daemon that is only seeing 304s keeps no workers (and no
memory) around, and a small `monitor check` never starts any. With `processes = 0`, or if the pool breaks (a
worker killed), pages are read in the calling process: reading never fails for want of workers.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

from monitor.config import Source
from monitor.content import content_hash
from monitor.errors import ExtractError
from monitor.extract import extract_article, is_error_page
from monitor.fetch import Page
from monitor.lifecycle import Observation
from storage import compress_raw

__all__ = ["IDLE_S", "START_AFTER", "PageReaders", "default_processes", "read_article"]

logger = logging.getLogger(__name__)

IDLE_S = 30.0
START_AFTER = 40
QUEUED_PER_PROCESS = 3
MAX_AUTO_PROCESSES = 4


def default_processes() -> int:
    """Return the worker count for `read_workers = "auto"`: one per core, at most 4 (none on a single core).

    As many workers as cores, not one fewer: the event loop reads a page itself only when every worker is busy,
    so it never waits on them (1,000 x 21-page import on 2 cores: 340 pages/s with one worker, 382 with two).
    """
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(MAX_AUTO_PROCESSES, cores)


def read_article(source: Source, page: Page) -> Observation:
    """Return what a fetched article page says: the site's error page, unreadable, or its content.

    Pure: runs in a worker process (or inline); its arguments and result cross the process boundary pickled.
    """
    if is_error_page(page.body, page.content_type, page.final_url, source):
        return Observation("missing", error=f"error page at {page.final_url}")
    try:
        extracted = extract_article(page.body, page.content_type, page.final_url, source)
    except ExtractError as exc:
        return Observation("failed", error=str(exc))
    return Observation(
        "content",
        extracted,
        page.body,
        page.etag,
        page.last_modified,
        raw_zlib=compress_raw(page.body),
        content_hash=content_hash(extracted.title, extracted.published, extracted.text),
    )


def _read_remote(source: Source, page: Page) -> Observation:
    # The raw HTML is not sent back: the parent has it (only its compressed copy is new).
    return replace(read_article(source, page), raw=None)


def _worker_init() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the parent decides what stops, not its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class PageReaders:
    """Reads article pages in up to `processes` worker processes (see the module docstring)."""

    def __init__(self, processes: int, *, start_after: int = START_AFTER, idle_s: float = IDLE_S) -> None:
        self._processes = processes
        self._start_after = start_after
        self._idle_s = idle_s
        self._pool: ProcessPoolExecutor | None = None
        self._burst = 0  # pages read since the last idle spell
        self._in_flight = 0
        # At most a few pages per worker are handed over at once; when all are taken the page is read here. That
        # keeps this core busy too, and while it reads, no more pages are fetched: a first import never queues
        # thousands of fetched pages in memory for the workers.
        self._slots = asyncio.Semaphore(max(1, processes) * QUEUED_PER_PROCESS)
        self._idle_timer: asyncio.TimerHandle | None = None

    @property
    def running(self) -> bool:
        """Return whether worker processes are up (they start after START_AFTER pages of a burst, stop when idle)."""
        return self._pool is not None

    async def read(self, source: Source, page: Page) -> Observation:
        """Return read_article(source, page), computed in a worker process when there are any."""
        self._burst += 1
        self._arm_idle_timer()
        pool = self._pool
        if pool is None:
            if self._processes <= 0 or self._burst <= self._start_after:
                return read_article(source, page)
            pool = self._start()
        if self._slots.locked():
            return read_article(source, page)
        self._in_flight += 1
        try:
            async with self._slots:  # free: checked just above, and nothing awaited since
                observation = await asyncio.wrap_future(pool.submit(_read_remote, source, page))
            return replace(observation, raw=page.body) if observation.kind == "content" else observation
        except BrokenProcessPool:
            logger.warning("page readers: a worker process died; reading %s here and restarting them", page.url)
            self._discard(pool)
            return read_article(source, page)
        finally:
            self._in_flight -= 1

    def _start(self) -> ProcessPoolExecutor:
        # spawn: a fresh interpreter per worker, safe beside the event loop's threads (fork is not).
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(self._processes, mp_context=context, initializer=_worker_init)
        logger.debug("page readers: starting %d worker processes", self._processes)
        return self._pool

    def _arm_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = asyncio.get_running_loop().call_later(self._idle_s, self._stop_if_idle)

    def _stop_if_idle(self) -> None:
        self._idle_timer = None
        if self._in_flight:
            self._arm_idle_timer()
            return
        self._burst = 0
        if self._pool is not None:
            logger.debug("page readers: idle for %.0fs, stopping the worker processes", self._idle_s)
            self._discard(self._pool)

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (waiting for them to exit) and the idle timer."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
