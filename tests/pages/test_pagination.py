"""Backfill after downtime: older listing pages are read while they hold only new articles, on the real listings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, SHIPPED_CONFIG, Ministry, RunCli, write_config
from sitekit import EN_LIST, ZH_DIR, ZH_LIST, zh_listing

from monitor.config import Source, load_config
from monitor.pages import ListingLink, extract_links, next_page_url

ZH_LAST = "fmprc/zh_list_fyrbt_p66_2020-07-04.html"
ZH_ARTICLE = "fmprc/zh_article_t1793459_fyrbt-statement_2020-06-30.html"
KNOWN = [(f"./t141500{i}.shtml", f"较早的发言人表态 {i}", "2016-11-0{i}") for i in range(1, 6)]
"""The five items the monitor knew before the downtime; after it they are the last five of page 1."""


def _shipped(source_id: str) -> Source:
    return load_config(SHIPPED_CONFIG).source(source_id)


NEXT_PAGES = [
    (
        "fmprc pattern",
        "mfa-en-press",
        EN_LIST,
        "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/",
        2,
        "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/default_2.shtml",
    ),
    (
        "govuk rel=next",
        "govuk-home-secretary-news",
        "govuk/list_news-braverman_2023-06-02.html",
        "https://www.gov.uk/search/news-and-communications?people%5B%5D=braverman&order=updated-newest",
        1,
        "https://www.gov.uk/search/news-and-communications?order=updated-newest&page=2&people%5B%5D=braverman",
    ),
    (
        "govuk next selector",
        "govuk-publications",
        "govuk/list_publications_2016-11-04.html",
        "https://www.gov.uk/government/publications",
        1,
        "https://www.gov.uk/government/publications?page=2",
    ),
    ("no link at all", "embassy-uk-news", EN_LIST, "https://www.fmprc.gov.cn/mfa_eng/", 1, None),
]


@pytest.mark.parametrize(
    ("source_id", "fixture", "page_url", "n", "expected"), [c[1:] for c in NEXT_PAGES], ids=[c[0] for c in NEXT_PAGES]
)
def test_the_next_page_of_each_shipped_kind_of_listing(
    source_id: str, fixture: str, page_url: str, n: int, expected: str | None
) -> None:
    body = (FIXTURES / fixture).read_bytes()

    assert next_page_url(body, "text/html", page_url, _shipped(source_id), n) == expected


class Downtime:
    """The ZH 发言人表态 listing as it stood after a stopped service: page 0 real, page 1 ending in known items."""

    def __init__(self, ministry: Ministry, tmp_path: Path) -> None:
        self.ministry = ministry
        self.config = write_config(tmp_path, ministry.base)
        source = load_config(self.config).source("mfa-zh-fyrbt")
        last = ministry.body(ZH_LAST)  # a real later page of the same day: its ten items open our page 1
        self.page1_new = [
            (link.url, link.title, "2016-11-15") for link in self._links(last, "default_66.shtml", source)
        ]
        self.page0 = ministry.body(ZH_LIST)
        self.page0_urls = [link.url for link in self._links(self.page0, "", source)]
        self.page1 = zh_listing(last, self.page1_new + KNOWN)
        self.article = ministry.body(ZH_ARTICLE)

    def _links(self, body: bytes, name: str, source: Source) -> list[ListingLink]:
        return extract_links(body, "text/html", self.ministry.url(ZH_DIR + name), source)

    def before(self) -> None:
        """The listing as the monitor last saw it before the downtime: the five (now older) items."""
        self.ministry.site.put(ZH_DIR, zh_listing(self.page0, KNOWN))

    def after(self) -> None:
        """25 publications later: page 0 holds 15 new items, page 1 ten new and the five known, page 2 the rest."""
        site = self.ministry.site
        site.put(ZH_DIR, self.page0)
        site.put(ZH_DIR + "default_1.shtml", self.page1)
        site.put(ZH_DIR + "default_2.shtml", self.ministry.body(ZH_LAST))
        for url in self.published():
            site.put(url.removeprefix(self.ministry.base), self.article)

    def published(self) -> list[str]:
        return self.page0_urls + [url for url, _, _ in self.page1_new]

    def requested(self, name: str) -> int:
        return len(self.ministry.site.requests_for(ZH_DIR + name))


def _check(run_cli: RunCli, config: Path, *extra: str) -> str:
    code, out, err = run_cli("check", "--config", str(config), "--source", "mfa-zh-fyrbt", *extra)
    assert code == 0, err
    return out


def _published(run_cli: RunCli, config: Path) -> list[str]:
    code, out, _ = run_cli("events", "--config", str(config), "--type", "article.published")
    assert code == 0
    return [json.loads(line)["data"]["article"]["url"] for line in out.splitlines()]


def test_after_downtime_the_check_reads_page_1_and_stops_at_the_known_items(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    site = Downtime(ministry, tmp_path)
    site.before()
    _check(run_cli, site.config)
    site.after()

    out = _check(run_cli, site.config)

    assert len(site.page0_urls) == 15 and len(site.page1_new) == 10
    assert out.startswith("mfa-zh-fyrbt: 30 links, 25 new, 25 fetched (0 not modified), 0 failed fetches; ")
    assert sorted(_published(run_cli, site.config)) == sorted(site.published())
    assert (site.requested("default_1.shtml"), site.requested("default_2.shtml")) == (1, 0)


def test_a_normal_check_reads_one_page(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    site = Downtime(ministry, tmp_path)
    site.before()
    _check(run_cli, site.config)
    site.after()
    ministry.site.put(ZH_DIR, zh_listing(site.page0, [("./t1799999.shtml", "新的发言人表态", "2020-07-04"), *KNOWN]))

    out = _check(run_cli, site.config)

    assert out.startswith("mfa-zh-fyrbt: 6 links, 1 new")
    assert site.requested("default_1.shtml") == 0, "page 0 holds known items: nothing to backfill"


def test_a_first_check_reads_page_0_only_unless_backfill_asks(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    site = Downtime(ministry, tmp_path / "a")
    site.after()
    first = _check(run_cli, site.config)
    assert site.requested("default_1.shtml") == 0
    other = write_config(tmp_path / "b", ministry.base)

    backfilled = _check(run_cli, other, "--backfill", "2")

    assert first.startswith("mfa-zh-fyrbt: 15 links, 15 new")
    assert backfilled.startswith("mfa-zh-fyrbt: 30 links, 30 new") and backfilled.endswith("events: none\n")
    assert (site.requested("default_1.shtml"), site.requested("default_2.shtml")) == (1, 0)
    assert _published(run_cli, other) == [], "a backfilled first check is still the baseline"


def test_a_missing_older_page_ends_the_backfill_without_failing_the_check(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    site = Downtime(ministry, tmp_path)
    site.before()
    _check(run_cli, site.config)
    site.after()
    ministry.site.remove(ZH_DIR + "default_1.shtml")

    out = _check(run_cli, site.config)

    assert out.startswith("mfa-zh-fyrbt: 15 links, 15 new")
    assert site.requested("default_1.shtml") == 1
