"""The benchmark's ministry site: N listings spread over several loopback addresses, built from the real fmprc pages.

Listing i lives at /mfa_eng/s{i}/ on host i mod H and links its `articles` newest articles (t{i}{j}.shtml). Every
article is one of the five real EN article pages with one paragraph added, so each page has distinct content.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.sim import (
    MFA_EN_PRESS,
    PressPages,
    SimSite,
    article_name,
    article_path,
    listing_path,
    write_sources_config,
)

__all__ = ["ROOT", "Layout", "build_site", "publish", "write_monitor_config"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SHIPPED_CONFIG = ROOT / "config" / "sources.toml"
ROBOTS = b"User-agent: *\nDisallow: /private/\n"
EN_LIST = "fmprc/en_list_regular-press-conference_p0_2020-07-04.html"
_ARTICLE_FILES = (
    "fmprc/en_article_t1558711_regular-press-conference_2018-05-11.html",
    "fmprc/en_article_t1617471_regular-press-conference_2018-11-29.html",
    "fmprc/en_article_t1686638_remarks-pelosi-hong-kong_2019-08.html",
    "fmprc/en_article_t1739548_daily-briefing-online_2020-02-03.html",
    "fmprc/en_article_t1793427_regular-press-conference_2020-06-30.html",
)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where every page of the benchmark site lives."""

    sources: int
    articles: int
    hosts: tuple[str, ...]

    def host(self, i: int) -> str:
        return self.hosts[i % len(self.hosts)]

    def listing_path(self, i: int) -> str:
        return listing_path(i)

    def article_name(self, i: int, j: int) -> str:
        return article_name(i, j)

    def article_path(self, i: int, j: int) -> str:
        return article_path(i, j)


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _pages() -> PressPages:
    """The real page templates, read once per call."""
    return PressPages(_read(EN_LIST), tuple(_read(name) for name in _ARTICLE_FILES), "Benchmark copy")


def _listing_body(pages: PressPages, layout: Layout, i: int, newest: int) -> bytes:
    first = max(0, newest - layout.articles + 1)
    return pages.listing_body(i, range(newest, first - 1, -1))


def build_site(site: SimSite, layout: Layout) -> list[int]:
    """Fill `site` with every listing, article and robots.txt; return each listing's newest article number."""
    pages = _pages()
    for host in layout.hosts:
        site.put("/robots.txt", ROBOTS, host=host, content_type="text/plain")
    newest = []
    for i in range(layout.sources):
        host = layout.host(i)
        for j in range(layout.articles):
            site.put(layout.article_path(i, j), pages.article(i, j), host=host)
        site.put(layout.listing_path(i), _listing_body(pages, layout, i, layout.articles - 1), host=host)
        newest.append(layout.articles - 1)
    return newest


def publish(site: SimSite, layout: Layout, newest: list[int], indices: list[int]) -> list[str]:
    """Give each listing in `indices` one new article (its oldest entry scrolls off); return the new paths."""
    pages = _pages()
    added = []
    for i in indices:
        newest[i] += 1
        host, j = layout.host(i), newest[i]
        site.put(layout.article_path(i, j), pages.article(i, j), host=host)
        site.put(layout.listing_path(i), _listing_body(pages, layout, i, j), host=host)
        added.append(layout.article_path(i, j))
    return added


def write_monitor_config(
    path: Path,
    layout: Layout,
    bases: dict[str, str],
    database: Path,
    *,
    monitor: dict[str, Any],
    source: dict[str, Any],
    extra: str = "",
) -> Path:
    """Write a monitor config with one source per listing, using the shipped mfa-en-press selectors."""
    sources = [
        (f"s{i:05d}", f"Benchmark listing {i}", bases[layout.host(i)] + layout.listing_path(i))
        for i in range(layout.sources)
    ]
    return write_sources_config(
        path, sources, database, template=MFA_EN_PRESS, monitor=monitor, source=source, extra=extra
    )
