"""Zero-config reading (issue 13): a url-only source against the real saved pages, compared with the shipped
selectors, and the generic headline/date/body rules on realistic snippets."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import ArticleSelectors, ListingSelectors, Source, load_config
from monitor.errors import ExtractError
from monitor.pages import extract_article, extract_links

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CONFIG = load_config(ROOT / "config" / "sources.toml")
with (FIXTURES / "SOURCES.tsv").open(encoding="utf-8", newline="") as _fh:
    ROWS = {row["file"]: row for row in csv.DictReader(_fh, delimiter="\t", quoting=csv.QUOTE_NONE)}
LISTINGS = {
    "fmprc/en_list_regular-press-conference_p0_2020-07-04.html": "mfa-en-press",
    "fmprc/en_list_regular-press-conference_p12_2020-07-04.html": "mfa-en-press",
    "fmprc/zh_list_fyrbt_p0_2020-07-04.html": "mfa-zh-fyrbt",
    "fmprc/zh_list_fyrbt_p66_2020-07-04.html": "mfa-zh-fyrbt",
    "govuk/list_news-braverman_2023-06-02.html": "govuk-home-secretary-news",
    "govuk/list_news-braverman_2023-06-11.html": "govuk-home-secretary-news",
    "govuk/list_publications_2014-08-04.html": "govuk-publications",
    "govuk/list_publications_2016-11-04.html": "govuk-publications",
}
ARTICLES = {name: s.id for s in CONFIG.sources for name in s.proven_by if ROWS[name]["kind"] == "article"}
# The one documented difference: GOV.UK's ILR page has link-only lines in its body (a download link and two
# publication titles). The generic reader drops link-only lists and lines as it drops "related" lists.
DROPPED_LINK_LINES = {
    "govuk/article_publication-ilr-check-data_2014-08.html": [
        "Download FIS from the Hub",
        "Provider Support Manual",
        "ILR validation rules for 2013 to 2014",
    ]
}


def url_only(source: Source) -> Source:
    return dataclasses.replace(source, listing=ListingSelectors(), article=ArticleSelectors())


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize("name", LISTINGS)
def test_url_only_listing_follows_the_same_links_as_the_shipped_selectors(name: str) -> None:
    source = CONFIG.source(LISTINGS[name])
    url = ROWS[name]["url"]
    shipped = {link.url for link in extract_links(read(name), "text/html", url, source)}
    found = [link.url for link in extract_links(read(name), "text/html", url, url_only(source))]
    hits = len(shipped & set(found))
    assert len(shipped) >= 9
    assert hits / len(found) >= 0.95, "precision"
    assert hits / len(shipped) >= 0.95, "recall"
    assert len(found) == len(set(found))


@pytest.mark.parametrize("name", sorted(ARTICLES))
def test_url_only_article_reads_like_the_shipped_selectors(name: str) -> None:
    source = CONFIG.source(ARTICLES[name])
    url = ROWS[name]["url"]
    shipped = extract_article(read(name), "text/html", url, source)
    found = extract_article(read(name), "text/html", url, url_only(source))
    assert (found.title, found.published, found.doc_id, found.canonical_url) == (
        shipped.title,
        shipped.published,
        shipped.doc_id,
        shipped.canonical_url,
    )
    dropped = DROPPED_LINK_LINES.get(name, [])
    assert found.text.split("\n\n") == [p for p in shipped.text.split("\n\n") if p not in dropped]


NOT_ARTICLES = [*LISTINGS, "fmprc/zh_error-page_2020-07-04.html"]


@pytest.mark.parametrize("name", NOT_ARTICLES)
def test_listings_and_error_pages_are_not_articles(name: str) -> None:
    source = url_only(CONFIG.source("mfa-en-press"))
    with pytest.raises(ExtractError) as caught:
        extract_article(read(name), "text/html", ROWS[name]["url"], source)
    assert caught.value.field == "article.body"
    assert caught.value.reason.startswith("no article text found (")


BARE = Source(id="bare", name="bare", url="https://www.example.gov/presse/")
PARAGRAPHS = "".join(
    f"<p>Absatz {n}: Die Bundesregierung hat heute über die Förderung beraten, und die Ministerin sagte, dass "
    f"die Mittel im kommenden Jahr steigen werden.</p>"
    for n in range(1, 5)
)


def page(head: str, body: str, lang: str = "de") -> bytes:
    head = f'<meta charset="utf-8">{head}'
    return f'<!doctype html><html lang="{lang}"><head>{head}</head><body>{body}</body></html>'.encode()


FURNITURE = (
    '<header><a href="/"><h1 class="logo">Bundesministerium</h1></a><nav><ul><li><a href="/a">Themen</a></li>'
    '<li><a href="/b">Presse</a></li></ul></nav></header>'
    '<div class="breadcrumb"><a href="/">Start</a> &gt; <a href="/presse/">Presse</a></div>'
)
FOOTER = '<footer><p>Impressum · Datenschutz · Kontakt</p><p class="stand">Stand: 12.11.2021</p></footer>'


@pytest.mark.parametrize(
    ("head", "body", "title"),
    [
        (
            "<title>Plenary vote on the AI act | News | European Parliament</title>",
            FURNITURE + f"<main><article><h1>Plenary vote on the AI act</h1>{PARAGRAPHS}</article></main>",
            "Plenary vote on the AI act",
        ),
        (
            "<title>BMWK - Habeck stellt Jahreswirtschaftsbericht vor</title>",
            f"<div class='content'>{PARAGRAPHS}</div>",
            "Habeck stellt Jahreswirtschaftsbericht vor",
        ),
        (
            "<title>Regierung beschließt Klimapaket - Bundeskanzleramt Österreich</title>",
            '<h1 class="sr-only">Bundeskanzleramt</h1><article><h2>Regierung beschließt Klimapaket</h2>'
            f"{PARAGRAPHS}</article>",
            "Regierung beschließt Klimapaket",
        ),
        (
            '<meta property="og:title" content="Minister trifft Amtskollegen">',
            '<article><h1><span class="date">24.01.2022</span> Minister trifft Amtskollegen</h1>'
            f"{PARAGRAPHS}</article>",
            "Minister trifft Amtskollegen",
        ),
    ],
    ids=["title-suffix-and-logo-h1", "title-prefix-no-h1", "sr-only-h1", "date-glued-in-front"],
)
def test_headline(head: str, body: str, title: str) -> None:
    found = extract_article(page(head, body), None, "https://www.example.gov/presse/a.html", BARE)
    assert found.title == title
    assert found.text.startswith("Absatz 1:") and found.text.endswith("steigen werden.")
    assert "Themen" not in found.text and "Start" not in found.text


def article_with(head: str = "", near_title: str = "", footer: str = FOOTER, lang: str = "de") -> bytes:
    body = f"{FURNITURE}<main><h1>Minister trifft Amtskollegen</h1>{near_title}{PARAGRAPHS}</main>{footer}"
    return page(head, body, lang)


@pytest.mark.parametrize(
    ("html", "url", "published"),
    [
        (
            article_with(
                '<script type="application/ld+json">{"@type": "NewsArticle", '
                '"datePublished": "2022-02-01T09:30:00+01:00"}</script>'
            ),
            "https://www.example.gov/presse/a.html",
            "2022-02-01T09:30:00+01:00",
        ),
        (
            article_with('<meta property="article:published_time" content="2022-02-01T10:00:00Z">'),
            "https://www.example.gov/presse/a.html",
            "2022-02-01T10:00:00+00:00",
        ),
        (
            article_with('<meta name="DC.date" content="2022-02-01">'),
            "https://www.example.gov/presse/a.html",
            "2022-02-01T00:00:00+01:00",
        ),
        (
            article_with(near_title='<p class="info"><time datetime="2022-02-01">1. Februar 2022</time></p>'),
            "https://www.example.gov/presse/a.html",
            "2022-02-01T00:00:00+01:00",
        ),
        (
            article_with(near_title="<p>Pressemitteilung vom 1. Februar 2022</p>"),
            "https://www.example.gov/presse/a.html",
            "2022-02-01T00:00:00+01:00",
        ),
        (
            article_with(near_title="<div>Bern, 17.08.2007 - Der Bundesrat teilt mit</div>"),
            "https://www.example.gov/presse/a.html",
            "2007-08-17T00:00:00+02:00",
        ),
        (
            article_with(near_title="<span>19-10-2022 - 13:14</span>"),
            "https://www.example.gov/presse/a.html",
            "2022-10-19T13:14:00+02:00",
        ),
        # The footer's "Stand:" date is not the publication date ...
        (
            article_with(near_title="<p>Datum: 03.11.2021</p>", footer=f"<div>{FOOTER}</div>"),
            "https://www.example.gov/presse/a.html",
            "2021-11-03T00:00:00+01:00",
        ),
        (
            article_with(near_title="<p>Letzte Änderung: 05.03.2022 · Veröffentlicht: 01.03.2022</p>"),
            "https://www.example.gov/presse/a.html",
            "2022-03-01T00:00:00+01:00",
        ),
        # ... then the URL,
        (article_with(), "https://www.example.gov/presse/2022/01/20220124-treffen.html", "2022-01-24T00:00:00+01:00"),
        # and a day/month order that follows the page's language.
        (
            article_with(near_title="<p>03/04/2022</p>", lang="en-US"),
            "https://www.example.gov/presse/a.html",
            "2022-03-04T00:00:00+01:00",
        ),
        (
            article_with(near_title="<p>03/04/2022</p>", lang="en-GB"),
            "https://www.example.gov/presse/a.html",
            "2022-04-03T00:00:00+02:00",
        ),
    ],
    ids=[
        "json-ld",
        "article-published-time",
        "dc-date",
        "time-datetime",
        "german-month-name-near-title",
        "swiss-dateline",
        "dashed-with-time",
        "footer-stand-trap",
        "letzte-aenderung-trap",
        "url",
        "en-us-month-first",
        "en-gb-day-first",
    ],
)
def test_published(html: bytes, url: str, published: str) -> None:
    source = dataclasses.replace(BARE, timezone=ZoneInfo("Europe/Berlin"))
    found = extract_article(html, None, url, source)
    assert found.published == published
    assert "Stand" not in found.text and "Impressum" not in found.text


def test_source_language_beats_the_page_lang_for_day_month_order() -> None:
    html = article_with(near_title="<p>03/04/2022</p>", lang="de")
    source = dataclasses.replace(BARE, language="en-US")
    assert extract_article(html, None, "https://www.example.gov/presse/a.html", source).published == (
        "2022-03-04T00:00:00+00:00"
    )


def test_configured_selectors_win_key_by_key() -> None:
    html = article_with(near_title="<p class='kicker'>Pressemitteilung vom 1. Februar 2022</p>")
    source = dataclasses.replace(BARE, article=ArticleSelectors(title="p.kicker"))
    found = extract_article(html, None, "https://www.example.gov/presse/a.html", source)
    assert found.title == "Pressemitteilung vom 1. Februar 2022"
    assert found.text.startswith("Absatz 1:")
    body_only = dataclasses.replace(BARE, article=ArticleSelectors(body="footer"))
    found = extract_article(html, None, "https://www.example.gov/presse/a.html", body_only)
    assert (found.title, found.text) == (
        "Minister trifft Amtskollegen",
        "Impressum · Datenschutz · Kontakt\n\nStand: 12.11.2021",
    )
