"""The store's records and the Protocol every backend implements; the rest of the program sees only these.

Writes made inside `with store.transaction():` commit together or not at all. Times are aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = [
    "ArticleState",
    "ArticleSummary",
    "DeliveryRecord",
    "EventRecord",
    "SearchHit",
    "SourceState",
    "Store",
    "VersionRecord",
]


@dataclass(slots=True)
class SourceState:
    """What we remember about one source between polls."""

    source_id: str
    name: str = ""
    url: str = ""
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    baseline_done: bool = False
    link_count: int = 0
    consecutive_failures: int = 0
    failing: bool = False
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_outcome: str | None = None
    next_due: datetime | None = None
    selectors: str | None = None
    """Selectors learned from the generic readers (JSON: {"listing": {...}, "article": {...}}), or None."""


@dataclass(slots=True)
class ArticleState:
    """One article (identity: source and canonical URL) and its fetch/lifecycle bookkeeping."""

    source_id: str
    url: str
    first_seen: datetime
    id: int | None = None
    doc_id: str | None = None
    status: str = "live"
    on_listing: bool = True
    baseline: bool = False
    last_seen: datetime | None = None
    last_changed: datetime | None = None
    version: int = 0
    content_hash: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    miss_count: int = 0
    first_miss_at: datetime | None = None
    fail_count: int = 0
    last_error: str | None = None
    last_fetch_at: datetime | None = None
    next_fetch_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One distinct state of an article's content. `same_as` names the earlier version it repeats, if any."""

    version: int
    fetched_at: datetime
    title: str
    published: str | None
    text: str
    content_hash: str
    raw_zlib: bytes | None = None
    """The page's HTML compressed with storage.compress_raw, exactly as stored; zlib.decompress gives the HTML."""
    same_as: int | None = None
    reader: str | None = None
    """How it was read: "selectors", "generic" (no selectors for it), "fallback" (its selectors failed on the page,
    read generically); None for a version stored before this was recorded."""


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One state change, stored as the exact JSON object sent to webhooks."""

    id: str
    type: str
    source_id: str
    created_at: datetime
    body: bytes
    article_url: str | None = None
    seq: int | None = None

    def payload(self) -> dict[str, Any]:
        """Return the decoded event object."""
        import json

        value: dict[str, Any] = json.loads(self.body)
        return value


@dataclass(frozen=True, slots=True)
class ArticleSummary:
    """One article as a list shows it: identity, state, and its latest version's title and date."""

    id: int
    source_id: str
    url: str
    status: str
    version: int
    first_seen: datetime
    last_changed: datetime | None
    title: str
    published: str | None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """An article that matches a search, with a plain-text window of its body around the first match."""

    article: ArticleSummary
    snippet: str


@dataclass(slots=True)
class DeliveryRecord:
    """One (event, webhook) pair in the outbox."""

    id: int
    event_id: str
    webhook_id: str
    order_key: str
    state: str
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    last_response: str | None = None
    delivered_at: datetime | None = None


class Store(Protocol):
    """What the monitor needs from persistence. Backends: SQLite (default) and PostgreSQL."""

    def close(self) -> None:
        """Release the connection."""

    def ping(self) -> bool:
        """Return whether the database answers."""

    def transaction(self) -> AbstractContextManager[None]:
        """Group the writes inside the block into one atomic commit."""

    # sources
    def source_state(self, source_id: str) -> SourceState | None:
        """Return the remembered state of a source, or None before its first poll."""

    def source_states(self) -> list[SourceState]:
        """Return every source's state."""

    def save_source_state(self, state: SourceState) -> None:
        """Insert or replace a source's state."""

    # articles and versions
    def articles(self, source_id: str) -> dict[str, ArticleState]:
        """Return the source's articles keyed by URL."""

    def articles_for_check(
        self, source_id: str, now: datetime, listing: Sequence[str] | None
    ) -> dict[str, ArticleState]:
        """Return the articles one check can touch, keyed by URL: those due by `now`, and (when the listing was
        read) those on the listing before or named in `listing`."""

    def count_listed(self, source_id: str) -> int:
        """Return how many of the source's articles are on its listing."""

    def find_article(self, url: str) -> ArticleState | None:
        """Return the article with this URL in any source, or None."""

    def find_articles_by_doc_id(self, doc_id: str) -> list[ArticleState]:
        """Return the articles (of any source) whose document id is `doc_id`, oldest first."""

    def save_article(self, article: ArticleState) -> int:
        """Insert or update an article; return its id."""

    def add_version(self, article_id: int, version: VersionRecord) -> None:
        """Append a version to an article's history."""

    def versions(self, article_id: int) -> list[VersionRecord]:
        """Return an article's versions, oldest first, without raw HTML."""

    def version(self, article_id: int, number: int) -> VersionRecord | None:
        """Return one version (with its compressed HTML, `raw_zlib`), or None."""

    def version_hashes(self, article_id: int) -> dict[str, int]:
        """Return each content hash the article has had, mapped to the first version that had it."""

    def export_rows(self, source_id: str | None = None) -> Iterator[tuple[ArticleState, VersionRecord]]:
        """Yield each article that has content, with its latest version, ordered by source then first seen."""

    def count_versions(self) -> int:
        """Return how many versions are stored in all."""

    # events and outbox
    def add_event(self, event: EventRecord, webhook_ids: list[str], order_key: str) -> None:
        """Store an event and one pending delivery per webhook, in the caller's transaction."""

    def events(
        self, *, since: datetime | None = None, type: str | None = None, source_id: str | None = None
    ) -> Iterator[EventRecord]:
        """Yield stored events oldest first, filtered."""

    def event(self, event_id: str) -> EventRecord | None:
        """Return one event, or None."""

    def due_deliveries(self, now: datetime, limit: int, webhook_id: str | None = None) -> list[DeliveryRecord]:
        """Return pending deliveries whose time has come and that head their (webhook, order key) queue."""

    def next_due(self, webhook_id: str | None = None) -> datetime | None:
        """Return the earliest next attempt time of any pending delivery (of one webhook), or None."""

    def deliveries(self, *, state: str | None = None, webhook_id: str | None = None) -> list[DeliveryRecord]:
        """Return outbox rows, oldest first, filtered."""

    def save_delivery(self, delivery: DeliveryRecord) -> None:
        """Record the outcome of an attempt (state, attempts, next time, last status and error); ends its claim."""

    def claim_delivery(self, delivery_id: int, owner: str, now: datetime, until: datetime) -> bool:
        """Claim a pending delivery for `owner` until `until`; return False if another holds a live lease on it."""

    def lease_holders(self) -> set[str]:
        """Return the owners holding claims on pending deliveries (live or expired)."""

    def release_leases(self, owner: str) -> int:
        """Drop every claim `owner` holds (it is known to be dead); return how many."""

    def expire_deliveries(self, webhook_id: str, created_before: datetime, now: datetime, reason: str) -> int:
        """Dead-letter the webhook's unclaimed pending deliveries created before `created_before`; return how many."""

    def claim_service(self, config_id: str) -> None:
        """Register a running service of the config `config_id`; raise StoreBusyError if one of another config runs."""

    def claim_writer(self, wait_s: float) -> None:
        """Become the store's one polling writer, waiting up to `wait_s`; raise StoreBusyError if another stays."""

    def requeue(self, *, event_ids: list[str] | None, failed: bool, webhook_id: str | None, now: datetime) -> int:
        """Make matching deliveries pending again, due now; return how many."""

    def outbox_summary(self, now: datetime) -> tuple[int, float]:
        """Return the number of pending deliveries and the age in seconds of the oldest one."""

    # reads for people (web view, feeds, `monitor search`)
    def article_counts(self) -> dict[str, int]:
        """Return how many articles each source has."""

    def article_count(self, source_id: str) -> int:
        """Return how many articles one source has."""

    def article_page(self, source_id: str, *, offset: int, limit: int) -> list[ArticleSummary]:
        """Return a page of the source's articles, newest first."""

    def article_summaries(self, article_ids: Collection[int]) -> dict[int, ArticleSummary]:
        """Return the summaries of these articles, keyed by id."""

    def recent_events(
        self,
        *,
        types: Collection[str] | None = None,
        source_id: str | None = None,
        before_seq: int | None = None,
        limit: int = 50,
    ) -> list[EventRecord]:
        """Return stored events newest first, filtered by type and source, older than `before_seq` if given."""

    def search(self, query: str, *, limit: int = 20, offset: int = 0, source_id: str | None = None) -> list[SearchHit]:
        """Return the articles whose latest title or body contains every word of `query` (any case), newest first."""
