"""The generic listing link finder on a realistic ministry press page: the article list, never the furniture."""

from __future__ import annotations

import pytest

from monitor.config import Source
from monitor.errors import ExtractError
from monitor.pages import extract_links

BASE = "https://www.bmi.example.de/DE/presse/pressemitteilungen/"
SOURCE = Source(id="bmi", name="bmi", url=BASE)
ARTICLES = [
    ("2022/01/20220124-innenministerin-trifft-amtskollegen.html", "Innenministerin trifft Amtskollegen in Paris"),
    ("2022/01/20220121-neue-regeln-fuer-den-katastrophenschutz.html", "Neue Regeln für den Katastrophenschutz"),
    ("2022/01/20220119-bundespolizei-stellt-jahresbilanz-vor.html", "Bundespolizei stellt Jahresbilanz 2021 vor"),
    ("2022/01/20220117-digitalisierung-der-verwaltung.html", "Digitalisierung der Verwaltung kommt voran"),
]
FURNITURE = """
<header class="site-header">
  <a href="/DE/startseite/startseite-node.html"><img alt="Bundesministerium des Innern"></a>
  <nav class="main-nav"><ul>
    <li><a href="/DE/themen/heimat/heimat-node.html">Heimat, Zusammenhalt und Integration</a></li>
    <li><a href="/DE/themen/sicherheit/sicherheit-node.html">Sicherheit und Katastrophenschutz im Land</a></li>
    <li><a href="/DE/themen/verfassung/verfassung-node.html">Verfassung, Staat und Verwaltung heute</a></li>
  </ul></nav>
  <ul class="language-switcher"><li><a href="/EN/press/press-node.html" hreflang="en">English</a></li>
    <li><a href="/FR/presse/presse-node.html" lang="fr">Français: communiqués de presse du ministère</a></li></ul>
</header>
<div class="breadcrumb"><a href="/DE/startseite/startseite-node.html">Startseite</a> &gt;
  <a href="/DE/presse/presse-node.html">Presse und Pressemitteilungen des Ministeriums</a></div>
"""
FOOTER = """
<div class="pagination"><a href="?page=1">1</a> <a href="?page=2">2</a> <a href="?page=2">weiter</a></div>
<p><a href="/DE/presse/pressemitteilungen/archiv/archiv-node.html">Mehr</a></p>
<div class="social-share"><a href="https://twitter.com/BMI_Bund">Das Ministerium auf Twitter folgen</a>
  <a href="/DE/service/rss/rss-node.html">Pressemitteilungen als RSS-Feed abonnieren</a></div>
<footer><ul><li><a href="/DE/service/impressum/impressum-node.html">Impressum und rechtliche Hinweise</a></li>
  <li><a href="/DE/service/datenschutz/datenschutz-node.html">Datenschutzerklärung des Ministeriums</a></li>
  <li><a href="/DE/service/barrierefreiheit/barrierefreiheit-node.html">Erklärung zur Barrierefreiheit</a></li>
  </ul></footer>
"""


def listing(items: list[tuple[str, str]]) -> bytes:
    rows = "".join(
        f'<li class="teaser"><span class="date">{path[14:16]}.{path[5:7]}.{path[:4]}</span>'
        f'<a class="teaser-link" href="{path}">{title}</a><p>Pressemitteilung</p></li>'
        for path, title in items
    )
    body = f"{FURNITURE}<main><h1>Pressemitteilungen</h1><ul class='result-list'>{rows}</ul>{FOOTER}</main>"
    return f"<html lang='de'><head><title>Pressemitteilungen</title></head><body>{body}</body></html>".encode()


def test_only_the_article_list_is_followed() -> None:
    links = extract_links(listing(ARTICLES), "text/html; charset=utf-8", BASE, SOURCE)
    assert [(link.url, link.title) for link in links] == [(BASE + path, title) for path, title in ARTICLES]


def test_a_listing_of_two_articles_is_still_found() -> None:
    links = extract_links(listing(ARTICLES[:2]), None, BASE, SOURCE)
    assert [link.url for link in links] == [BASE + path for path, _ in ARTICLES[:2]]


@pytest.mark.parametrize("lone", [False, True], ids=["no-articles", "one-undated-article"])
def test_furniture_alone_is_no_listing(lone: bool) -> None:
    # A lone link counts only when it is both deeper than the listing and dated: this one has no date.
    body = listing(ARTICLES[:1] if lone else [])
    body = body.replace(b"24.01.2022", b"").replace(b"2022/01/20220124-", b"")
    with pytest.raises(ExtractError) as caught:
        extract_links(body, None, BASE, SOURCE)
    assert caught.value.field == "listing.links"
    assert "no block of article-like links" in caught.value.reason
