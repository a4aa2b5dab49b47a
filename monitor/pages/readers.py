"""Read fetched article pages (error-page check, extraction, hash, compression), in worker processes when it pays.

Reading a page is pure CPU work: ~1.3 ms of parsing, walking the text, normalising, hashing and compressing per
typical ministry article. In one process it competes with the event loop for the GIL, so a first import of
thousands of pages would run on one core. `PageReaders` reads the first START_AFTER pages of a burst itself
(starting processes costs more than a handful of pages) and then hands pages to a few worker processes, stopped
after IDLE_S without work: a daemon that is only seeing 304s keeps no workers (and no memory) around, and a small
`monitor check` never starts any. With `processes = 0`, or while a worker is lost and being replaced, pages are
read in the calling process: reading never fails for want of workers.

Each worker (monitor.pages.workers: the processes and their pipes) has two pipes to the event loop, pages out and
observations back, each widened to hold many pages: the loop writes a page and reads answers as ordinary
non-blocking I/O between its other work, with no threads in between. (A `ProcessPoolExecutor` was used first; its
feeder and result threads needed the GIL that the loop held while it read pages itself, so answers were collected
late, the workers idled ~80% of a first import and the loop read half the pages itself: on one 2-core machine, 480
pages/s then, ~660 now.) A worker holds up to QUEUED_PER_PROCESS pages; past that a page waits for room, and past
WAITING_PER_PROCESS waiting pages per worker, the loop reads the page itself. That bounds the fetched pages held in
memory (a first import would otherwise fetch thousands ahead of the readers) and keeps this core busy when the
workers fall behind.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import os

from monitor.config import DEFAULT_DATE_FROM_PAGE, Source
from monitor.content import content_hash
from monitor.errors import DecodeError, ExtractError
from monitor.http import Page
from monitor.pages.extract import Extracted, extract_article, is_error_page
from monitor.pages.observation import Observation
from monitor.pages.propose import Sample, propose_article
from monitor.pages.workers import Worker, WorkerLost
from storage import compress_raw

__all__ = ["IDLE_S", "START_AFTER", "PageReaders", "default_processes", "read_article"]

logger = logging.getLogger(__name__)

IDLE_S = 30.0
THREAD_READ_BYTES = 256 * 1024
START_AFTER = 40
QUEUED_PER_PROCESS = 32  # pages handed to each worker at once
WAITING_PER_PROCESS = 32  # pages waiting for a worker to have room, per worker, before one is read here
MAX_AUTO_PROCESSES = 4


def default_processes() -> int:
    """Return the worker count for `read_workers = "auto"`: one per core, at most 4 (none on a single core).

    As many workers as cores, not one fewer: the event loop reads a page itself only when every worker is busy,
    so it never waits on them.
    """
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(MAX_AUTO_PROCESSES, cores)


def read_article(source: Source, page: Page, fallback: bool = False, propose: bool = False) -> Observation:
    """Return what a fetched article page says: the site's error page, unreadable, or its content.

    With `fallback` (a new article), a page the source's article selectors fail on is read generically, as a
    url-only source would read it (`Observation.reader` says so); a known article never is, so that a redesign
    cannot re-version it merely because another reader read it. With `propose`, a generic reading comes with the
    selectors that reproduce it (`Observation.proposed`), for the source to learn.
    Pure: runs in a worker process (or inline); its arguments and result cross the process boundary pickled.
    """
    reader = "selectors" if _has_selectors(source) else "generic"
    try:
        if is_error_page(page.body, page.content_type, page.final_url, source):
            return Observation("missing", error=f"error page at {page.final_url}")
        try:
            extracted = extract_article(page.body, page.content_type, page.final_url, source)
        except ExtractError:
            if not fallback or reader == "generic":
                raise
            extracted, reader = (
                extract_article(page.body, page.content_type, page.final_url, _generic(source)),
                "fallback",
            )
    except (ExtractError, DecodeError) as exc:
        return Observation("failed", error=str(exc))
    return Observation(
        "content",
        extracted,
        page.etag,
        page.last_modified,
        raw_zlib=compress_raw(page.body),
        content_hash=content_hash(extracted.title, extracted.published, extracted.text),
        reader=reader,
        proposed=_proposed(source, page, extracted) if propose and reader != "selectors" else None,
    )


def _proposed(source: Source, page: Page, extracted: Extracted) -> dict[str, str] | None:
    try:
        return propose_article(Sample(page.body, page.content_type, page.final_url, extracted), source)
    except (ExtractError, DecodeError):
        return None


def _has_selectors(source: Source) -> bool:
    article = source.article
    return article.title is not None or article.body is not None or article.date is not None


def _generic(source: Source) -> Source:
    article = dataclasses.replace(source.article, title=None, body=None, date=None, date_from=DEFAULT_DATE_FROM_PAGE)
    return dataclasses.replace(source, article=article)


class PageReaders:
    """Reads article pages in up to `processes` worker processes (see the module docstring)."""

    def __init__(
        self,
        processes: int,
        *,
        start_after: int = START_AFTER,
        idle_s: float = IDLE_S,
        queued: int = QUEUED_PER_PROCESS,
        waiting: int = WAITING_PER_PROCESS,
    ) -> None:
        self._processes = processes
        self._queued = queued
        self._waiting = waiting
        self._start_after = start_after
        self._idle_s = idle_s
        self._workers: list[Worker] = []
        self._starting: asyncio.Task[None] | None = None
        self._burst = 0  # pages read since the last idle spell
        self._last_read = float("-inf")
        self._idle_timer: asyncio.TimerHandle | None = None
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._no_start_until = float("-inf")  # after a failed start, read here for a while
        self._closed = False
        self.read_here = 0  # pages read in this process
        self.read_by_workers = 0

    @property
    def running(self) -> bool:
        """Return whether worker processes are up (they start after START_AFTER pages of a burst, stop when idle)."""
        return bool(self._workers)

    @property
    def pids(self) -> list[int]:
        """Return the process ids of the running workers."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    async def read(self, source: Source, page: Page, fallback: bool = False, propose: bool = False) -> Observation:
        """Return read_article(source, page, fallback, propose), computed in a worker process when there are any."""
        now = asyncio.get_running_loop().time()
        if now - self._last_read >= self._idle_s:
            self._burst = 0
        self._last_read = now
        self._burst += 1
        worker = None if self._processes <= 0 or self._burst <= self._start_after else await self._worker()
        if worker is None:
            self.read_here += 1
            if len(page.body) > THREAD_READ_BYTES:  # a long page is parsed in a thread: the loop serves the others
                return await asyncio.to_thread(read_article, source, page, fallback, propose)
            return read_article(source, page, fallback, propose)
        try:
            observation: Observation = await worker.call(source, page, fallback, propose)
        except WorkerLost:
            if not self._closed:
                logger.warning("page readers: a worker process died; reading %s here and starting another", page.url)
            self.read_here += 1
            return read_article(source, page, fallback, propose)
        finally:
            self._wake(1)
        self.read_by_workers += 1
        return observation

    async def _worker(self) -> Worker | None:
        """Return the worker with the fewest pages, waiting for one to have room; None: read the page here.

        A page waits for a worker while fewer than WAITING_PER_PROCESS pages per worker wait; past that (or with
        no worker up) it is read here. Reading here keeps this core busy when the workers fall behind and, while
        it reads, stops fetching: a first import never holds thousands of fetched pages in memory.
        """
        while True:
            worker = self._free_worker()
            if worker is not None:
                return worker
            if not self._workers or len(self._waiters) >= self._waiting * len(self._workers):
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done():
                    self._waiters.remove(waiter)

    def _wake(self, count: int) -> None:
        while count and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                count -= 1

    def _free_worker(self) -> Worker | None:
        if any(w.lost for w in self._workers):
            self._drop_lost()
        if len(self._workers) < self._processes and self._starting is None and not self._closed:
            if asyncio.get_running_loop().time() >= self._no_start_until:
                self._starting = asyncio.create_task(self._start(self._processes - len(self._workers)))
        least = min(self._workers, key=lambda w: len(w.waiting), default=None)
        if least is None or len(least.waiting) >= self._queued:
            return None
        return least

    def _drop_lost(self) -> None:
        for worker in self._workers:
            if worker.lost:
                worker.stop()  # collects the dead process's exit status
        self._workers = [w for w in self._workers if not w.lost]

    async def _start(self, count: int) -> None:
        try:
            logger.debug("page readers: starting %d worker processes", count)
            for _ in range(count):
                self._workers.append(await Worker.start(read_article))
                self._wake(self._queued)
            self._arm_idle_timer(self._idle_s)
        except Exception as exc:  # out of processes or descriptors: read here, try again after an idle spell
            logger.warning("page readers: could not start a worker process (%s); reading pages here", exc)
            self._no_start_until = asyncio.get_running_loop().time() + self._idle_s
            self._wake(len(self._waiters))
        finally:
            self._starting = None

    def _arm_idle_timer(self, delay: float) -> None:
        if self._idle_timer is None:
            self._idle_timer = asyncio.get_running_loop().call_later(delay, self._stop_if_idle)

    def _stop_if_idle(self) -> None:
        self._idle_timer = None
        idle_for = asyncio.get_running_loop().time() - self._last_read
        if any(w.waiting for w in self._workers) or idle_for < self._idle_s:
            self._arm_idle_timer(max(self._idle_s - idle_for, 0.0) + 0.001)
            return
        if self._workers:
            logger.debug("page readers: idle for %.0fs, stopping the worker processes", self._idle_s)
        self._stop_workers()

    def _stop_workers(self) -> None:
        workers, self._workers = self._workers, []
        self._wake(len(self._waiters))  # pages waiting for a worker are read here
        for worker in workers:
            worker.stop()

    def close(self) -> None:
        """Stop the workers (waiting for them to exit) and the idle timer; pages still to read are read here."""
        self._closed = True
        if self.read_by_workers:
            logger.debug("page readers: %d pages read here, %d by workers", self.read_here, self.read_by_workers)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._starting is not None:
            self._starting.cancel()
            self._starting = None
        self._stop_workers()
