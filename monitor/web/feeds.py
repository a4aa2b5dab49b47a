"""Atom 1.0 and JSON Feed 1.1 documents of stored events: one entry per event, ids stable across restarts; pure."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any
from xml.etree import ElementTree as ET

from monitor.web.diffview import Segment, changed_paragraphs

__all__ = [
    "ARTICLE_EVENTS",
    "FeedEntry",
    "FeedInfo",
    "atom_feed",
    "entry_from_event",
    "json_feed",
    "parse_event_filter",
]

ARTICLE_EVENTS = ("article.published", "article.updated", "article.removed", "article.restored")
ATOM_NS = "http://www.w3.org/2005/Atom"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
EXCERPT_CHARS = 600
MAX_CHANGED_PARAGRAPHS = 12
# Characters XML 1.0 forbids (C0 controls but tab/newline/return, surrogates, U+FFFE/U+FFFF): scraped text has them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_HEADLINES = {
    "article.published": "New",
    "article.updated": "Edited",
    "article.removed": "Removed",
    "article.restored": "Restored",
    "source.failing": "Source failing",
    "source.recovered": "Source recovered",
}


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """What a whole feed says about itself."""

    scope: str
    title: str
    self_url: str
    home_url: str


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One event as a feed entry; `html` is the entry's content, built from escaped text only."""

    id: str
    kind: str
    title: str
    link: str | None
    source_id: str
    source_name: str
    at: str
    published: str | None
    """The article's own publication time (RFC 3339) when the page gave one, else None."""
    text: str
    html: str


def clean(text: str | None) -> str:
    """Return text without the characters XML 1.0 cannot carry."""
    return _NOT_XML.sub("", text or "")


def parse_event_filter(text: str | None) -> tuple[str, ...] | None:
    """Parse `?events=published,updated` (short or full names) into event types; None for an unknown name."""
    if not text:
        return ARTICLE_EVENTS
    kinds = []
    for name in (part.strip() for part in text.split(",")):
        kind = name if "." in name else f"article.{name}"
        if kind not in ARTICLE_EVENTS and kind not in _HEADLINES:
            return None
        kinds.append(kind)
    return tuple(kinds)


def _marked(segments: Sequence[Segment]) -> str:
    tags = {"same": ("", ""), "ins": ("<ins>", "</ins>"), "del": ("<del>", "</del>")}
    return "".join(tags[s.kind][0] + escape(clean(s.text)) + tags[s.kind][1] for s in segments)


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"


def _update_html(previous: dict[str, Any], article: dict[str, Any]) -> str:
    parts = []
    if previous.get("title") != article.get("title"):
        parts.append(f"<p>Title was: <del>{escape(clean(previous.get('title')))}</del></p>")
    pairs = changed_paragraphs(previous.get("text"), article.get("text"))
    for pair in pairs[:MAX_CHANGED_PARAGRAPHS]:
        if pair.old:
            parts.append(f"<p>{_marked(pair.old)}</p>")
        if pair.new:
            parts.append(f"<p>{_marked(pair.new)}</p>")
    if len(pairs) > MAX_CHANGED_PARAGRAPHS:
        parts.append(f"<p>… and {len(pairs) - MAX_CHANGED_PARAGRAPHS} more changed paragraphs</p>")
    return "".join(parts) or "<p>No visible change in the text.</p>"


def _content(kind: str, data: dict[str, Any]) -> tuple[str, str]:
    """Return the entry's (plain text, HTML) content."""
    article = data.get("article") or {}
    source = data.get("source") or {}
    head = f"{_HEADLINES.get(kind, kind)} on {source.get('name') or source.get('id', '')}"
    if article.get("published"):
        head += f", published {str(article['published'])[:10]}"
    if kind == "article.updated" and "previous" in data:
        body = _update_html(data["previous"], article)
        changes = data.get("changes", {}).get("text", {}).get("diff", "")
        return clean(f"{head}. Changes: {changes}"), f"<p>{escape(clean(head))}.</p>{body}"
    if kind.startswith("source."):
        reason = data.get("reason") or ""
        text = f"{head}: {reason}" if reason else head
        return clean(text), f"<p>{escape(clean(text))}</p>"
    excerpt = _excerpt(clean(article.get("text")))
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in excerpt.split("\n") if p.strip())
    return clean(f"{head}. {excerpt}"), f"<p>{escape(clean(head))}.</p>{paragraphs}"


def _rfc3339(value: str | None) -> str | None:
    """Return the article's date if it is a full time with an offset (feeds need one), else None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.isoformat() if moment.tzinfo is not None else None


def entry_from_event(event_id: str, kind: str, payload: dict[str, Any]) -> FeedEntry:
    """Return the feed entry of one stored event (its decoded JSON body)."""
    data = payload.get("data") or {}
    article = data.get("article") or {}
    source = data.get("source") or {}
    text, html = _content(kind, data)
    title = article.get("title") or source.get("name") or kind
    return FeedEntry(
        id=f"urn:ministry-monitor:event:{event_id}",
        kind=kind,
        title=clean(f"[{_HEADLINES.get(kind, kind)}] {title}"),
        link=article.get("url"),
        source_id=clean(source.get("id", "")),
        source_name=clean(source.get("name") or source.get("id", "")),
        at=payload.get("timestamp", ""),
        published=_rfc3339(article.get("published")),
        text=text,
        html=html,
    )


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    if text is not None:
        element.text = clean(text)
    return element


def _feed_updated(entries: Sequence[FeedEntry], now: datetime) -> str:
    return entries[0].at if entries else now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom_feed(info: FeedInfo, entries: Sequence[FeedEntry], now: datetime) -> bytes:
    """Return an Atom 1.0 document, newest entry first; `updated` is the newest entry's time (else `now`)."""
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "id", f"urn:ministry-monitor:feed:{info.scope}")
    _sub(feed, "title", info.title)
    _sub(feed, "updated", _feed_updated(entries, now))
    _sub(feed, "link", rel="self", href=info.self_url, type="application/atom+xml")
    _sub(feed, "link", rel="alternate", href=info.home_url, type="text/html")
    _sub(_sub(feed, "author"), "name", "ministry-monitor")
    _sub(feed, "generator", "ministry-monitor")
    for entry in entries:
        item = _sub(feed, "entry")
        _sub(item, "id", entry.id)
        _sub(item, "title", entry.title)
        _sub(item, "updated", entry.at)
        _sub(item, "published", entry.published or entry.at)
        if entry.link:
            _sub(item, "link", rel="alternate", href=entry.link, type="text/html")
        _sub(_sub(item, "author"), "name", entry.source_name)
        _sub(item, "category", term=entry.kind)
        _sub(item, "category", term=entry.source_id, label=entry.source_name)
        _sub(item, "content", entry.html, type="html")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def json_feed(info: FeedInfo, entries: Sequence[FeedEntry], now: datetime) -> bytes:
    """Return a JSON Feed 1.1 document, newest item first."""
    items = []
    for entry in entries:
        item: dict[str, Any] = {
            "id": entry.id,
            "title": entry.title,
            "content_html": entry.html,
            "content_text": entry.text,
            "date_published": entry.published or entry.at,
            "date_modified": entry.at,
            "authors": [{"name": entry.source_name}],
            "tags": [entry.kind, entry.source_id],
        }
        if entry.link:
            item["url"] = entry.link
        items.append(item)
    document = {
        "version": JSON_FEED_VERSION,
        "title": info.title,
        "home_page_url": info.home_url,
        "feed_url": info.self_url,
        "items": items,
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
