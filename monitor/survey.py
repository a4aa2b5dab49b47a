"""Survey a listing nobody configured yet: fetch it politely, find its article links, read a few articles, and
propose the selectors that reproduce what the generic readers found (for `monitor add`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.config import HttpSettings, Source
from monitor.errors import DecodeError, ExtractError, FetchError
from monitor.http import Fetcher, Page, build_transport
from monitor.pages import (
    ListingLink,
    ListingProposal,
    Sample,
    extract_article,
    extract_links,
    not_html,
    page_title,
    propose_article,
    propose_listing,
    verified_selectors,
)

__all__ = ["Survey", "survey_listing"]

ARTICLES_READ = 2
ARTICLES_TRIED = 5


@dataclass(frozen=True, slots=True)
class Survey:
    """What a listing holds and the selectors that read it as the generic readers do."""

    url: str
    title: str | None
    links: list[ListingLink]
    listing: ListingProposal | None
    samples: list[Sample] = field(default_factory=list)
    article: dict[str, str] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)
    """Why each article that could not be read was not (fetch or reading errors), naming its URL."""


async def survey_listing(source: Source, http: HttpSettings) -> Survey:
    """Fetch the source's listing and up to ARTICLES_READ of its articles; propose selectors.

    Raises FetchError (unreachable, robots.txt, an error status) or ExtractError (not HTML, no article-like links).
    """
    transport = build_transport(http)
    try:
        fetcher = Fetcher(transport, http)
        page = await fetcher.fetch(source, source.url, kind="listing")
        title, links = _listing(page, source)
        proposal = propose_listing(page.body, page.content_type, page.final_url, source, [x.url for x in links])
        samples, unread = await _read_articles(fetcher, source, links)
    finally:
        await transport.aclose()
    article: dict[str, str] = {}
    if samples:
        article = verified_selectors(propose_article(samples[0], source), source, samples[1:])
    return Survey(source.url, title, links, proposal, samples, article, unread)


def _listing(page: Page, source: Source) -> tuple[str | None, list[ListingLink]]:
    kind = not_html(page.body, page.content_type)
    if kind is not None:
        message = f"the answer is {kind}, not an HTML page"
        raise ExtractError(message, source_id=source.id, url=page.final_url, field="page")
    title = page_title(page.body, page.content_type)
    try:
        return title, extract_links(page.body, page.content_type, page.final_url, source)
    except ExtractError as exc:
        raise ExtractError(
            f"an HTML page titled {title!r} with no block of article-like links (not a listing, or a block page?)",
            source_id=source.id,
            url=page.final_url,
            field="listing.links",
        ) from exc


async def _read_articles(fetcher: Fetcher, source: Source, links: list[ListingLink]) -> tuple[list[Sample], list[str]]:
    samples: list[Sample] = []
    unread: list[str] = []
    for link in links[:ARTICLES_TRIED]:
        if len(samples) >= ARTICLES_READ:
            break
        try:
            page = await fetcher.fetch(source, link.url, kind="article")
            read = extract_article(page.body, page.content_type, page.final_url, source)
        except (FetchError, ExtractError, DecodeError) as exc:
            unread.append(f"{link.url}: {getattr(exc, 'reason', exc)}")
            continue
        samples.append(Sample(page.body, page.content_type, page.final_url, read))
    return samples, unread
