"""Older pages of a listing, for backfill after downtime: where the next page is, and reading pages while all is new.

A listing shows only its newest items; after a stopped service or a burst of publications, older new items have
moved to page 2. The next page's URL comes from the source's `pages` pattern (fmprc writes its page links with
JavaScript, so no selector can find them), its `next` selector, or a `rel="next"` link.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

from monitor.config import Source
from monitor.errors import ExtractError, FetchError
from monitor.http import Page, decode_html
from monitor.pages.extract import extract_links

__all__ = ["REL_NEXT", "next_page_url", "older_links"]

logger = logging.getLogger(__name__)

REL_NEXT = 'link[rel~="next"][href], a[rel~="next"][href]'
"""Followed on every listing whose source names neither `pages` nor `next`."""


def next_page_url(body: bytes, content_type: str | None, page_url: str, source: Source, n: int) -> str | None:
    """Return the absolute URL of listing page `n` (1 is the page after the first), or None if there is none.

    `body` and `page_url` are those of page `n - 1`.
    """
    listing = source.listing
    if listing.pages is not None:
        return urljoin(source.url, listing.pages.replace("{n}", str(n)))
    node = LexborHTMLParser(decode_html(body, content_type)).css_first(listing.next or REL_NEXT)
    href = None if node is None else (node.attributes.get("href") or "").strip()
    if not href or href.startswith(("javascript:", "#")):
        return None
    return urljoin(page_url, href)


async def older_links(
    source: Source,
    first: Page,
    links: list[str],
    limit: int,
    fetch: Callable[[str], Awaitable[Page]],
    knows_any: Callable[[list[str]], bool],
) -> list[str]:
    """Return the article links of the pages after `first` (whose links are `links`), in page order.

    A page is read only while the page before it held no known article (`knows_any`), and at most `limit` pages
    are read in all (`first` included): a normal check reads one page. A page that cannot be fetched or holds no
    article link ends the walk; it never fails the check, which already has the first page.
    """
    found: list[str] = []
    seen_pages = {first.final_url, source.url}
    page, page_links, n = first, links, 1
    while n < limit and page_links and not knows_any(page_links):
        url = next_page_url(page.body, page.content_type, page.final_url, source, n)
        if url is None or url in seen_pages:
            break
        seen_pages.add(url)
        try:
            page = await fetch(url)
            page_links = [link.url for link in extract_links(page.body, page.content_type, page.final_url, source)]
        except (FetchError, ExtractError) as exc:
            logger.info("source %s: listing page %d (%s) ends the backfill: %s", source.id, n + 1, url, exc)
            break
        page_links = [link for link in page_links if link not in links and link not in found]
        found += page_links
        n += 1
    return found
