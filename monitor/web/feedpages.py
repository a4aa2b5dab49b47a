"""The feed endpoints: `/feeds/all.atom`, `/feeds/{source_id}.atom` and their `.json` (JSON Feed 1.1) twins."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from monitor.web.context import web_context
from monitor.web.feeds import FeedInfo, atom_feed, entry_from_event, json_feed, parse_event_filter

__all__ = ["feed"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MEDIA_TYPES = {"atom": "application/atom+xml; charset=utf-8", "json": "application/feed+json; charset=utf-8"}


def _limit(request: Request) -> int:
    text = request.query_params.get("limit", "")
    if not text:
        return DEFAULT_LIMIT
    if not text.isdigit() or int(text) < 1:
        raise HTTPException(400, "limit must be a positive number")
    return min(int(text), MAX_LIMIT)


def _self_url(request: Request) -> str:
    # The token a feed reader put in its URL is not repeated inside the document it reads.
    return str(request.url.remove_query_params("token"))


async def feed(request: Request) -> Response:
    """Return the newest events (`?events=`, `?limit=`) of one source or all, as Atom or JSON Feed."""
    context = web_context(request)
    scope, _, fmt = request.path_params["name"].rpartition(".")
    if fmt not in MEDIA_TYPES or not scope:
        raise HTTPException(404, "feeds are /feeds/all.atom, /feeds/all.json, /feeds/{source}.atom or .json")
    kinds = parse_event_filter(request.query_params.get("events"))
    if kinds is None:
        raise HTTPException(400, "events must be a comma-separated list of published, updated, removed, restored")
    limit = _limit(request)
    source_id = None if scope == "all" else scope
    names = {s.id: s.name for s in context.config.sources}
    known = await context.reader.call(lambda store: source_id is None or store.source_state(source_id) is not None)
    if source_id is not None and source_id not in names and not known:
        raise HTTPException(404, f"no source {source_id!r}")
    found = await context.reader.call(lambda store: store.recent_events(types=kinds, source_id=source_id, limit=limit))
    entries = [entry_from_event(e.id, e.type, e.payload()) for e in found]
    title = "all sources" if source_id is None else names.get(source_id, source_id)
    home = str(
        request.url_for(
            "dashboard" if source_id is None else "source", **({"source_id": source_id} if source_id else {})
        )
    )
    info = FeedInfo(scope=scope, title=f"ministry-monitor: {title}", self_url=_self_url(request), home_url=home)
    build = atom_feed if fmt == "atom" else json_feed
    return Response(
        build(info, entries, context.clock()),
        media_type=MEDIA_TYPES[fmt],
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )
