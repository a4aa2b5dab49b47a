"""Reading pages: links from listings, title, date and text from articles (by selectors or generically), in worker
processes if asked."""

from __future__ import annotations

from monitor.pages.dates import (
    date_from_machine,
    date_from_text,
    date_from_url,
    day_first_for,
    format_published,
    publication_date,
)
from monitor.pages.extract import (
    Extracted,
    ListingLink,
    check_selectors,
    extract_article,
    extract_links,
    is_error_page,
    looks_like_challenge,
    normalise_url,
    not_html,
)
from monitor.pages.headline import declares_article, find_headline, find_published, page_language
from monitor.pages.linkfinder import LinkCandidate, find_article_links
from monitor.pages.mainblock import MainText, find_main_text
from monitor.pages.observation import Observation
from monitor.pages.pagination import REL_NEXT, next_page_url, older_links
from monitor.pages.propose import (
    ListingProposal,
    Sample,
    page_title,
    propose_article,
    propose_listing,
    verified_selectors,
    with_article_selectors,
)
from monitor.pages.readers import IDLE_S, START_AFTER, PageReaders, default_processes, read_article
from monitor.pages.workers import PIPE_BYTES, Worker, WorkerLost

__all__ = [
    "Extracted",
    "IDLE_S",
    "LinkCandidate",
    "ListingProposal",
    "ListingLink",
    "MainText",
    "Observation",
    "PIPE_BYTES",
    "PageReaders",
    "REL_NEXT",
    "Sample",
    "START_AFTER",
    "Worker",
    "WorkerLost",
    "check_selectors",
    "date_from_machine",
    "date_from_text",
    "date_from_url",
    "day_first_for",
    "declares_article",
    "default_processes",
    "extract_article",
    "extract_links",
    "find_article_links",
    "find_headline",
    "find_main_text",
    "find_published",
    "format_published",
    "is_error_page",
    "next_page_url",
    "looks_like_challenge",
    "normalise_url",
    "not_html",
    "older_links",
    "page_language",
    "page_title",
    "propose_article",
    "propose_listing",
    "publication_date",
    "read_article",
    "verified_selectors",
    "with_article_selectors",
]
