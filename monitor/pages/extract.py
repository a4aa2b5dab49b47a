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
from monitor.pages.dates import date_from_text, date_from_url, format_published

__all__ = [
    "Extracted",
    "ListingLink",
    "check_selectors",
    "extract_article",
    "extract_links",
    "is_error_page",
    "looks_like_challenge",
    "normalise_url",
]

# Elements that end a paragraph. Everything else is inline and joins its neighbours without a space, so
# `Chin</SPAN><SPAN>ese` stays "Chinese".
_BLOCKS = frozenset(
    "address article aside blockquote dd div dl dt fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header "
    "hr li main nav ol p pre section table tbody thead tfoot tr td th ul center".split()
)
_SKIP = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "svg", "button", "select", "-comment"}
)
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
_DOC_ID = re.compile(r"/(t\d{5,}(?:_\d+)?)\.s?html?$")


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


def _parse(body: bytes, content_type: str | None) -> LexborHTMLParser:
    return LexborHTMLParser(decode_html(body, content_type))


def _fold(text: str) -> str:
    # str.split() splits at exactly the characters regex `\s` matches (NBSP, U+2000-U+200A, U+3000 and the rest
    # of str.isspace()), at a fraction of the cost of a regex substitution. The zero-width characters are not
    # ASCII, and str.isascii() is a flag lookup: ASCII text skips that scan.
    if not text.isascii():
        text = _ZERO_WIDTH.sub("", text)
    return " ".join(text.split())


def extract_links(
    body: bytes, content_type: str | None, base_url: str, source: Source, limit: int | None = None
) -> list[ListingLink]:
    """Return the article links on a listing page, absolute, in page order, without duplicates (the first `limit`).

    Links to other sites (another host or port, outside `allow_domains`) and malformed URLs are dropped, so a page
    cannot send us elsewhere. Raises ExtractError when the selector matches no link: a layout change or block page,
    never "no news".
    """
    tree = _parse(body, content_type)
    base = _base_href(tree, base_url)
    links: dict[str, ListingLink] = {}
    for node in tree.css(source.listing.links):
        href = _anchor_href(node)
        if not href or href.startswith(("javascript:", "mailto:", "#")):
            continue
        url = _absolute(base, href)
        if url and url not in links and same_site(url, base_url, source.allow_domains):
            links[url] = ListingLink(url=url, title=_fold(node.text(deep=True, separator="")))
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

    Raises ExtractError naming the field when the title or body selector finds nothing.
    """
    selectors = source.article
    tree = _parse(body, content_type)
    title = _required_text(tree, selectors.title, "article.title", source, url)
    root = tree.css_first(selectors.body)
    if root is None:
        raise ExtractError(
            f"selector {selectors.body!r} matched nothing", source_id=source.id, url=url, field="article.body"
        )
    for selector in selectors.remove + selectors.ignore:
        for node in root.css(selector):
            node.decompose()
    text = "\n\n".join(_paragraphs(root))
    if selectors.ignore_text:
        # Paragraphs come out folded, so only the noise patterns can leave text for _tidy to fix.
        for pattern in selectors.ignore_text:
            text = pattern.sub("", text)
        text = _tidy(text)
    if not text:
        # An empty body is a broken page, not an edit that wiped the article.
        raise ExtractError("body has no text", source_id=source.id, url=url, field="article.body")
    return Extracted(
        title=title,
        published=_published(tree, title, url, source),
        text=text,
        doc_id=_doc_id(tree, url),
        canonical_url=_canonical(tree, url),
    )


def _required_text(tree: LexborHTMLParser, selector: str, field: str, source: Source, url: str) -> str:
    for node in tree.css(selector):
        text = _fold(node.text(deep=True, separator=""))
        if text:
            return text
    raise ExtractError(f"selector {selector!r} matched no text", source_id=source.id, url=url, field=field)


def _paragraphs(root: LexborNode) -> list[str]:
    paragraphs: list[str] = []
    current: list[str] = []
    _walk(root, paragraphs, current)
    _flush(paragraphs, current)
    return paragraphs


def _flush(paragraphs: list[str], current: list[str]) -> None:
    if not current:
        return
    text = _fold("".join(current))
    if text:
        paragraphs.append(text)
    current.clear()


def _walk(node: LexborNode, paragraphs: list[str], current: list[str]) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            current.append(child.text_content or "")
        elif tag in _SKIP:
            continue
        elif tag == "br":
            _flush(paragraphs, current)
        elif tag in _BLOCKS:
            _flush(paragraphs, current)
            _walk(child, paragraphs, current)
            _flush(paragraphs, current)
        else:
            _walk(child, paragraphs, current)


def _tidy(text: str) -> str:
    lines = (_fold(line) for line in text.split("\n\n"))
    return "\n\n".join(line for line in lines if line)


def _published(tree: LexborHTMLParser, title: str, url: str, source: Source) -> str | None:
    for origin in source.article.date_from:
        value = None
        if origin == "selector" and source.article.date:
            value = _date_from_nodes(tree, source.article.date)
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
        text = _fold(node.text(deep=True, separator=" "))
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
    text = decode_html(body, content_type)
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
    return len(_fold(root.text(deep=True, separator=" "))) < 200


def check_selectors(config: Config) -> None:
    """Raise ConfigError naming the source and key of the first CSS selector the parser rejects."""
    probe = LexborHTMLParser("<html><body><p>probe</p></body></html>")
    for source in config.sources:
        for key, selector in _selectors_of(source.listing, source.article):
            try:
                probe.css(selector)
            except (SelectolaxError, ValueError) as exc:
                raise ConfigError(
                    f"bad CSS selector {selector!r}", path=config.path, source_id=source.id, key=key
                ) from exc


def _selectors_of(listing: ListingSelectors, article: ArticleSelectors) -> list[tuple[str, str]]:
    pairs = [("listing.links", listing.links), ("article.title", article.title), ("article.body", article.body)]
    if article.date:
        pairs.append(("article.date", article.date))
    pairs += [("article.remove", s) for s in article.remove] + [("article.ignore", s) for s in article.ignore]
    return pairs
