"""One source, one cycle: fetch the listing → find links → fetch new and due articles → store → enqueue events.

Every state change is committed together with its event and outbox rows, one article at a time, so a crash
mid-check loses at most the article in flight and never leaves an event without its change (or the reverse).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlsplit

from monitor.config import Config, Source
from monitor.errors import (
    BlockedError,
    ExtractError,
    FetchDeadlineError,
    FetchError,
    FetchStatusError,
)
from monitor.events import article_event, source_event
from monitor.http import Fetcher, Page
from monitor.learned import LEARN_AFTER, agreed, decode, learn, wants_proposals, with_learned
from monitor.lifecycle import Decision, decide
from monitor.listing import ListingReader
from monitor.pages import (
    Observation,
    PageReaders,
    normalise_url,
    older_links,
)
from monitor.report import SourceReport
from storage import ArticleState, EventRecord, SourceState, StorageError, Store

__all__ = ["Pipeline", "SourceReport"]  # SourceReport lives in monitor.report; importers may take it from here

logger = logging.getLogger(__name__)

MISSING_STATUSES = frozenset({404, 410})
DEFAULT_REVISIT_BATCH = 10
JUMP_FACTOR = 10  # a listing this many times its usual size (and `max_new` links more) is not trusted as news
MERGE_BATCH = 1000


class Pipeline:
    """Runs checks of sources against one store and one fetcher; the clock is injected."""

    def __init__(
        self,
        config: Config,
        store: Store,
        fetcher: Fetcher,
        clock: Callable[[], datetime],
        readers: PageReaders | None = None,
    ) -> None:
        """`readers` read article pages (in worker processes, if it has any); by default, in this process."""
        self.config = config
        self._store = store
        self._fetcher = fetcher
        self._clock = clock
        self._readers = PageReaders(0) if readers is None else readers
        self._listings = ListingReader(store, clock, self._enqueue)

    async def check_source(
        self,
        source: Source,
        *,
        revisit_all: bool = False,
        next_due: datetime | None = None,
        backfill: int | None = None,
    ) -> SourceReport:
        """Check one source once and return what happened; source failures are recorded, not raised.

        A poll that hangs past the poll deadline, hits a bound, meets a store error or crashes is a failure of this
        source (counted, with its reason), never an error of the caller, which goes on with the other sources.
        `next_due` (the daemon's next poll of the source) is saved with the source's state, in its one write per
        check; without it the stored value is kept. `backfill` caps the listing pages read (default: the source's
        `max_pages`, and 1 on its first check).
        """
        report = SourceReport(source.id)
        # None until read: a poll whose store fails before then must not save a blank state over the stored one
        # (that would forget the baseline, and the next check would take new articles for the baseline).
        state: SourceState | None = None
        deadline_s = self.config.http.poll_deadline.total_seconds()
        try:
            async with asyncio.timeout(deadline_s):
                state = self._store.source_state(source.id) or SourceState(source.id, name=source.name, url=source.url)
                state.name, state.url, state.last_attempt = source.name, source.url, self._clock()
                source = with_learned(source, decode(state.selectors))
                if next_due is not None:
                    state.next_due = next_due
                await self._cycle(source, state, report, revisit_all, backfill)
        except (FetchError, ExtractError) as exc:
            self._source_failed(source, state, exc, report)
        except TimeoutError:
            reason = f"poll not finished within the {deadline_s:g}s poll deadline"
            self._source_failed(source, state, FetchDeadlineError(reason, source_id=source.id, url=source.url), report)
        except StorageError as exc:
            self._source_failed(source, state, exc, report, outcome="store")
        except Exception as exc:  # the per-source wrapper (check and daemon): one source's crash stays its own
            logger.exception("source %s: poll crashed", source.id)
            self._source_failed(source, state, exc, report, outcome="crash")
        return report

    async def _cycle(
        self, source: Source, state: SourceState, report: SourceReport, revisit_all: bool, backfill: int | None
    ) -> None:
        page = await self._fetcher.fetch(
            source, source.url, kind="listing", etag=state.etag, last_modified=state.last_modified
        )
        links = await self._listings.links(source, state, page, report)
        older = await self._older_pages(source, state, page, links, backfill)
        report.listing_status = page.status
        # Past this point the listing's body is not needed: drop it, so that thousands of sources waiting for
        # article fetch slots do not each hold a listing page in memory.
        page = replace(page, body=b"")
        now = self._clock()
        listed = None if links is None else links + older
        known = self._known(source, listed, revisit_all, now)
        to_fetch = await self._merge_listing(source, state, known, listed, report)
        to_fetch += self._due(source, known, set(to_fetch), revisit_all, now)
        await asyncio.gather(*(self._check_article(source, known[url], report) for url in to_fetch))
        if learned := agreed(report.proposals):
            state.selectors = learn(state.selectors, "article", dict(learned))
        self._source_succeeded(source, state, page, links, report)

    async def _older_pages(
        self, source: Source, state: SourceState, page: Page, links: list[str] | None, backfill: int | None
    ) -> list[str]:
        """Return the links of the listing's older pages that backfill reads (monitor.pages.pagination)."""
        limit = backfill or (source.listing.max_pages if state.baseline_done else 1)
        if links is None or limit <= 1:
            return []

        def fetch(url: str) -> Awaitable[Page]:
            return self._fetcher.fetch(source, url, kind="listing")

        def knows_any(urls: list[str]) -> bool:
            return any(self._store.find_article(url) is not None for url in urls)

        return await older_links(source, page, links, limit, fetch, knows_any)

    def _known(
        self, source: Source, links: list[str] | None, revisit_all: bool, now: datetime
    ) -> dict[str, ArticleState]:
        """Return the articles this check can touch: every one for a full revisit, else the due ones plus (when the
        listing was read) those on it, so an unchanged listing never loads the source's whole history."""
        if revisit_all:
            return self._store.articles(source.id)
        return self._store.articles_for_check(source.id, now, links)

    async def _merge_listing(
        self,
        source: Source,
        state: SourceState,
        known: dict[str, ArticleState],
        links: list[str] | None,
        report: SourceReport,
    ) -> list[str]:
        """Record new and delisted articles, MERGE_BATCH a transaction; return the new URLs to fetch now.

        At most `max_new` new articles are taken per check, in listing order (newest first on news sites); the rest
        are left unrecorded for the next checks. A listing that jumps far beyond its usual size is reported and its
        new links recorded without `article.published` events (as a first check's are).
        """
        if links is None:
            report.links = self._store.count_listed(source.id)
            return []
        report.links = len(links)
        baseline = not state.baseline_done or self._jumped(source, state, links, known, report)
        fresh: list[str] = []
        for start in range(0, len(links), MERGE_BATCH):
            # A transaction per batch, the loop served between: a long listing must not hold it for seconds.
            with self._store.transaction():
                self._merge_batch(source, links[start : start + MERGE_BATCH], known, baseline, fresh, report)
            await asyncio.sleep(0)
        with self._store.transaction():
            self._delist(known, set(links))
        report.new = len(fresh)
        if report.waiting:
            report.warn(f"{report.waiting} new articles wait for the next checks (max_new {source.max_new})")
        return fresh[: source.max_new]

    def _merge_batch(
        self,
        source: Source,
        links: list[str],
        known: dict[str, ArticleState],
        baseline: bool,
        fresh: list[str],
        report: SourceReport,
    ) -> None:
        now = self._clock()
        for url in links:
            article = known.get(url)
            if article is None and not baseline and len(fresh) >= source.max_new:
                report.waiting += 1
                continue
            if article is None:
                article = ArticleState(source.id, url, first_seen=now, baseline=baseline)
                known[url] = article
                fresh.append(url)
            elif not article.on_listing:
                article.on_listing = True
            else:
                continue
            self._store.save_article(article)

    def _delist(self, known: dict[str, ArticleState], on_listing: set[str]) -> None:
        for article in known.values():
            if article.on_listing and article.url not in on_listing:
                article.on_listing = False  # delisted: listings scroll; not a removal
                self._store.save_article(article)

    def _jumped(
        self, source: Source, state: SourceState, links: list[str], known: dict[str, ArticleState], report: SourceReport
    ) -> bool:
        """Return whether the listing's new links far outnumber its usual size (reported as a warning)."""
        unknown = sum(1 for url in links if url not in known)
        if unknown <= max(state.link_count * JUMP_FACTOR, state.link_count + source.max_new):
            return False
        report.warn(
            f"listing jumped from {state.link_count} to {len(links)} links: its {unknown} new links are recorded"
            " without article.published events",
        )
        return True

    def _due(
        self, source: Source, known: dict[str, ArticleState], taken: set[str], revisit_all: bool, now: datetime
    ) -> list[str]:
        if revisit_all:
            horizon = now - source.revisit
            return [a.url for a in known.values() if a.url not in taken and (a.first_seen >= horizon or a.version == 0)]
        due = [
            a for a in known.values() if a.url not in taken and a.next_fetch_at is not None and a.next_fetch_at <= now
        ]
        due += [a for a in known.values() if a.url not in taken and a.version == 0 and a.next_fetch_at is None]
        due.sort(key=lambda a: (a.version != 0, a.next_fetch_at or now))
        return [a.url for a in due[:DEFAULT_REVISIT_BATCH]]

    async def _check_article(self, source: Source, article: ArticleState, report: SourceReport) -> None:
        propose = wants_proposals(source) and report.asked < LEARN_AFTER + 2
        report.asked += propose
        observation = await self._observe(source, article, propose)
        if observation.proposed is not None:
            report.proposals.append(observation.proposed)
        report.fetched += 1
        if observation.kind == "not_modified":
            report.not_modified += 1
        elif observation.kind == "failed" or (observation.kind == "missing" and article.version == 0):
            report.failed += 1
            if report.first_failure is None:
                reason = observation.error or observation.kind
                report.first_failure = reason if article.url in reason else f"{reason} at {article.url}"
        self._apply(source, article, observation, report)

    async def _observe(self, source: Source, article: ArticleState, propose: bool = False) -> Observation:
        conditional = article.status == "live" and article.version > 0
        try:
            page = await self._fetcher.fetch(
                source,
                article.url,
                kind="article",
                etag=article.etag if conditional else None,
                last_modified=article.last_modified if conditional else None,
            )
        except FetchStatusError as exc:
            kind = "missing" if exc.status in MISSING_STATUSES else "failed"
            return Observation(kind, error=exc.reason)
        except FetchError as exc:
            return Observation("failed", error=f"{type(exc).__name__}: {exc.reason}")
        if page.not_modified:
            return Observation("not_modified", etag=article.etag, last_modified=article.last_modified)
        if _redirected_away(source, article, page):
            return Observation("missing", error=f"error page at {page.final_url}")
        # Learned selectors reproduce the generic reading, so any article may fall back to it; configured ones only
        # new articles (a known one re-read by another reader could look edited).
        fallback = article.version == 0 or any(key.startswith("article.") for key in source.learned)
        return await self._readers.read(source, page, fallback=fallback, propose=propose)

    def _apply(self, source: Source, article: ArticleState, observation: Observation, report: SourceReport) -> None:
        now = self._clock()
        article_id = article.id
        if article_id is None:
            raise ValueError(f"article {article.url} was not saved before it was fetched")
        # An article never read has no versions (they are written in one transaction with its version number).
        has_versions = observation.kind == "content" and article.version > 0
        seen = self._store.version_hashes(article_id) if has_versions else {}
        decision = decide(article, seen, observation, source, now)
        event = self._article_event(source, article_id, article.version, decision, now)
        with self._store.transaction():
            self._store.save_article(decision.article)
            if decision.version is not None:
                self._store.add_version(article_id, decision.version)
            if event is not None:
                self._enqueue(event, decision.article.url)
                report.count(event.type)

    def _article_event(
        self, source: Source, article_id: int, old_version: int, decision: Decision, now: datetime
    ) -> EventRecord | None:
        if decision.event is None:
            return None
        current = decision.version or self._store.version(article_id, decision.article.version)
        if current is None:
            raise ValueError(f"article {decision.article.url} has no version {decision.article.version}")
        previous = self._store.version(article_id, old_version) if decision.version and old_version else None
        return article_event(decision.event, source, decision.article, current, previous, now)

    def _enqueue(self, event: EventRecord, order_key: str) -> None:
        """Store the event with one outbox row per subscribed webhook (inside the caller's transaction)."""
        webhook_ids = [w.id for w in self.config.channels if w.wants(event.type, event.source_id)]
        self._store.add_event(event, webhook_ids, order_key)
        logger.info("event %s %s %s", event.type, event.source_id, event.article_url or "")

    def _source_failed(
        self,
        source: Source,
        state: SourceState | None,
        exc: Exception,
        report: SourceReport,
        outcome: str | None = None,
    ) -> None:
        now = self._clock()
        outcome = outcome or _failure_outcome(exc)
        reason = exc.reason if isinstance(exc, FetchError | ExtractError) else f"{type(exc).__name__}: {exc}"
        report.outcome, report.error = outcome, reason
        try:
            if state is None:  # the poll failed before its state was read: read it now (the store may be back)
                state = self._store.source_state(source.id) or SourceState(source.id, name=source.name, url=source.url)
            state.consecutive_failures += 1
            state.last_error, state.last_outcome = reason, outcome
            with self._store.transaction():
                if state.consecutive_failures >= source.failing_after and not state.failing:
                    state.failing = True
                    self._enqueue(
                        source_event("source.failing", source, state.consecutive_failures, reason, now), source.id
                    )
                    report.count("source.failing")
                self._store.save_source_state(state)
        except StorageError as store_exc:  # the store itself is failing: the report still says what happened
            logger.error("source %s: could not record its failure: %s", source.id, store_exc)
        # DEBUG: the caller reports the poll in one line (the daemon's poll line, `check`'s FAILED line).
        logger.debug("source %s failed (%s): %s", source.id, outcome, reason)

    def _source_succeeded(
        self, source: Source, state: SourceState, page: Page, links: list[str] | None, report: SourceReport
    ) -> None:
        now = self._clock()
        with self._store.transaction():
            if state.failing:
                self._enqueue(
                    source_event("source.recovered", source, state.consecutive_failures, None, now), source.id
                )
                report.count("source.recovered")
            state.failing, state.consecutive_failures, state.last_error = False, 0, None
            state.last_success, state.last_outcome = now, "not_modified" if page.not_modified else "ok"
            if report.waiting:  # read the whole listing again next time, for the articles left waiting
                state.etag, state.last_modified, state.body_hash = None, None, None
            elif not page.not_modified:
                state.etag, state.last_modified = page.etag, page.last_modified
            if links is not None:
                state.link_count, state.baseline_done = len(links), True
            self._store.save_source_state(state)


def _failure_outcome(exc: Exception) -> str:
    if isinstance(exc, BlockedError):
        return "blocked"
    if isinstance(exc, ExtractError):
        return "layout"
    return "error"


def _redirected_away(source: Source, article: ArticleState, page: Page) -> bool:
    """Return whether a 200 answer came from a redirect home or off the site: the article is gone."""
    if page.redirected_off_site:
        return True
    final = normalise_url(page.final_url)
    if final == article.url:
        return False
    return urlsplit(final).path in ("", "/") or final == normalise_url(source.url)
