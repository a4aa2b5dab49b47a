"""When a listing selector stops working (a redesign), decide whether the generic finder's links are still the
same listing, and which selectors read it now. Pure: the pipeline hands in the page and what the store knows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from monitor.config import Source
from monitor.errors import ExtractError
from monitor.http import Page
from monitor.pages import extract_links, propose_listing

__all__ = ["MIN_KNOWN", "MIN_KNOWN_SHARE", "Relisted", "relist"]

MIN_KNOWN = 3
"""Known articles the generic links must include (fewer when the source knew fewer) to be the same listing."""
MIN_KNOWN_SHARE = 0.5
"""... and the share of the generic links they must be: a holding page linking to two old stories is not the list."""


@dataclass(frozen=True, slots=True)
class Relisted:
    """The listing's links as the generic finder reads them, and the selectors that read it now."""

    links: list[str]
    known: int
    proposed: dict[str, Any]


def relist(source: Source, page: Page, known_before: int, is_known: Callable[[str], bool]) -> Relisted | None:
    """Return the generic finder's links if enough of them are articles the source knows; else None.

    `known_before` is how many links the listing had last time (the source's state); `is_known(url)` says whether
    the source already has that article.
    """
    generic = dataclasses.replace(source, listing=dataclasses.replace(source.listing, links=None))
    try:
        links = [link.url for link in extract_links(page.body, page.content_type, page.final_url, generic)]
    except ExtractError:
        return None
    known = sum(1 for url in links if is_known(url))
    if known == 0 or known < min(MIN_KNOWN, known_before) or known < MIN_KNOWN_SHARE * len(links):
        return None
    found = propose_listing(page.body, page.content_type, page.final_url, generic, links)
    return Relisted(links, known, {"listing": {"links": found.selector if found is not None else None}})
