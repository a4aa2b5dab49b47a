"""Reading pages: links from listings, title, date and text from articles, in worker processes if asked."""

from __future__ import annotations

from monitor.pages.dates import date_from_text, date_from_url, format_published
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
from monitor.pages.observation import Observation
from monitor.pages.readers import IDLE_S, START_AFTER, PageReaders, default_processes, read_article
from monitor.pages.workers import PIPE_BYTES, Worker, WorkerLost

__all__ = [
    "Extracted",
    "IDLE_S",
    "ListingLink",
    "Observation",
    "PIPE_BYTES",
    "PageReaders",
    "START_AFTER",
    "Worker",
    "WorkerLost",
    "check_selectors",
    "date_from_text",
    "date_from_url",
    "default_processes",
    "extract_article",
    "extract_links",
    "format_published",
    "is_error_page",
    "looks_like_challenge",
    "normalise_url",
    "not_html",
    "read_article",
]
