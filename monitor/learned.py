"""Selectors a source learns from the generic readers: kept with its state as JSON, applied where its config gives
none, and shown with where each selector came from. Pure: values in, values out."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from monitor.config import Source

__all__ = [
    "LEARN_AFTER",
    "agreed",
    "decode",
    "encode",
    "learn",
    "selector_origins",
    "wants_proposals",
    "with_learned",
]

LEARN_AFTER = 3
"""Articles read generically, with a proposal each, before a source keeps the article selectors they agree on."""
_ARTICLE_FIELDS = ("title", "date", "body")
_DATE_FROM_SELECTOR = ("selector", "page", "title", "url")

Learned = dict[str, dict[str, str]]


def decode(text: str | None) -> Learned:
    """Return the learned selectors stored with a source's state ({} for none or for unreadable JSON)."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {
        part: {k: v for k, v in fields.items() if isinstance(v, str)}
        for part, fields in value.items()
        if part in ("listing", "article") and isinstance(fields, dict)
    }


def encode(learned: Learned) -> str | None:
    """Return the JSON kept with the source's state (None when nothing is learned)."""
    kept = {part: fields for part, fields in learned.items() if fields}
    return json.dumps(kept, sort_keys=True, ensure_ascii=False) if kept else None


def with_learned(source: Source, learned: Learned) -> Source:
    """Return the source reading with its learned selectors where its config gives none (named in `learned`)."""
    names: list[str] = []
    listing = source.listing
    links = learned.get("listing", {}).get("links")
    if listing.links is None and links:
        listing = dataclasses.replace(listing, links=links)
        names.append("listing.links")
    article = source.article
    if all(getattr(article, f) is None for f in _ARTICLE_FIELDS):  # only a source with no article selectors learns
        fields = {f: v for f, v in learned.get("article", {}).items() if f in _ARTICLE_FIELDS}
        if fields:
            article = dataclasses.replace(article, **fields)  # type: ignore[arg-type]
            if "date" in fields:
                article = dataclasses.replace(article, date_from=_DATE_FROM_SELECTOR)
            names += [f"article.{f}" for f in fields]
    if not names:
        return source
    return dataclasses.replace(source, listing=listing, article=article, learned=frozenset(names))


def agreed(proposals: list[dict[str, str]]) -> dict[str, str]:
    """Return the selectors that every one of at least LEARN_AFTER proposals names alike."""
    if len(proposals) < LEARN_AFTER:
        return {}
    first, *rest = proposals
    return {field: value for field, value in first.items() if all(p.get(field) == value for p in rest)}


def selector_origins(source: Source, stored: str | None) -> dict[str, Any]:
    """Return each selector the source reads with and where it came from: config, template, learned or generic."""
    effective = with_learned(source, decode(stored))
    fields = [("listing", "links")] + [("article", f) for f in _ARTICLE_FIELDS]
    out: dict[str, Any] = {"listing": {}, "article": {}}
    for part, name in fields:
        key = f"{part}.{name}"
        value = getattr(getattr(effective, part), name)
        if value is None:
            origin = "generic"
        elif key in effective.learned:
            origin = "learned"
        elif key in source.from_template:
            origin = "template"
        else:
            origin = "config"
        out[part][name] = {"selector": value, "from": origin}
    return out


def learn(stored: str | None, part: str, selectors: dict[str, str | None]) -> str | None:
    """Return the stored JSON with these selectors of `part` ("listing" or "article") learned (None: forgotten)."""
    learned = decode(stored)
    fields = learned.setdefault(part, {})
    for name, selector in selectors.items():
        if selector is None:
            fields.pop(name, None)
        else:
            fields[name] = selector
    return encode(learned)


def wants_proposals(source: Source) -> bool:
    """Return whether the source reads articles with no selectors of any kind yet, and so learns them."""
    return all(getattr(source.article, f) is None for f in _ARTICLE_FIELDS)
