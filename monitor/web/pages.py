"""The HTML pages: dashboard, a source's articles, an article's versions and diffs, search, the event log."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from monitor.config import EVENT_TYPES
from monitor.pages import normalise_url
from monitor.web.context import render, web_context
from monitor.web.diffview import changed_paragraphs, inline_diff
from monitor.web.present import source_rows
from storage import ArticleState, EventRecord, Store, VersionRecord

__all__ = ["article", "article_raw", "dashboard", "events", "search", "source"]

ARTICLES_PER_PAGE = 50
HITS_PER_PAGE = 20
EVENTS_PER_PAGE = 50
RECENT_EVENTS = 10


@dataclass(frozen=True, slots=True)
class EventRow:
    """One event as the log shows it."""

    seq: int | None
    type: str
    source_id: str
    at: datetime
    title: str
    url: str | None
    detail: str


def _event_row(event: EventRecord) -> EventRow:
    data = event.payload().get("data") or {}
    article = data.get("article") or {}
    detail = data.get("reason") or ""
    if event.type == "article.updated":
        changed = sorted((data.get("changes") or {}).keys())
        detail = "changed: " + ", ".join(changed) if changed else ""
    return EventRow(
        seq=event.seq,
        type=event.type,
        source_id=event.source_id,
        at=event.created_at,
        title=article.get("title") or (data.get("source") or {}).get("name") or "",
        url=event.article_url,
        detail=detail,
    )


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    return int(text) if text.isdigit() and 0 < int(text) < 100_000 else 1


async def dashboard(request: Request) -> Response:
    """`/`: every source with its state, failing ones first, and the latest events."""
    context = web_context(request)

    def read(store: Store) -> tuple[Any, ...]:
        return store.source_states(), store.article_counts(), store.recent_events(limit=RECENT_EVENTS)

    states, counts, recent = await context.reader.call(read)
    rows = source_rows(context.config, states, counts)
    return render(request, "index.html", rows=rows, events=[_event_row(e) for e in recent], now=context.clock())


async def source(request: Request) -> Response:
    """`/sources/{id}`: the source's articles, newest first, paged."""
    context = web_context(request)
    source_id = request.path_params["source_id"]
    page = _page_number(request)

    def read(store: Store) -> tuple[Any, ...]:
        summaries = store.article_page(source_id, offset=(page - 1) * ARTICLES_PER_PAGE, limit=ARTICLES_PER_PAGE + 1)
        return store.source_state(source_id), summaries, store.article_count(source_id)

    state, summaries, total = await context.reader.call(read)
    configured = next((s for s in context.config.sources if s.id == source_id), None)
    if state is None and configured is None:
        raise HTTPException(404, f"no source {source_id!r}")
    return render(
        request,
        "source.html",
        source_id=source_id,
        name=configured.name if configured else (state.name if state else source_id),
        site_url=configured.url if configured else (state.url if state else ""),
        state=state,
        articles=summaries[:ARTICLES_PER_PAGE],
        total=total,
        page=page,
        more=len(summaries) > ARTICLES_PER_PAGE,
    )


async def _article_and_versions(request: Request) -> tuple[ArticleState, list[VersionRecord]]:
    url = request.query_params.get("url", "")
    if not url:
        raise HTTPException(400, "give the article's address as ?url=")

    def read(store: Store) -> tuple[ArticleState | None, list[VersionRecord]]:
        found = store.find_article(normalise_url(url))
        return found, store.versions(found.id) if found is not None and found.id is not None else []

    found, versions = await web_context(request).reader.call(read)
    if found is None:
        raise HTTPException(404, "no stored article at this address")
    return found, versions


def _chosen(request: Request, versions: list[VersionRecord]) -> int:
    text = request.query_params.get("v", "")
    numbers = [v.version for v in versions]
    if text.isdigit() and int(text) in numbers:
        return int(text)
    return numbers[-1] if numbers else 0


async def article(request: Request) -> Response:
    """`/article?url=…&v=N`: the versions, and the diff of version N (default: the latest) against the one before."""
    found, versions = await _article_and_versions(request)
    chosen = _chosen(request, versions)
    by_number = {v.version: v for v in versions}
    after, before = by_number.get(chosen), by_number.get(chosen - 1)
    diff: dict[str, Any] = {}
    if after is not None and before is not None:
        diff = {
            "title": inline_diff(before.title, after.title) if before.title != after.title else None,
            "published": (before.published, after.published) if before.published != after.published else None,
            "inline": inline_diff(before.text, after.text),
            "pairs": changed_paragraphs(before.text, after.text),
        }
    return render(
        request,
        "article.html",
        article=found,
        versions=list(reversed(versions)),
        chosen=chosen,
        after=after,
        before=before,
        diff=diff,
    )


async def article_raw(request: Request) -> Response:
    """`/article/raw?url=…&v=N`: version N's page exactly as fetched, as a download that never renders here."""
    found, _ = await _article_and_versions(request)
    text = request.query_params.get("v", "")
    number = int(text) if text.isdigit() else found.version

    def read(store: Store) -> VersionRecord | None:
        return store.version(found.id or 0, number)

    version = await web_context(request).reader.call(read)
    if version is None or version.raw_zlib is None:
        raise HTTPException(404, "this version's page was not kept")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", found.url.rstrip("/").rsplit("/", 1)[-1])[:80] or "article"
    return Response(
        zlib.decompress(version.raw_zlib),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{stem}.v{number}.html"',
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


async def search(request: Request) -> Response:
    """`/search?q=…`: articles whose title or body has every word, newest first, with snippets."""
    query = request.query_params.get("q", "").strip()[:200]
    page = _page_number(request)
    hits = []
    if query:
        offset = (page - 1) * HITS_PER_PAGE
        hits = await web_context(request).reader.call(
            lambda store: store.search(query, limit=HITS_PER_PAGE + 1, offset=offset)
        )
    terms = [t for t in query.split() if t]
    return render(
        request,
        "search.html",
        query=query,
        hits=hits[:HITS_PER_PAGE],
        terms=terms,
        page=page,
        more=len(hits) > HITS_PER_PAGE,
    )


async def events(request: Request) -> Response:
    """`/events?source=…&type=…&before=SEQ`: the event log, newest first."""
    kind = request.query_params.get("type") or None
    if kind is not None and kind not in EVENT_TYPES:
        raise HTTPException(400, f"unknown event type {kind!r}")
    source_id = request.query_params.get("source") or None
    before_text = request.query_params.get("before", "")
    before = int(before_text) if before_text.isdigit() else None
    found = await web_context(request).reader.call(
        lambda store: store.recent_events(
            types=None if kind is None else (kind,), source_id=source_id, before_seq=before, limit=EVENTS_PER_PAGE + 1
        )
    )
    rows = [_event_row(e) for e in found[:EVENTS_PER_PAGE]]
    return render(
        request,
        "events.html",
        rows=rows,
        kind=kind,
        source_id=source_id,
        kinds=sorted(EVENT_TYPES),
        sources=[s.id for s in web_context(request).config.sources],
        next_before=rows[-1].seq if len(found) > EVENTS_PER_PAGE and rows else None,
    )
