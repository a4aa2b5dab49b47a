"""Read a listing page into its article URLs: configured, learned or generic links, and the relisting after a redesign.

A listing selector that stops matching (or matches far fewer links than last time) on what is still the listing
falls back to the generic finder (monitor.layout decides it is the same listing), storing one
`source.layout_changed` event per new proposal; otherwise the source fails, with no removals and no publications.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime

from monitor.config import Source
from monitor.errors import BlockedError, ExtractError
from monitor.events import layout_event
from monitor.http import Page
from monitor.layout import relist
from monitor.learned import learn
from monitor.pages import extract_links, looks_like_challenge, propose_listing
from monitor.report import SourceReport
from storage import EventRecord, SourceState, Store

__all__ = ["THREAD_PARSE_BYTES", "ListingReader"]

logger = logging.getLogger("monitor.pipeline")

THREAD_PARSE_BYTES = 256 * 1024  # larger listings are read in a thread, so the loop keeps serving other sources


class ListingReader:
    """Reads the article links of sources' listings against one store (for known articles and past proposals)."""

    def __init__(
        self, store: Store, clock: Callable[[], datetime], enqueue: Callable[[EventRecord, str], None]
    ) -> None:
        """`enqueue(event, order_key)` stores an event with its outbox rows, inside the caller's transaction."""
        self._store = store
        self._clock = clock
        self._enqueue = enqueue

    async def links(self, source: Source, state: SourceState, page: Page, report: SourceReport) -> list[str] | None:
        """Return the listing's article URLs (at most `max_links`), or None when the listing is unchanged."""
        if page.redirected_off_site:
            raise ExtractError(
                "listing redirects to another site", source_id=source.id, url=page.final_url, field="url"
            )
        body_hash = hashlib.sha256(page.body).hexdigest() if not page.not_modified else state.body_hash
        if page.not_modified or (body_hash == state.body_hash and state.baseline_done):
            return None
        try:
            links = await self._selected(source, state, page)
            if source.listing.links is None:
                found = propose_listing(page.body, page.content_type, page.final_url, source, links)
                if found is not None and found.precision == found.recall == 1.0:
                    state.selectors = learn(state.selectors, "listing", {"links": found.selector})
        except ExtractError as exc:
            if looks_like_challenge(page.body, page.content_type):
                raise BlockedError(
                    "listing is a JS/cookie challenge page", source_id=source.id, url=source.url, status=page.status
                ) from exc
            links = self._relisted(source, state, page, exc, report)
        if len(links) > source.max_links:
            report.warn(f"listing has over {source.max_links} links; the first {source.max_links} are read")
            links = links[: source.max_links]
        state.body_hash = body_hash
        return links

    async def _selected(self, source: Source, state: SourceState, page: Page) -> list[str]:
        links = await _read_links(page, source)
        floor = state.link_count * source.listing.min_links_ratio
        if state.link_count >= 5 and len(links) < floor:
            raise ExtractError(
                f"listing has {len(links)} links, far fewer than the {state.link_count} last time (layout change?)",
                source_id=source.id,
                url=source.url,
                field="listing.links",
            )
        return links

    def _relisted(
        self, source: Source, state: SourceState, page: Page, exc: ExtractError, report: SourceReport
    ) -> list[str]:
        """Return the generic finder's links when a listing selector failed on what is still the listing (monitor.
        layout), storing one `source.layout_changed` per new proposal; else raise `exc`: the source fails."""
        if source.listing.links is None or not state.baseline_done:
            raise exc

        def is_known(url: str) -> bool:
            article = self._store.find_article(url)
            return article is not None and article.source_id == source.id

        found = relist(source, page, state.link_count, is_known)
        if found is None:
            raise exc
        if "listing.links" in source.learned:  # a learned selector is replaced by the one that works now
            state.selectors = learn(state.selectors, "listing", found.proposed["listing"])
        last = None
        for event in self._store.events(type="source.layout_changed", source_id=source.id):
            last = event.payload().get("data", {}).get("proposed")
        if last != found.proposed:
            now = self._clock()
            event = layout_event(source, exc.reason, found.proposed, len(found.links), found.known, now)
            with self._store.transaction():
                self._enqueue(event, source.id)
            report.count(event.type)
        logger.warning(
            "source %s: %s; read the listing generically (%d links)", source.id, exc.reason, len(found.links)
        )
        return found.links


async def _read_links(page: Page, source: Source) -> list[str]:
    """Return up to `max_links` + 1 links (one more tells the listing is over the cap)."""
    args = (page.body, page.content_type, page.final_url, source, source.max_links + 1)
    found = (
        await asyncio.to_thread(extract_links, *args) if len(page.body) > THREAD_PARSE_BYTES else extract_links(*args)
    )
    return [link.url for link in found]
