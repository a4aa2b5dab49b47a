"""The benchmark's ministry site: N listings spread over several loopback addresses, built from the real fmprc pages.

Listing i lives at /mfa_eng/s{i}/ on host i mod H and links its `articles` newest articles (t{i}{j}.shtml). Every
article is one of the five real EN article pages with one paragraph added, so each page has distinct content.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.simulator import SimSite
from monitor.sitegen import en_listing, inject_into_body

__all__ = ["ROOT", "Layout", "build_site", "publish", "write_monitor_config"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SHIPPED_CONFIG = ROOT / "config" / "sources.toml"
TEMPLATE_SOURCE = "mfa-en-press"
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
        return f"/mfa_eng/s{i:05d}/"

    def article_name(self, i: int, j: int) -> str:
        return f"t{i:05d}{j:04d}.shtml"

    def article_path(self, i: int, j: int) -> str:
        return self.listing_path(i) + self.article_name(i, j)


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class _Pages:
    """The real page templates, read once."""

    def __init__(self) -> None:
        self.listing = _read(EN_LIST)
        self.articles = [_read(name) for name in _ARTICLE_FILES]

    def article(self, i: int, j: int) -> bytes:
        extra = f"<p>Benchmark copy {i}-{j}: this paragraph makes every page's text distinct.</p>"
        return inject_into_body(self.articles[(i + j) % len(self.articles)], '<div class="content">', extra)

    def listing_body(self, layout: Layout, i: int, newest: int) -> bytes:
        first = max(0, newest - layout.articles + 1)
        numbers = range(newest, first - 1, -1)
        entries = [(f"./{layout.article_name(i, j)}", f"Press conference {i}-{j}") for j in numbers]
        return en_listing(self.listing, entries)


def build_site(site: SimSite, layout: Layout) -> list[int]:
    """Fill `site` with every listing, article and robots.txt; return each listing's newest article number."""
    pages = _Pages()
    for host in layout.hosts:
        site.put("/robots.txt", ROBOTS, host=host, content_type="text/plain")
    newest = []
    for i in range(layout.sources):
        host = layout.host(i)
        for j in range(layout.articles):
            site.put(layout.article_path(i, j), pages.article(i, j), host=host)
        site.put(layout.listing_path(i), pages.listing_body(layout, i, layout.articles - 1), host=host)
        newest.append(layout.articles - 1)
    return newest


def publish(site: SimSite, layout: Layout, newest: list[int], indices: list[int]) -> list[str]:
    """Give each listing in `indices` one new article (its oldest entry scrolls off); return the new paths."""
    pages = _Pages()
    added = []
    for i in indices:
        newest[i] += 1
        host, j = layout.host(i), newest[i]
        site.put(layout.article_path(i, j), pages.article(i, j), host=host)
        site.put(layout.listing_path(i), pages.listing_body(layout, i, j), host=host)
        added.append(layout.article_path(i, j))
    return added


def _template_source() -> dict[str, Any]:
    config = tomllib.loads(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    for source in config["sources"]:
        if source["id"] == TEMPLATE_SOURCE:
            return dict(source)
    raise LookupError(f"{TEMPLATE_SOURCE} is not in {SHIPPED_CONFIG}")


def _toml_value(value: Any) -> str:
    # JSON strings, numbers, booleans and lists of them are valid TOML values.
    return json.dumps(value, ensure_ascii=False)


def _table(name: str, values: dict[str, Any]) -> str:
    lines = [f"[{name}]"] + [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


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
    template = _template_source()
    listing, article = template.pop("listing"), template.pop("article")
    keep: dict[str, Any] = {k: template[k] for k in ("timezone", "error_urls") if k in template}
    parts = [_table("monitor", {"database": f"sqlite:///{database}", **monitor})]
    for i in range(layout.sources):
        url = bases[layout.host(i)] + layout.listing_path(i)
        head: dict[str, Any] = {"id": f"s{i:05d}", "name": f"Benchmark listing {i}", "url": url, **keep, **source}
        parts.append("[[sources]]\n" + _table("sources", head).split("\n", 1)[1])
        parts.append(_table("sources.listing", listing))
        parts.append(_table("sources.article", article))
    path.write_text("\n".join(parts) + extra, encoding="utf-8")
    return path
