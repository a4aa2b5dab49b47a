"""Tests for monitor.pages.extract: the shipped selectors against every real saved page, plus derived variants."""

from __future__ import annotations

import csv
import dataclasses
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from monitor.config import Source, load_config, parse_config
from monitor.errors import ExtractError
from monitor.pages import extract_article, extract_links, is_error_page, looks_like_challenge

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
DATA = ROOT / "tests" / "data"
SHIPPED = load_config(ROOT / "config" / "sources.toml")
with (FIXTURES / "SOURCES.tsv").open(encoding="utf-8", newline="") as _tsv:
    ROWS = {row["file"]: row for row in csv.DictReader(_tsv, delimiter="\t")}
ARTICLES: list[dict[str, Any]] = tomllib.loads((DATA / "extract_articles.toml").read_text("utf-8"))["article"]
LISTINGS: list[dict[str, Any]] = tomllib.loads((DATA / "extract_listings.toml").read_text("utf-8"))["listing"]

EN_P0 = "fmprc/en_list_regular-press-conference_p0_2020-07-04.html"
EN_DIR = "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/"
ZH_ARTICLE = "fmprc/zh_article_t1793459_fyrbt-statement_2020-06-30.html"
ERROR_PAGE = "fmprc/zh_error-page_2020-07-04.html"
FMPRC_SOURCES = ("mfa-en-press", "mfa-zh-fyrbt", "mfa-zh-zyxw", "mfa-en-news")
# Page furniture around fmprc article bodies: breadcrumb, "Suggest to a friend"/print/close, font-size switcher,
# the inline scripts, and the related-news/appendix boxes.
FURNITURE = (
    "Home >",
    "首页",
    "Suggest to a friend",
    "Please enter E-mail",
    "打印本页",
    "关闭窗口",
    "[字体",
    "window.print",
    "document.getElementById",
    "innerHTML",
    "相关新闻",
    "Appendix:",
)


def body_of(fixture: str) -> bytes:
    return (FIXTURES / fixture).read_bytes()


def proving_source(fixture: str) -> Source:
    """Return the one shipped source whose `proven_by` lists the saved page."""
    found = [source for source in SHIPPED.sources if fixture in source.proven_by]
    assert len(found) == 1, f"{fixture} is proven by {[s.id for s in found]}"
    return found[0]


def synthetic_source(**article: str) -> Source:
    """Return a source for hand-written pages: body `div.content`, title `h1`."""
    selectors = {"title": "h1", "body": "div.content", **article}
    data = {"sources": [{"id": "synthetic", "url": "https://example.org/news/", "listing": {"links": "li a"}}]}
    data["sources"][0]["article"] = selectors
    return parse_config(data, path="test.toml", environ={}).sources[0]


# -- coverage of the saved pages -----------------------------------------------------------------------------------
def test_every_proven_article_page_has_expectations() -> None:
    proven = {name for source in SHIPPED.sources for name in source.proven_by}
    articles = {name for name, row in ROWS.items() if row["kind"] == "article" and name in proven}
    assert {case["file"] for case in ARTICLES} == articles
    assert len(articles) == 12


def test_every_listing_page_has_expectations() -> None:
    listings = {name for name, row in ROWS.items() if row["kind"] == "listing"}
    assert {case["file"] for case in LISTINGS} == listings
    assert len(listings) == 8


def test_every_proven_page_exists_and_has_provenance() -> None:
    for source in SHIPPED.sources:
        for name in source.proven_by:
            assert name in ROWS, f"{source.id}: {name} missing from SOURCES.tsv"
            assert (FIXTURES / name).is_file(), f"{source.id}: {name} missing from tests/fixtures"


# -- articles ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ARTICLES, ids=[Path(case["file"]).stem for case in ARTICLES])
def test_article(case: dict[str, Any]) -> None:
    source = proving_source(case["file"])
    assert source.id == case["source"]
    url = ROWS[case["file"]]["url"]
    got = extract_article(body_of(case["file"]), "text/html", url, source)

    assert got.title == case["title"]
    assert ("published" in case) != case.get("no_date", False), "data: give exactly one of published / no_date"
    assert got.published == case.get("published")
    assert ("doc_id" in case) != case.get("no_doc_id", False), "data: give exactly one of doc_id / no_doc_id"
    assert got.doc_id == case.get("doc_id")
    assert got.canonical_url == url

    paragraphs = got.text.split("\n\n")
    assert paragraphs[0] == case["first"]
    assert paragraphs[-1] == case["last"]
    assert len(paragraphs) == case["paragraphs"]
    for paragraph in paragraphs:
        assert paragraph == paragraph.strip() and paragraph
        assert "  " not in paragraph and "\n" not in paragraph
        assert "\xa0" not in paragraph and "\u3000" not in paragraph
    for phrase in case["whole"]:
        assert phrase in got.text
    for text in case["elsewhere"]:
        assert text not in got.text
    folded = got.text.casefold()
    for furniture in FURNITURE:
        assert furniture.casefold() not in folded


@pytest.mark.parametrize(
    ("html", "text"),
    [
        # Inline tags join their neighbours without a space (fmprc splits words across <SPAN>s) ...
        ("<P><SPAN>Steinmeier'</SPAN><SPAN>s visit</SPAN></P>", "Steinmeier's visit"),
        (
            "<P><B><SPAN>We have noted that </SPAN></B><B><SPAN>the Foreign</SPAN></B></P>",
            "We have noted that the Foreign",
        ),
        ("<p>respons<i>ib</i><a href='x'>ility</a></p>", "responsibility"),
        # ... block elements and <br> end a paragraph ...
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<p>女士们，<br>先生们！</p>", "女士们，\n\n先生们！"),
        ("<ul><li>a</li><li>b</li></ul><h2>c</h2>", "a\n\nb\n\nc"),
        # ... whitespace, NBSP and full-width spaces fold; empty paragraphs vanish; scripts and comments are dropped.
        ("<p>\u3000\u3000答：&nbsp;是的。 </p><p>&nbsp;</p><p>  </p>", "答： 是的。"),
        ("<p>kept</p><script>var a = 'script text';</script><!-- comment --><style>p{}</style>", "kept"),
        ("<p>a\u200bb\u00adc</p>", "abc"),
    ],
)
def test_body_paragraphs(html: str, text: str) -> None:
    page = f"<html><body><h1>T</h1><div class='content'>{html}</div></body></html>".encode()
    got = extract_article(page, "text/html", "https://example.org/news/a.html", synthetic_source())
    assert got.text == text


@pytest.mark.parametrize(
    ("remove", "ignore", "text"),
    [
        (("script",), (), "Body.\n\nRelated: other story"),
        (("script", ".related"), (), "Body."),
        (("script",), (".related",), "Body."),
    ],
)
def test_remove_and_ignore_selectors_drop_nodes(remove: tuple[str, ...], ignore: tuple[str, ...], text: str) -> None:
    page = b"<h1>T</h1><div class='content'><p>Body.</p><div class='related'>Related: other story</div></div>"
    source = synthetic_source()
    article = dataclasses.replace(source.article, remove=remove, ignore=ignore)
    got = extract_article(page, "text/html", "https://example.org/a", dataclasses.replace(source, article=article))
    assert got.text == text


@pytest.mark.parametrize(
    ("fixture", "replace", "field"),
    [
        (ZH_ARTICLE, ('id="News_Body_Title"', 'id="Renamed_Title"'), "article.title"),
        (ZH_ARTICLE, (">外交部发言人就全国人大常委会审议通过香港国安法发表谈话</div>", "> </div>"), "article.title"),
        (ZH_ARTICLE, ('id="News_Body_Txt_A"', 'id="Renamed_Body"'), "article.body"),
    ],
    ids=["title-selector-gone", "title-empty", "body-selector-gone"],
)
def test_article_missing_part_raises_naming_source_and_field(
    fixture: str, replace: tuple[str, str], field: str
) -> None:
    page = body_of(fixture).decode("utf-8")
    assert replace[0] in page
    url = ROWS[fixture]["url"]
    with pytest.raises(ExtractError) as caught:
        extract_article(page.replace(*replace).encode("utf-8"), "text/html", url, proving_source(fixture))
    assert (caught.value.source_id, caught.value.url, caught.value.field) == ("mfa-zh-fyrbt", url, field)
    assert str(caught.value).startswith(f"[mfa-zh-fyrbt] {url}: {field}: ")


# -- listings ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", LISTINGS, ids=[Path(case["file"]).stem for case in LISTINGS])
def test_listing(case: dict[str, Any]) -> None:
    source = SHIPPED.source(case["source"])
    if case["file"] in {name for s in SHIPPED.sources for name in s.proven_by}:
        assert proving_source(case["file"]) is source
    url = ROWS[case["file"]]["url"]
    links = extract_links(body_of(case["file"]), "text/html", url, source)

    assert len(links) == case["count"]
    assert (links[0].url, links[0].title) == (case["first_url"], case["first_title"])
    assert (links[-1].url, links[-1].title) == (case["last_url"], case["last_title"])
    assert len({link.url for link in links}) == len(links)
    host = urlsplit(url).hostname
    for link in links:
        parts = urlsplit(link.url)
        assert parts.scheme == "https" and parts.hostname == host and not parts.fragment
        assert link.title and link.title == link.title.strip()


def en_p0_variant(*replacements: tuple[str, str]) -> bytes:
    page = body_of(EN_P0).decode("utf-8")
    for old, new in replacements:
        assert old in page
        page = page.replace(old, new)
    return page.encode("utf-8")


OFF_HOST = ('href="./t1794629.shtml"', 'href="https://news.example.net/t1794629.shtml"')
PROTOCOL_RELATIVE = ('href="./t1794266.shtml"', f'href="{EN_DIR.removeprefix("https:")}t1794266.shtml"')
SCRIPT_LINK = ('href="./t1793861.shtml"', 'href="javascript:void(0)"')


@pytest.mark.parametrize(
    ("allow_domains", "count", "first_url"),
    [
        ((), 38, EN_DIR + "t1794266.shtml"),
        (("example.net",), 39, "https://news.example.net/t1794629.shtml"),
        (("news.example.net",), 39, "https://news.example.net/t1794629.shtml"),
        (("ample.net",), 38, EN_DIR + "t1794266.shtml"),
        (("example.org", "gov.uk"), 38, EN_DIR + "t1794266.shtml"),
    ],
)
def test_listing_drops_off_host_links_unless_allowed(
    allow_domains: tuple[str, ...], count: int, first_url: str
) -> None:
    source = dataclasses.replace(SHIPPED.source("mfa-en-press"), allow_domains=allow_domains)
    page = en_p0_variant(OFF_HOST, PROTOCOL_RELATIVE, SCRIPT_LINK)
    links = extract_links(page, "text/html", ROWS[EN_P0]["url"], source)
    assert len(links) == count
    assert links[0].url == first_url
    assert EN_DIR + "t1794266.shtml" in [link.url for link in links]  # //host/... is the same host
    assert not any("t1793861" in link.url or link.url.startswith("javascript") for link in links)


@pytest.mark.parametrize(
    ("page", "source_id"),
    [
        (en_p0_variant(('class="newsLst_mod"', 'class="newsList_redesigned"')), "mfa-en-press"),
        (en_p0_variant(('href="./t', 'href="https://mirror.example.net/t')), "mfa-en-press"),
        (body_of(ERROR_PAGE), "mfa-zh-fyrbt"),
        (body_of("govuk/list_publications_2016-11-04.html"), "govuk-home-secretary-news"),
    ],
    ids=["layout-change", "all-links-off-host", "error-page", "other-site-markup"],
)
def test_listing_without_links_raises_naming_source_and_field(page: bytes, source_id: str) -> None:
    url = "https://www.fmprc.gov.cn/some/listing/"
    with pytest.raises(ExtractError) as caught:
        extract_links(page, "text/html", url, SHIPPED.source(source_id))
    assert (caught.value.source_id, caught.value.field, caught.value.url) == (source_id, "listing.links", url)
    assert str(caught.value).startswith(f"[{source_id}] {url}: listing.links: ")


# -- error pages and challenges ------------------------------------------------------------------------------------
def test_fmprc_sources_are_the_ones_with_the_error_url() -> None:
    assert tuple(s.id for s in SHIPPED.sources if "/error.htm" in s.error_urls) == FMPRC_SOURCES


@pytest.mark.parametrize("source_id", FMPRC_SOURCES)
@pytest.mark.parametrize(
    "url",
    [
        "https://www.fmprc.gov.cn/error.htm",
        "https://www.fmprc.gov.cn/web/wjdt_674879/fyrbt_674889/t1799999.shtml",
        "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/t1799999.shtml",
    ],
    ids=["at-error-url", "served-at-zh-url", "served-at-en-url"],
)
def test_fmprc_error_page_is_detected(source_id: str, url: str) -> None:
    assert is_error_page(body_of(ERROR_PAGE), "text/html", url, SHIPPED.source(source_id)) is True


@pytest.mark.parametrize("source_id", ["embassy-uk-news", "govuk-home-secretary-news", "govuk-publications"])
def test_error_page_markers_belong_to_fmprc_sources_only(source_id: str) -> None:
    url = "https://www.fmprc.gov.cn/web/wjdt_674879/fyrbt_674889/t1799999.shtml"
    assert is_error_page(body_of(ERROR_PAGE), "text/html", url, SHIPPED.source(source_id)) is False


def test_error_url_alone_is_enough() -> None:
    source = SHIPPED.source("mfa-zh-fyrbt")
    no_markers = dataclasses.replace(source, article=dataclasses.replace(source.article, error_markers=()))
    page = b"<html><body><p>anything</p></body></html>"
    assert is_error_page(page, "text/html", "https://www.fmprc.gov.cn/error.htm", no_markers) is True
    assert is_error_page(page, "text/html", "https://www.fmprc.gov.cn/web/t1.shtml", no_markers) is False


@pytest.mark.parametrize("case", ARTICLES, ids=[Path(case["file"]).stem for case in ARTICLES])
def test_real_article_is_not_an_error_page(case: dict[str, Any]) -> None:
    fixture = case["file"]
    assert is_error_page(body_of(fixture), "text/html", ROWS[fixture]["url"], proving_source(fixture)) is False


@pytest.mark.parametrize("source_id", FMPRC_SOURCES)
def test_fmprc_error_page_is_not_an_article(source_id: str) -> None:
    url = "https://www.fmprc.gov.cn/error.htm"
    with pytest.raises(ExtractError) as caught:
        extract_article(body_of(ERROR_PAGE), "text/html", url, SHIPPED.source(source_id))
    assert (caught.value.source_id, caught.value.field) == (source_id, "article.title")


CHALLENGES = [
    # Jiasule-style (__jsl_clearance) cookie challenge: a script sets a cookie then reloads; no visible text.
    b"<html><head><script>var x=3;document.cookie='__jsl_clearance=1593835000.1|0|'+x+';max-age=3600;path=/';"
    b"location.href=location.pathname+location.search</script></head><body></body></html>",
    # Cloudflare-style interstitial with a little text.
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body><div id='cf-chl-widget'>"
    b"<noscript>Enable JavaScript and cookies to continue</noscript></div><p>Checking your browser.</p>"
    b"<script>window._cf_chl_opt={cType:'managed'};document.cookie='cf_clearance=x';location.reload()</script>"
    b"</body></html>",
    # No <body> at all, only the script.
    b"<script>document.cookie='acw_sc__v2=5f0c2a';location.reload();</script>",
]


@pytest.mark.parametrize("page", CHALLENGES, ids=["jsl-cookie", "cf-interstitial", "script-only"])
def test_challenge_page_is_recognised(page: bytes) -> None:
    assert looks_like_challenge(page, "text/html") is True


@pytest.mark.parametrize("fixture", sorted(ROWS), ids=[Path(name).stem for name in sorted(ROWS)])
def test_real_page_is_not_a_challenge(fixture: str) -> None:
    assert looks_like_challenge(body_of(fixture), "text/html") is False


@pytest.mark.parametrize(
    "page",
    [
        b"<html><body><p>Short page, no script.</p></body></html>",
        b"<html><body><p>Short page</p><script>var analytics = 1;</script></body></html>",
        b"<html><body><p>" + b"A real article paragraph. " * 20 + b"</p><script>document.cookie='a=b'</script></body>",
    ],
    ids=["no-script", "script-without-cookie", "cookie-script-on-a-real-page"],
)
def test_ordinary_page_is_not_a_challenge(page: bytes) -> None:
    assert looks_like_challenge(page, "text/html") is False
