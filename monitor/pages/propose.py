"""Propose CSS selectors that reproduce what the generic readers found: listing links, title, date and body.

Candidates are built from the ids and classes around the nodes the generic readers chose, simplest first; each
is kept only if reading the page with it gives the generic result (links: by precision and recall; article
fields: exactly). Pure: bytes and records in, selectors out.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.config import Source
from monitor.errors import ExtractError
from monitor.http import decode_html
from monitor.pages.dates import date_from_text
from monitor.pages.extract import Extracted, extract_article, extract_links, normalise_url
from monitor.pages.headline import find_headline
from monitor.pages.text import fold

__all__ = [
    "ListingProposal",
    "Sample",
    "describe",
    "listing_source",
    "page_title",
    "propose_article",
    "propose_listing",
    "verified_selectors",
    "with_article_selectors",
]

_IDENT = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_-]*$")
_GENERATED = re.compile(r"\d{4,}|^(?:ng|js|css|sc|jsx)-|^[a-z]{1,3}-[a-z0-9]{5,}$")
_ANCESTORS = 5
_MIN_F1 = 0.9
_SPACE = re.compile(r"\s+")
_DATE_FROM_SELECTOR = ("selector", "page", "title", "url")


@dataclass(frozen=True, slots=True)
class ListingProposal:
    """A listing-links selector and how well it reproduces the generic finder's links (0-1 each)."""

    selector: str
    precision: float
    recall: float


def _clean(name: str) -> bool:
    return bool(_IDENT.match(name)) and not _GENERATED.search(name)


def describe(node: LexborNode) -> str | None:
    """Return `#id` or `tag.class...` naming this node, or None when it has no usable id or class."""
    node_id = (node.attributes.get("id") or "").strip()
    if node_id and _clean(node_id):
        return f"#{node_id}"
    classes = [c for c in (node.attributes.get("class") or "").split() if _clean(c)]
    if classes:
        return f"{node.tag}." + ".".join(classes)
    return None


def _ancestors(node: LexborNode) -> Iterator[LexborNode]:
    parent = node.parent
    for _ in range(_ANCESTORS):
        if parent is None or parent.tag in ("body", "html"):
            return
        yield parent
        parent = parent.parent


def _candidates(node: LexborNode, leaf: str) -> list[str]:
    """Return selectors for `node` (written `leaf` when it has no name of its own), simplest first."""
    own = describe(node)
    found: list[str] = [own] if own else []
    chain: list[str] = [own or node.tag or "*"]
    for ancestor in _ancestors(node):
        name = describe(ancestor)
        chain.insert(0, name or ancestor.tag or "*")
        if name is None:
            continue
        found.append(f"{name} {leaf}")
        if own and not own.startswith("#"):
            found.append(f"{name} {own}")
        found.append(" ".join(chain))
    found.append(leaf)
    return list(dict.fromkeys(found))


def propose_listing(
    body: bytes, content_type: str | None, url: str, source: Source, links: list[str]
) -> ListingProposal | None:
    """Return the listing selector that best reproduces `links` (the generic finder's), or None if none is close."""
    tree = LexborHTMLParser(decode_html(body, content_type, source_id=source.id, url=url))
    wanted = set(links)
    anchors = [a for a in tree.css("a[href]") if _resolves_to(a, url, wanted)]
    if not anchors:
        return None
    candidates: list[str] = []
    for anchor in anchors[:2]:
        leaf = "li a" if any(a.tag == "li" for a in _ancestors(anchor)) else "a"
        candidates += _candidates(anchor, leaf) + _candidates(anchor, "a")
    best: tuple[float, int, ListingProposal] | None = None
    for rank, selector in enumerate(dict.fromkeys(candidates)):
        trial = dataclasses.replace(source, listing=dataclasses.replace(source.listing, links=selector))
        try:
            got = {link.url for link in extract_links(body, content_type, url, trial)}
        except ExtractError:
            continue
        hits = len(got & wanted)
        precision, recall = hits / len(got), hits / len(wanted)
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        if best is None or (f1, -rank) > (best[0], best[1]):
            best = (f1, -rank, ListingProposal(selector, precision, recall))
    return best[2] if best is not None and best[0] >= _MIN_F1 else None


def _resolves_to(anchor: LexborNode, url: str, wanted: set[str]) -> bool:
    href = (anchor.attributes.get("href") or "").strip()
    return bool(href) and normalise_url(urljoin(url, href)) in wanted


def propose_article(sample: Sample, source: Source) -> dict[str, str]:
    """Return the title, date and body selectors that reproduce the sample's generic reading; a field left out has
    none that does, and stays generic."""
    tree = LexborHTMLParser(decode_html(sample.body, sample.content_type, source_id=source.id, url=sample.url))
    candidates: dict[str, list[str]] = {"body": _body_candidates(tree, sample.read.text)}
    headline = find_headline(tree)
    if headline is not None:
        candidates["title"] = _candidates(headline, headline.tag or "h1")
    if sample.read.published is not None:
        candidates["date"] = _date_candidates(tree, sample.read.published)
    proposed: dict[str, str] = {}
    for field in ("title", "date", "body"):
        found = _first_reproducing(candidates.get(field, []), field, sample, source)
        if found is not None:
            proposed[field] = found
    return proposed


def with_article_selectors(source: Source, selectors: dict[str, str]) -> Source:
    """Return the source reading articles with these selectors (a date selector goes first in date_from)."""
    article = dataclasses.replace(source.article, **selectors)  # type: ignore[arg-type]
    if "date" in selectors:
        article = dataclasses.replace(article, date_from=_DATE_FROM_SELECTOR)
    return dataclasses.replace(source, article=article)


@dataclass(frozen=True, slots=True)
class Sample:
    """One article page and what the generic reader read from it."""

    body: bytes
    content_type: str | None
    url: str
    read: Extracted


def _reproduces(sample: Sample, source: Source, field: str, selector: str) -> bool:
    trial = with_article_selectors(source, {field: selector})
    try:
        got = extract_article(sample.body, sample.content_type, sample.url, trial)
    except ExtractError:
        return False
    read = sample.read
    return (got.title, got.published, got.text) == (read.title, read.published, read.text)


def _first_reproducing(candidates: list[str], field: str, sample: Sample, source: Source) -> str | None:
    return next((selector for selector in candidates if _reproduces(sample, source, field, selector)), None)


def _date_candidates(tree: LexborHTMLParser, published: str) -> list[str]:
    day = published[:10]
    found: list[str] = []
    for node in tree.css("[id], [class], time, meta[content]"):
        raw = node.attributes.get("datetime") or node.attributes.get("content") or ""
        text = raw or fold(node.text(deep=True, separator=" "))
        if not text or len(text) > 80:
            continue
        value = date_from_text(text)
        if value is not None and value.isoformat()[:10] == day:
            found += _candidates(node, node.tag or "div")[:3]
    return list(dict.fromkeys(found))[:12]


def _body_candidates(tree: LexborHTMLParser, text: str) -> list[str]:
    """Return selectors of the elements whose text holds the body's first paragraph and is not far longer."""
    first = _SPACE.sub("", text.split("\n\n", 1)[0])[:40]
    size = len(text)
    found: list[str] = []
    for node in tree.css("div, section, article, main, td"):
        inner = _SPACE.sub("", node.text(deep=True, separator=""))
        if first in inner and len(inner) <= 2 * size + 200 and len(inner) * 3 >= size:
            found += _candidates(node, node.tag or "div")[:3]
    return list(dict.fromkeys(found))[:24]


def listing_source(source: Source, selector: str | None) -> Source:
    """Return the source with this listing-links selector."""
    return dataclasses.replace(source, listing=dataclasses.replace(source.listing, links=selector))


def page_title(body: bytes, content_type: str | None) -> str | None:
    """Return the page's <title>, folded, or None."""
    node = LexborHTMLParser(decode_html(body, content_type)).css_first("title")
    title = fold(node.text(deep=True, separator=" ")) if node is not None else ""
    return title or None


def verified_selectors(selectors: dict[str, str], source: Source, samples: list[Sample]) -> dict[str, str]:
    """Return the selectors that reproduce the generic reading of every sample (the others stay generic)."""
    return {
        field: selector
        for field, selector in selectors.items()
        if all(_reproduces(sample, source, field, selector) for sample in samples)
    }
