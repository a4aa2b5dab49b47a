"""Find an article's own headline and publication date on a page nobody wrote selectors for; pure, clock-free.

The headline is the page's visible <h1> that the metadata agrees with (never a screen-reader or logo <h1>, never
the <title> with its site suffix, never a date glued in front). The date comes from what the page declares for
machines (JSON-LD, meta, <time>), then from the text around the headline, then from the URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.pages.dates import date_from_machine, date_from_text, date_from_url, date_label, publication_date
from monitor.pages.text import fold, paragraphs

__all__ = ["declares_article", "find_headline", "find_published", "is_only_a_date", "page_language"]

_HIDDEN_CLASS = re.compile(r"sr-only|visually-?hidden|screen-?reader|hidden|invisible|logo|site-?title|brand", re.I)
_SEPARATORS = re.compile(r"\s+[|–—·•:/»«-]{1,2}\s+")
_PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "published_time",
    "datepublished",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.date",
    "dcterms.created",
    "dc.date.created",
    "govuk:first-published-at",
    "date",
    "pubdate",
    "publishdate",
    "publish_date",
    "publication_date",
    "sailthru.date",
    "parsely-pub-date",
    "article.published",
)
_NEAR_TITLE_CHARS = 600


def page_language(tree: LexborHTMLParser) -> str | None:
    """Return the page's declared language (<html lang>, or Content-Language meta), or None."""
    html = tree.css_first("html")
    lang = html.attributes.get("lang") if html is not None else None
    if not lang:
        meta = tree.css_first('meta[http-equiv="content-language" i], meta[name="language" i]')
        lang = meta.attributes.get("content") if meta is not None else None
    return lang.strip() if lang else None


def _meta(tree: LexborHTMLParser, *names: str) -> str | None:
    for node in tree.css("meta[content]"):
        attrs = node.attributes
        key = (attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or "").strip().lower()
        if key in names and (content := fold(attrs.get("content") or "")):
            return content
    return None


def find_headline(tree: LexborHTMLParser) -> LexborNode | None:
    """Return the element holding the article's headline: the visible <h1> the page's metadata agrees with."""
    claimed = " ".join(
        filter(None, (_meta(tree, "og:title", "twitter:title"), _document_title(tree), _json_ld_headline(tree)))
    ).casefold()
    best: tuple[int, LexborNode] | None = None
    for rank, node in enumerate(tree.css("h1, [itemprop='headline'], h2")):
        text = headline_text(node)
        if not text or _is_furniture(node):
            continue
        score = (3 if text.casefold() in claimed else 0) + (2 if node.tag == "h1" else 0) + _inside_article(node)
        score = score * 100 - rank
        if best is None or score > best[0]:
            best = (score, node)
    if best is None or best[0] < 200:  # an h2 nobody's metadata names is a section heading, not the headline
        return _titled_element(tree, title_from_metadata(tree))
    return best[1]


def _titled_element(tree: LexborHTMLParser, title: str | None) -> LexborNode | None:
    """Return the element (not <title>) whose whole text is the metadata's headline, e.g. a <div class=title>."""
    if not title:
        return None
    for node in tree.css("[class*='title' i], [id*='title' i], h1, h2, h3, strong, b, td, font, span"):
        if node.parent is not None and node.parent.tag != "head" and headline_text(node) == title:
            return node
    return None


def headline_text(node: LexborNode) -> str:
    """Return a headline's text without a date or label written in its own element in front of it."""
    parts: list[str] = []
    for child in node.iter(include_text=True):
        text = child.text_content or "" if child.tag == "-text" else child.text(deep=True, separator="")
        if not parts and not text.strip():
            continue
        if child.tag != "-text" and not parts and is_only_a_date(fold(text)):
            continue
        parts.append(text)
    return fold("".join(parts))


def is_only_a_date(text: str) -> bool:
    """Return whether `text` is a date and little else (a dateline such as "24.01.2022" or "Bern, 17.08.2007")."""
    return date_from_text(text) is not None and len(re.sub(r"[\d\s.,:/年月日-]", "", text)) <= 12


def _is_furniture(node: LexborNode) -> bool:
    ancestor: LexborNode | None = node
    for _ in range(4):
        if ancestor is None:
            return False
        attrs = ancestor.attributes
        if _HIDDEN_CLASS.search(f"{attrs.get('class') or ''} {attrs.get('id') or ''}"):
            return True
        if ancestor.tag in ("nav", "footer", "aside") or attrs.get("aria-hidden") == "true" or "hidden" in attrs:
            return True
        ancestor = ancestor.parent
    return False


def _inside_article(node: LexborNode) -> int:
    ancestor = node.parent
    while ancestor is not None:
        if ancestor.tag in ("article", "main") or ancestor.attributes.get("role") == "main":
            return 1
        ancestor = ancestor.parent
    return 0


def _document_title(tree: LexborHTMLParser) -> str | None:
    node = tree.css_first("head title") or tree.css_first("title")
    return fold(node.text()) if node is not None else None


def title_from_metadata(tree: LexborHTMLParser) -> str | None:
    """Return the headline the metadata gives (og:title, JSON-LD, <title>) with the site's name cut off."""
    site = (_meta(tree, "og:site_name", "application-name") or "").casefold()
    for candidate in (_meta(tree, "og:title", "twitter:title"), _json_ld_headline(tree), _document_title(tree)):
        if candidate:
            parts = [p for p in _SEPARATORS.split(candidate) if p and p.casefold() != site]
            if parts:
                return max(parts, key=len)
    return None


def _json_ld(tree: LexborHTMLParser) -> Iterator[dict[str, Any]]:
    for node in tree.css('script[type="application/ld+json"]'):
        try:
            data = json.loads(node.text() or "null")
        except ValueError:
            continue
        yield from _objects(data, 0)


def _objects(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data:
            yield from _objects(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if key in data:
                yield from _objects(data[key], depth + 1)


_ARTICLE_TYPES = frozenset(
    {"Article", "NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle", "BlogPosting", "Report", "PressRelease"}
)


def declares_article(tree: LexborHTMLParser) -> bool:
    """Return whether the page's JSON-LD says it is an article (a listing of items is then a listicle)."""
    for item in _json_ld(tree):
        kinds = item.get("@type")
        if isinstance(kinds, str) and kinds in _ARTICLE_TYPES:
            return True
        if isinstance(kinds, list) and any(isinstance(kind, str) and kind in _ARTICLE_TYPES for kind in kinds):
            return True
    return False


def _json_ld_headline(tree: LexborHTMLParser) -> str | None:
    for item in _json_ld(tree):
        value = item.get("headline")
        if isinstance(value, str) and value.strip():
            return fold(value)
    return None


def find_published(
    tree: LexborHTMLParser, headline: LexborNode | None, url: str, day_first: bool
) -> datetime | date | None:
    """Return the publication date: JSON-LD, meta, <time>, text around the headline, then the URL; or None."""
    for item in _json_ld(tree):
        value = item.get("datePublished") or item.get("dateCreated")
        if isinstance(value, str) and (found := date_from_machine(value)) is not None:
            return found
    meta = _meta(tree, *_PUBLISHED_META)
    if meta and (found := date_from_machine(meta)) is not None:
        return found
    found = _time_element(tree)
    if found is None and headline is not None:
        found = publication_date(_around(headline), day_first)
    return found if found is not None else date_from_url(url)


_ATTRIBUTED = (
    "[itemprop='datePublished'], time[datetime], abbr[title], [class*='date'][datetime], [class*='date'][title], "
    "[class*='date'][content]"
)


def _time_element(tree: LexborHTMLParser) -> datetime | date | None:
    """Return the date of the first element labelled as the publication date, else of the first unlabelled
    `<time>` (or itemprop=datePublished); never one labelled as a change date ("Updated", "Stand")."""
    unlabelled: datetime | date | None = None
    for node in tree.css(_ATTRIBUTED):
        attrs = node.attributes
        raw = attrs.get("datetime") or attrs.get("content") or attrs.get("title") or node.text()
        found = date_from_machine(raw) if raw else None
        if found is None:
            continue
        label = "published" if attrs.get("itemprop") == "datePublished" or "pubdate" in attrs else _label_of(node)
        if label == "published":
            return found
        if label == "" and unlabelled is None and node.tag == "time" and not _is_furniture(node):
            unlabelled = found
    return unlabelled


def _label_of(node: LexborNode) -> str:
    """Return date_label() of the words just before `node`: in its parent, or a <dt> label before its <dd>."""
    parent = node.parent
    before = ""
    if parent is not None:
        whole = fold(parent.text(deep=True, separator=" "))
        own = fold(node.text(deep=True, separator=" "))
        before = whole[: whole.find(own)] if own and own in whole else whole
        if not before.strip() and parent.tag == "dd" and parent.prev is not None:
            label = parent.prev if parent.prev.tag == "dt" else parent.prev.prev
            before = fold(label.text(deep=True, separator=" ")) if label is not None else ""
    return date_label(before[-40:])


def _around(headline: LexborNode) -> str:
    """Return the text just around the headline: its container's, up to a few hundred characters either side."""
    container = headline
    for _ in range(3):
        parent = container.parent
        if parent is None or parent.tag in ("body", "html"):
            break
        container = parent
        if len(fold(container.text(deep=True, separator=" "))) > _NEAR_TITLE_CHARS:
            break
    text = " ".join(paragraphs(container))  # without the scripts' source
    title = fold(headline.text(deep=True, separator=" "))
    at = text.find(title)
    if at < 0:
        return text[: 2 * _NEAR_TITLE_CHARS]
    return text[max(0, at - _NEAR_TITLE_CHARS // 2) : at + len(title) + _NEAR_TITLE_CHARS]
