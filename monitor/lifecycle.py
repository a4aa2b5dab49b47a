"""Decide what one article fetch means: a new version, an edit, a removal, a restoration, or nothing; pure.

Rules (README "Article lifecycle"): a version only for new normalised content; a return to content seen before is
recorded (`same_as`) but fires no second `article.updated`; removal only after `confirm_removal` misses spanning
`confirm_removal_after`; failures (timeouts, 5xx) neither count as misses nor reset them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.config import Source
from monitor.content import content_hash
from monitor.pages import Extracted, Observation
from storage import ArticleState, VersionRecord

__all__ = ["Decision", "decide", "next_revisit"]

MAX_REVISIT_GAP = timedelta(days=1)
RETRY_FAILED_AFTER = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Decision:
    """The article's new state, the version to append (if any) and the event to fire (if any)."""

    article: ArticleState
    version: VersionRecord | None = None
    event: str | None = None


def decide(article: ArticleState, seen: dict[str, int], obs: Observation, source: Source, now: datetime) -> Decision:
    """Return what `obs` means for `article`, given the content hashes it has had (`seen`) and the time."""
    current = replace(article, last_fetch_at=now)
    if obs.kind == "failed":
        return _failed(current, obs, source, now)
    if obs.kind == "missing":
        return _missing(current, obs, source, now)
    restored = current.status == "removed"
    current = replace(
        current, status="live", fail_count=0, last_error=None, miss_count=0, first_miss_at=None, last_seen=now
    )
    if obs.kind == "not_modified" or obs.extracted is None:
        current.next_fetch_at = next_revisit(current, source, now)
        return Decision(current, event="article.restored" if restored else None)
    return _content(current, seen, obs, obs.extracted, source, now, restored)


def _content(
    article: ArticleState,
    seen: dict[str, int],
    obs: Observation,
    extracted: Extracted,
    source: Source,
    now: datetime,
    restored: bool,
) -> Decision:
    digest = obs.content_hash or content_hash(extracted.title, extracted.published, extracted.text)
    article.etag, article.last_modified = obs.etag, obs.last_modified
    article.doc_id = extracted.doc_id or article.doc_id
    article.next_fetch_at = next_revisit(article, source, now)
    if digest == article.content_hash:
        return Decision(article, event="article.restored" if restored else None)
    same_as = seen.get(digest)
    version = VersionRecord(
        version=article.version + 1,
        fetched_at=now,
        title=extracted.title,
        published=extracted.published,
        text=extracted.text,
        content_hash=digest,
        raw_zlib=None if same_as else obs.raw_zlib,
        same_as=same_as,
        reader=obs.reader,
    )
    first = article.version == 0
    article.version, article.content_hash, article.last_changed = version.version, digest, now
    if restored:
        event: str | None = "article.restored"
    elif first:
        event = None if article.baseline else "article.published"
    else:
        event = None if same_as else "article.updated"
    return Decision(article, version=version, event=event)


def _failed(article: ArticleState, obs: Observation, source: Source, now: datetime) -> Decision:
    article.fail_count += 1
    article.last_error = obs.error
    article.next_fetch_at = now + min(source.interval, RETRY_FAILED_AFTER) * min(article.fail_count, 12)
    return Decision(article)


def _missing(article: ArticleState, obs: Observation, source: Source, now: datetime) -> Decision:
    article.last_error = obs.error
    if article.version == 0:
        # Never had content: not an article yet (an error page or a dead link), so nothing to remove.
        return _failed(article, obs, source, now)
    if article.status == "removed":
        article.next_fetch_at = next_revisit(article, source, now)
        return Decision(article)
    article.miss_count += 1
    article.first_miss_at = article.first_miss_at or now
    confirmed = article.miss_count >= source.confirm_removal
    if confirmed and now - article.first_miss_at >= source.confirm_removal_after:
        article.status, article.last_changed = "removed", now
        article.next_fetch_at = next_revisit(article, source, now)
        return Decision(article, event="article.removed")
    if confirmed:
        article.next_fetch_at = article.first_miss_at + source.confirm_removal_after
    else:
        article.next_fetch_at = now + source.confirm_removal_after / max(1, source.confirm_removal - 1)
    return Decision(article)


def next_revisit(article: ArticleState, source: Source, now: datetime) -> datetime | None:
    """Return when to re-fetch an article: often while new, then less often, never past the revisit horizon.

    The gap is a quarter of the article's age, at least the source interval and at most a day, shifted by up to
    ±10% (fixed per URL) so that revisits of one host spread out instead of arriving together.
    """
    if source.revisit <= timedelta(0):
        return None
    age = now - article.first_seen
    if age >= source.revisit:
        return None
    gap = min(max(age / 4, source.interval), max(MAX_REVISIT_GAP, source.interval))
    spread = int.from_bytes(hashlib.blake2b(article.url.encode(), digest_size=2).digest()) / 65535 - 0.5
    return now + gap * (1 + spread / 5)
