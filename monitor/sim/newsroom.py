"""The live simulated ministry behind `monitor simulate`: numbered listings of articles made from the packaged real
MFA pages, served from a SimSite, and the publish / edit / delete steps that change them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from monitor.sim.pagegen import PressPages, article_path, listing_path
from monitor.sim.site import SimSite

__all__ = ["LISTING_FILE", "PAGES", "Change", "Newsroom", "packaged_pages"]

PAGES = Path(__file__).resolve().parent / "demo_pages"
"""The real fmprc pages shipped inside the package (SOURCES.tsv there says where each came from)."""
LISTING_FILE = "en_list_regular-press-conference_p0_2020-07-04.html"
_ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def packaged_pages() -> PressPages:
    """Return page templates made from the real pages shipped inside the package (so an installed copy works)."""
    articles = tuple(path.read_bytes() for path in sorted(PAGES.glob("en_article_*.html")))
    return PressPages((PAGES / LISTING_FILE).read_bytes(), articles, "Simulated copy")


@dataclass(frozen=True, slots=True)
class Change:
    """One scripted step: `kind` ("published", "edited" or "deleted") happened to the article at `path`."""

    kind: str
    path: str


class Newsroom:
    """`sources` listings of `articles` entries each on `site` (any host), changed at random by the step methods.

    Listing i shows its newest `articles` articles, newest first; a published article pushes the oldest off the
    list (its page stays). An edit changes a listed article's text and leaves the listing alone; a deleted
    article's URL answers 404 while the listing still links it, as when a ministry pulls a page.
    """

    def __init__(self, site: SimSite, sources: int, articles: int, rng: random.Random, pages: PressPages) -> None:
        self.site = site
        self.sources = sources
        self.articles = articles
        self._rng = rng
        self._pages = pages
        self._newest = [articles - 1] * sources
        self._edits: dict[tuple[int, int], int] = {}
        self._deleted: set[tuple[int, int]] = set()
        self._build()

    def _build(self) -> None:
        self.site.put("/robots.txt", _ROBOTS, content_type="text/plain")
        self.site.put("/", self._index())
        for i in range(self.sources):
            for j in range(self.articles):
                self.site.put(article_path(i, j), self._pages.article(i, j))
            self._put_listing(i)

    def _index(self) -> bytes:
        items = "".join(f'<li><a href="{p}">{p}</a></li>' for p in self.listing_paths())
        return f"<!DOCTYPE html><html><body><h1>Simulated ministry</h1><ul>{items}</ul></body></html>\n".encode()

    def _put_listing(self, i: int) -> None:
        newest = self._newest[i]
        self.site.put(listing_path(i), self._pages.listing_body(i, range(newest, newest - self.articles, -1)))

    def listing_paths(self) -> list[str]:
        """Return the path of every listing, in source order."""
        return [listing_path(i) for i in range(self.sources)]

    def _listed(self) -> list[tuple[int, int]]:
        """Every article some listing shows whose page is still up."""
        return [
            (i, j)
            for i, newest in enumerate(self._newest)
            for j in range(newest, newest - self.articles, -1)
            if (i, j) not in self._deleted
        ]

    def publish(self) -> Change:
        """Add a new article to a random listing; return what changed."""
        i = self._rng.randrange(self.sources)
        self._newest[i] += 1
        j = self._newest[i]
        self.site.put(article_path(i, j), self._pages.article(i, j))
        self._put_listing(i)
        return Change("published", article_path(i, j))

    def edit(self) -> Change | None:
        """Silently change the text of a random listed article; return what changed (None: nothing left to edit)."""
        listed = self._listed()
        if not listed:
            return None
        i, j = self._rng.choice(listed)
        self._edits[i, j] = self._edits.get((i, j), 0) + 1
        self.site.put(article_path(i, j), self._pages.article(i, j, self._edits[i, j]))
        return Change("edited", article_path(i, j))

    def delete(self) -> Change | None:
        """Take down a random listed article (its URL answers 404); return what changed (None: none left)."""
        listed = self._listed()
        if not listed:
            return None
        i, j = self._rng.choice(listed)
        self._deleted.add((i, j))
        self.site.remove(article_path(i, j))
        return Change("deleted", article_path(i, j))
