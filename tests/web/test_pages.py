"""The web view's pages over the real server, on a store filled by real checks of the loopback ministry."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from conftest import Ministry, RunCli
from sitekit import EN_ARTICLES
from webkit import EDIT_NEW, EDIT_OLD, TITLE_C, WORD_OF_C, WORD_OF_ZH_NEW, ZH_NEW, A, C, Newsroom, served

from storage import ArticleState, VersionRecord, compress_raw, open_store


@pytest.fixture
def newsroom(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> Newsroom:
    room = Newsroom(ministry, tmp_path, run_cli)
    room.baseline()
    room.news()
    return room


@pytest.fixture
def web(newsroom: Newsroom) -> Iterator[httpx.Client]:
    with served(newsroom.config) as client:
        yield client


def _page(web: httpx.Client, path: str, **params: str) -> str:
    response = web.get(path, params=params)
    assert response.status_code == 200, response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]
    return response.text


def _article_link(url: str) -> str:
    return f"/article?url={quote(url, safe='/')}"


def test_dashboard_lists_every_source_problems_first_and_links_each(newsroom: Newsroom, web: httpx.Client) -> None:
    page = _page(web, "/")
    sources, events = page.split("<h2>Latest events</h2>")
    linked = re.findall(r'<a href="/sources/([^"]+)">', sources)
    assert {"mfa-en-press", "mfa-zh-fyrbt", "govuk-publications"} <= set(linked)
    states = re.findall(r'<span class="badge ([a-z-]+)">', sources)
    assert states[:2] == ["ok", "ok"] and set(states[2:]) == {"new"}, "sources never polled come after those that work"
    assert _article_link(newsroom.url(C)) in events
    assert "updated" in events and _article_link(newsroom.url(A)) + "#changes" in events


def test_a_failing_source_comes_first_with_its_reason(newsroom: Newsroom, web: httpx.Client) -> None:
    newsroom.ministry.site.remove("/mfa_eng/xwfw_665399/s2510_665401/2511_665403/")
    newsroom.run_cli("check", "--config", str(newsroom.config_path), "--source", "mfa-en-press")
    page = _page(web, "/")
    first_row = page.split("<tbody>")[1].split("</tr>")[0]
    assert "/sources/mfa-en-press" in first_row and 'class="badge error"' in first_row
    assert "404" in first_row


def test_source_page_lists_its_articles_newest_first_with_state_and_versions(
    newsroom: Newsroom, web: httpx.Client
) -> None:
    page = _page(web, "/sources/mfa-en-press")
    links = re.findall(r'<a href="(/article\?url=[^"#]+)">', page)
    assert links[0] == _article_link(newsroom.url(C)), "the article found last is listed first"
    assert set(links) == {_article_link(newsroom.url(doc)) for doc in (A, C, "t1739548")}
    assert TITLE_C in page.replace("&#39;", "'")
    edited_row = next(row for row in page.split("<tr") if _article_link(newsroom.url(A)) in row)
    assert "<strong>2</strong> edited" in edited_row and 'class="badge live"' in edited_row
    assert web.get("/sources/no-such-source").status_code == 404


def test_article_page_shows_the_silent_edit_inline_and_side_by_side(newsroom: Newsroom, web: httpx.Client) -> None:
    page = _page(web, "/article", url=newsroom.url(A))
    assert "What changed in v2" in page
    assert "Mr. Pompeo is <del>a brazen liar.</del><ins>mistaken.</ins>" in page
    side = page.split('class="side-by-side"')[1].split("</table>")[0]
    assert side.count("<tr>") == 2  # the header and the one changed paragraph
    assert "Mr. Pompeo is <del>a brazen liar.</del></td>" in side and "Mr. Pompeo is <ins>mistaken.</ins></td>" in side
    first = _page(web, "/article", url=newsroom.url(A), v="1")
    assert "first version seen" in first and EDIT_OLD in first
    assert web.get("/article", params={"url": newsroom.url("t0000000")}).status_code == 404


def test_each_version_downloads_as_the_html_that_was_fetched(newsroom: Newsroom, web: httpx.Client) -> None:
    original = newsroom.ministry.body(EN_ARTICLES[A])
    for number, expected in ((1, original), (2, original.replace(EDIT_OLD.encode(), EDIT_NEW.encode()))):
        response = web.get("/article/raw", params={"url": newsroom.url(A), "v": str(number)})
        assert response.status_code == 200
        assert response.content == expected
        assert response.headers["content-disposition"] == f'attachment; filename="{A}.shtml.v{number}.html"'
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-security-policy"].startswith("sandbox")


@pytest.mark.parametrize(("query", "doc"), [(WORD_OF_C, C), (WORD_OF_ZH_NEW, ZH_NEW), ("严正", ZH_NEW)])
def test_search_finds_the_new_article_by_a_word_of_its_body(
    newsroom: Newsroom, web: httpx.Client, query: str, doc: str
) -> None:
    page = _page(web, "/search", q=query)
    url = newsroom.zh_url(doc) if doc == ZH_NEW else newsroom.url(doc)
    links = re.findall(r'<a class="title" href="([^"]+)">', page)
    assert links == [_article_link(url)]
    assert f"<mark>{query}</mark>" in page


def test_search_with_no_match_or_no_query_says_so(web: httpx.Client) -> None:
    assert "No article contains <strong>zzqx-nothing</strong>" in _page(web, "/search", q="zzqx-nothing")
    assert "Type words that must all appear" in _page(web, "/search")


def test_event_log_filters_by_type_and_source(newsroom: Newsroom, web: httpx.Client) -> None:
    page = _page(web, "/events")
    assert page.count('class="badge article-published"') == 2 and page.count('class="badge article-updated"') == 1
    updated = _page(web, "/events", type="article.updated")
    assert "article-published" not in updated and _article_link(newsroom.url(A)) in updated
    chinese = _page(web, "/events", source="mfa-zh-fyrbt")
    assert chinese.count('class="badge article-published"') == 1 and "mfa-en-press</a></td>" not in chinese
    assert web.get("/events", params={"type": "bogus"}).status_code == 400


def test_scraped_text_is_shown_as_text_never_as_markup(newsroom: Newsroom, web: httpx.Client) -> None:
    store = open_store(newsroom.config.database)
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    with store.transaction():
        article = ArticleState("mfa-en-press", "https://evil.example/a?<b>", first_seen=datetime.now(UTC), version=1)
        article_id = store.save_article(article)
        version = VersionRecord(1, datetime.now(UTC), hostile, None, f"Body {hostile} xyzzy", "h", compress_raw(b"x"))
        store.add_version(article_id, version)
    store.close()
    for page in (
        _page(web, "/sources/mfa-en-press"),
        _page(web, "/article", url="https://evil.example/a?<b>"),
        _page(web, "/search", q="xyzzy"),
    ):
        assert "<script>" not in page and "<img src=x" not in page
        assert "&lt;script&gt;" in page
