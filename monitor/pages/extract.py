"""Read listing and article pages (bytes in, records out) with selectolax; pure: no I/O, no clock.

Scraped content is data: nothing here runs scripts or follows instructions found in a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from monitor.config import ArticleSelectors, Config, ListingSelectors, Source
from monitor.errors import ConfigError, ExtractError
from monitor.http import decode_html, same_site
from monitor.pages.dates import date_from_text, date_from_url, day_first_for, format_published
from monitor.pages.headline import (
    declares_article,
    find_headline,
    find_published,
    headline_text,
    is_only_a_date,
    page_language,
    title_from_metadata,
)
from monitor.pages.linkfinder import find_article_links
from monitor.pages.mainblock import find_main_text
from monitor.pages.text import fold, paragraphs, tidy

__all__ = [
    "Extracted",
    "ListingLink",
    "check_selectors",
    "extract_article",
    "extract_links",
    "is_error_page",
    "looks_like_challenge",
    "normalise_url",
    "not_html",
]

_DOC_ID = re.compile(r"/(t\d{5,}(?:_\d+)?)\.s?html?$")
_SAFE_SCHEMES = frozenset({"http", "https"})
_LISTING_LINKS = 8
_SHORT_TEXT = 600


@dataclass(frozen=True, slots=True)
class ListingLink:
    """One article link found on a listing page."""

    url: str
    title: str


@dataclass(frozen=True, slots=True)
class Extracted:
    """What an article page says: title, ISO publication date (or None), clean body text and ids."""

    title: str
    published: str | None
    text: str
    doc_id: str | None
    canonical_url: str


def normalise_url(url: str) -> str:
    """Return the URL with scheme and host lower-cased, default port and fragment dropped."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    port = parts.port
    if port and not (parts.scheme == "http" and port == 80 or parts.scheme == "https" and port == 443):
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", parts.query, ""))


def _parse(body: bytes, content_type: str | None, source_id: str = "-", url: str = "") -> LexborHTMLParser:
    if (kind := not_html(body, content_type)) is not None:
        message = "the page is empty" if kind == "empty body" else f"not an HTML page ({kind})"
        raise ExtractError(message, source_id=source_id, url=url, field="page")
    return LexborHTMLParser(decode_html(body, content_type, source_id=source_id, url=url))


_NOT_HTML_TYPES = ("application/pdf", "application/json", "image/", "audio/", "video/", "application/zip", "font/")
_NOT_HTML_MAGIC = (
    (b"%PDF-", "PDF"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"PK\x03\x04", "ZIP archive"),
)


def not_html(body: bytes, content_type: str | None) -> str | None:
    """Return what a page is when it is plainly not HTML (PDF, JSON, an image, empty), else None."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if any(media.startswith(kind) for kind in _NOT_HTML_TYPES):
        return media
    head = body[:64].lstrip()
    if not head:
        return "empty body"
    for magic, name in _NOT_HTML_MAGIC:
        if head.startswith(magic):
            return name
    if head[:1] in (b"{", b"[") and b"<" not in body[:1024]:
        return "JSON"
    return None


def extract_links(
    body: bytes, content_type: str | None, base_url: str, source: Source, limit: int | None = None
) -> list[ListingLink]:
    """Return the article links on a listing page, absolute, in page order, without duplicates (the first `limit`).

    Links to other sites (another host or port, outside `allow_domains`) and malformed URLs are dropped, so a page
    cannot send us elsewhere. Raises ExtractError when the selector matches no link: a layout change or block page,
    never "no news".
    """
    tree = _parse(body, content_type, source.id, base_url)
    base = _base_href(tree, base_url)
    if source.listing.links is None:
        return _found_links(tree, base_url, base, source, limit)
    links: dict[str, ListingLink] = {}
    for node in tree.css(source.listing.links):
        href = _anchor_href(node)
        if not href or href.startswith(("javascript:", "mailto:", "#")):
            continue
        url = _absolute(base, href)
        if url and url not in links and same_site(url, base_url, source.allow_domains):
            links[url] = ListingLink(url=url, title=fold(node.text(deep=True, separator="")))
            if len(links) == limit:
                break
    if not links:
        raise ExtractError(
            f"listing selector {source.listing.links!r} matched no article link (layout change or block page?)",
            source_id=source.id,
            url=base_url,
            field="listing.links",
        )
    return list(links.values())


def _found_links(
    tree: LexborHTMLParser, page_url: str, base: str, source: Source, limit: int | None
) -> list[ListingLink]:
    def allowed(url: str) -> bool:
        return same_site(url, page_url, source.allow_domains)

    links: dict[str, ListingLink] = {}
    for found in find_article_links(tree, page_url, base, allowed):
        url = _absolute(base, found.url)
        if url is not None:
            links.setdefault(url, ListingLink(url=url, title=found.title))
        if len(links) == limit:
            break
    if not links:
        raise ExtractError(
            "no block of article-like links found on the listing (not a listing, or a block page?)",
            source_id=source.id,
            url=page_url,
            field="listing.links",
        )
    return list(links.values())


def _absolute(base: str, href: str) -> str | None:
    try:
        return normalise_url(urljoin(base, href))
    except ValueError:  # a bad port or IPv6 literal: not a link we can follow
        return None


def _anchor_href(node: LexborNode) -> str | None:
    if node.tag != "a":
        inner = node.css_first("a[href]")
        if inner is None:
            return None
        node = inner
    href = node.attributes.get("href")
    return href.strip() if href else None


def _base_href(tree: LexborHTMLParser, page_url: str) -> str:
    node = tree.css_first("base[href]")
    href = node.attributes.get("href") if node is not None else None
    return urljoin(page_url, href.strip()) if href else page_url


def extract_article(body: bytes, content_type: str | None, url: str, source: Source) -> Extracted:
    """Return the title, date, body text and ids of an article page.

    Each selector the source leaves out is replaced by the generic reader for that field (monitor.pages.headline,
    monitor.pages.mainblock). Raises ExtractError naming the field when a selector finds nothing, or when the
    generic reader finds no headline or no article text (a listing, an error page, a script-only shell).
    """
    selectors = source.article
    tree = _parse(body, content_type, source.id, url)
    headline = None
    if selectors.title is None or selectors.body is None or "page" in selectors.date_from:
        headline = find_headline(tree)  # before the body's clean-up takes nodes out of the tree
    if selectors.title is not None:
        title = _required_text(tree, selectors.title, "article.title", source, url)
    else:
        title = _generic_title(tree, headline, source, url)
    published = _published(tree, headline, title, url, source)
    if selectors.body is not None:
        text = _selected_body(tree, source, url)
    else:
        titles = {title, headline_text(headline)} if headline is not None else {title}
        text = _generic_body(tree, titles, source, url)
    if selectors.ignore_text:
        # Paragraphs come out folded, so only the noise patterns can leave text for tidy to fix.
        for pattern in selectors.ignore_text:
            text = pattern.sub("", text)
        text = tidy(text)
    if not text:
        # An empty body is a broken page, not an edit that wiped the article.
        raise ExtractError("body has no text", source_id=source.id, url=url, field="article.body")
    return Extracted(
        title=title,
        published=published,
        text=text,
        doc_id=_doc_id(tree, url),
        canonical_url=_canonical(tree, url),
    )


def _selected_body(tree: LexborHTMLParser, source: Source, url: str) -> str:
    selectors = source.article
    root = tree.css_first(selectors.body or "body")
    if root is None:
        raise ExtractError(
            f"selector {selectors.body!r} matched nothing", source_id=source.id, url=url, field="article.body"
        )
    for selector in selectors.remove + selectors.ignore:
        for node in root.css(selector):
            node.decompose()
    return "\n\n".join(paragraphs(root))


def _generic_title(tree: LexborHTMLParser, headline: LexborNode | None, source: Source, url: str) -> str:
    title = headline_text(headline) if headline is not None else title_from_metadata(tree)
    if not title:
        raise ExtractError("no headline found", source_id=source.id, url=url, field="article.title")
    return title


def _generic_body(tree: LexborHTMLParser, titles: set[str], source: Source, url: str) -> str:
    root = tree.body
    if root is not None:
        for selector in source.article.remove + source.article.ignore:
            for node in root.css(selector):
                node.remove()
    declared = declares_article(tree)
    found = find_main_text(tree, titles, declared)
    reason = found.reason
    text_len = len("".join(found.paragraphs))
    if reason is None and not declared and text_len < _SHORT_TEXT:
        # A short text beside a block of article links longer than it is a listing's intro, not an article.
        here = urlsplit(url)[:2]  # a saved page read from a file: its relative links are on "its site" too

        def on_site(link: str) -> bool:
            return urlsplit(link)[:2] == here or same_site(link, url, source.allow_domains)

        # A page read from a file has no listing path to be deeper than: every link on it counts as deep.
        listing = url if here[0] in _SAFE_SCHEMES else "file:///"
        items = find_article_links(tree, listing, url, on_site)
        if len(items) >= _LISTING_LINKS and text_len < sum(len(item.item_text) for item in items):
            reason = f"a listing of {len(items)} article links"
    if reason is not None:
        raise ExtractError(f"no article text found ({reason})", source_id=source.id, url=url, field="article.body")
    return "\n\n".join(_without_datelines(found.paragraphs))


def _without_datelines(paragraphs: list[str]) -> list[str]:
    """Drop the date-only lines at the top of a generic body: they are the page's date, read separately."""
    start = 0
    while start < min(3, len(paragraphs) - 1) and len(paragraphs[start]) <= 40 and is_only_a_date(paragraphs[start]):
        start += 1
    return paragraphs[start:]


def _required_text(tree: LexborHTMLParser, selector: str, field: str, source: Source, url: str) -> str:
    for node in tree.css(selector):
        text = fold(node.text(deep=True, separator=""))
        if text:
            return text
    raise ExtractError(f"selector {selector!r} matched no text", source_id=source.id, url=url, field=field)


def _published(tree: LexborHTMLParser, headline: LexborNode | None, title: str, url: str, source: Source) -> str | None:
    for origin in source.article.date_from:
        value = None
        if origin == "selector" and source.article.date:
            value = _date_from_nodes(tree, source.article.date)
        elif origin == "page":
            value = find_published(tree, headline, url, day_first_for(source.language or page_language(tree)))
        elif origin == "title":
            value = date_from_text(title)
        elif origin == "url":
            value = date_from_url(url)
        if value is not None:
            return format_published(value, source.timezone)
    return None


def _date_from_nodes(tree: LexborHTMLParser, selector: str) -> datetime | date | None:
    for node in tree.css(selector):
        for attr in ("datetime", "content", "title"):
            raw = node.attributes.get(attr)
            if raw and (value := date_from_text(raw)) is not None:
                return value
        text = fold(node.text(deep=True, separator=" "))
        if text and (value := date_from_text(text)) is not None:
            return value
    return None


def _doc_id(tree: LexborHTMLParser, url: str) -> str | None:
    node = tree.css_first('meta[name="govuk:content-id"]')
    if node is not None and node.attributes.get("content"):
        return node.attributes["content"]
    match = _DOC_ID.search(urlsplit(url).path)
    return match.group(1) if match else None


def _canonical(tree: LexborHTMLParser, url: str) -> str:
    node = tree.css_first('link[rel="canonical"][href]')
    href = node.attributes.get("href") if node is not None else None
    if href:
        candidate = _absolute(url, href)
        if candidate and same_site(candidate, url):
            return candidate
    return normalise_url(url)


def is_error_page(body: bytes, content_type: str | None, final_url: str, source: Source) -> bool:
    """Return whether a 200 answer is really the site's "not found" page (a soft 404)."""
    path = urlsplit(final_url).path
    if any(path == marker or path.endswith(marker) for marker in source.error_urls):
        return True
    if not source.article.error_markers:
        return False
    text = decode_html(body, content_type, source_id=source.id, url=final_url)
    return any(marker in text for marker in source.article.error_markers)


_CHALLENGE_MARKERS = (b"document.cookie", b"location.reload", b"location.href", b"cf-chl", b"__jsl", b"challenge")


def looks_like_challenge(body: bytes, content_type: str | None) -> bool:
    """Return whether a page is an anti-bot JS/cookie challenge: little visible text, a script that sets a cookie."""
    lowered = body[:65536].lower()
    if b"<script" not in lowered or not any(marker in lowered for marker in _CHALLENGE_MARKERS):
        return False
    tree = _parse(body, content_type)
    root = tree.body
    if root is None:
        return True
    for node in root.css("script, style, noscript"):
        node.decompose()
    return len(fold(root.text(deep=True, separator=" "))) < 200


def check_selectors(config: Config) -> None:
    """Raise ConfigError naming the source and key of the first CSS selector the parser rejects."""
    probe = LexborHTMLParser("<html><body><p>probe</p></body></html>")
    accepted: set[str] = set()  # sources share their selectors (templates): each is tried once
    for source in config.sources:
        for key, selector in _selectors_of(source.listing, source.article):
            if selector in accepted:
                continue
            try:
                probe.css(selector)
            except (SelectolaxError, ValueError) as exc:
                raise ConfigError(
                    f"bad CSS selector {selector!r}", path=config.path, source_id=source.id, key=key
                ) from exc
            accepted.add(selector)


def _selectors_of(listing: ListingSelectors, article: ArticleSelectors) -> list[tuple[str, str]]:
    named = [
        ("listing.links", listing.links),
        ("listing.next", listing.next),
        ("article.title", article.title),
        ("article.body", article.body),
        ("article.date", article.date),
    ]
    pairs = [(key, selector) for key, selector in named if selector]
    pairs += [("article.remove", s) for s in article.remove] + [("article.ignore", s) for s in article.ignore]
    return pairs
