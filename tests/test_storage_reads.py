"""The store's read side (search, article pages, counts, recent events), run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from storage import ArticleState, EventRecord, Store, VersionRecord, open_store
from storage.reads import search_terms, snippet

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def _add(store: Store, url: str, title: str, text: str, source: str = "src", version: int = 1) -> int:
    article = store.find_article(url) or ArticleState(source, url, first_seen=T0)
    article.version = version
    with store.transaction():
        article_id = store.save_article(article)
        at = T0 + timedelta(minutes=version)
        store.add_version(article_id, VersionRecord(version, at, title, None, text, f"h{version}{text}"))
    return article_id


def _urls(store: Store, query: str, **options: object) -> list[str]:
    return [hit.article.url for hit in store.search(query, **options)]  # type: ignore[arg-type]


def test_search_matches_words_of_titles_and_bodies_any_case_newest_first(store: Store) -> None:
    _add(store, "https://x.org/1", "Regular press conference", "The spokesperson answered questions on trade.")
    _add(store, "https://x.org/2", "Statement on the summit", "The ministry welcomes the Trade agreement.")
    _add(store, "https://x.org/3", "Daily briefing", "Nothing about commerce here.")
    assert _urls(store, "trade") == ["https://x.org/2", "https://x.org/1"]
    assert _urls(store, "TRADE welcomes") == ["https://x.org/2"]
    assert _urls(store, "press") == ["https://x.org/1"]
    assert _urls(store, "absent-word") == []
    assert _urls(store, "   ") == []
    hit = store.search("commerce")[0]
    assert hit.article.title == "Daily briefing" and "commerce" in hit.snippet and hit.article.version == 1


def test_search_finds_chinese_words_of_two_and_more_characters(store: Store) -> None:
    _add(store, "https://x.org/zh1", "外交部发言人答记者问", "中方坚决反对任何形式的单边制裁。")
    _add(store, "https://x.org/zh2", "王毅会见来访客人", "双方就气候变化交换了意见。")
    assert _urls(store, "单边制裁") == ["https://x.org/zh1"]
    assert _urls(store, "制裁") == ["https://x.org/zh1"]
    assert _urls(store, "气候 意见") == ["https://x.org/zh2"]
    assert _urls(store, "发言人") == ["https://x.org/zh1"]


def test_search_follows_the_latest_version(store: Store) -> None:
    _add(store, "https://x.org/1", "Statement", "The minister will visit Paris.")
    _add(store, "https://x.org/1", "Statement", "The minister will visit Berlin.", version=2)
    assert _urls(store, "Berlin") == ["https://x.org/1"]
    assert _urls(store, "Paris") == []
    assert [hit.article.version for hit in store.search("minister")] == [2]


@pytest.mark.parametrize(
    "query",
    ['"quoted', "100%", "a_b", "x OR y", "NEAR(a b)", "*", "\\", "title:x", "-ab", "a'", "\\'", ":*", "!&", '"x', "%_"],
)
def test_search_takes_any_text_literally(store: Store, query: str) -> None:
    _add(store, "https://x.org/1", "Odd", f"before {query} after")
    _add(store, "https://x.org/2", "Other", "nothing special 100 percent ab")
    assert _urls(store, query) == ["https://x.org/1"]


def test_search_pages_and_filters_by_source(store: Store) -> None:
    for n in range(5):
        _add(store, f"https://x.org/{n}", f"Item {n}", "common words", source="a" if n % 2 else "b")
    assert _urls(store, "common", limit=2) == ["https://x.org/4", "https://x.org/3"]
    assert _urls(store, "common", limit=2, offset=2) == ["https://x.org/2", "https://x.org/1"]
    assert _urls(store, "common", source_id="a") == ["https://x.org/3", "https://x.org/1"]


def _drop_search_index(store_url: str) -> None:
    statements = ["DROP TABLE search_text", "DELETE FROM meta WHERE key = 'search_index'"]
    if store_url.startswith("sqlite"):
        with closing(sqlite3.connect(store_url.removeprefix("sqlite:///"))) as conn, conn:
            for statement in statements:
                conn.execute(statement)
        return
    with psycopg.connect(store_url, autocommit=True) as pg:
        for statement in statements:
            pg.execute(statement)


def test_a_store_made_before_search_is_indexed_when_opened(store_url: str) -> None:
    store = open_store(store_url)
    _add(store, "https://x.org/1", "Old article", "written before the search index existed")
    store.close()
    _drop_search_index(store_url)
    for _ in range(2):  # the migration runs once, and opening again changes nothing
        store = open_store(store_url)
        assert _urls(store, "existed") == ["https://x.org/1"]
        store.close()


def test_article_pages_newest_first_with_counts(store: Store) -> None:
    for n in range(3):
        _add(store, f"https://x.org/{n}", f"Title {n}", "text", source="a")
    _add(store, "https://x.org/0", "Title 0 edited", "text 2", source="a", version=2)
    _add(store, "https://y.org/1", "Other", "text", source="b")
    page = store.article_page("a", offset=0, limit=2)
    assert [(s.url, s.title, s.version) for s in page] == [
        ("https://x.org/2", "Title 2", 1),
        ("https://x.org/1", "Title 1", 1),
    ]
    assert [(s.title, s.version) for s in store.article_page("a", offset=2, limit=2)] == [("Title 0 edited", 2)]
    assert store.article_counts() == {"a": 3, "b": 1}
    assert (store.article_count("a"), store.article_count("none")) == (3, 0)
    assert store.article_page("none", offset=0, limit=10) == []


def test_recent_events_newest_first_filtered(store: Store) -> None:
    kinds = ["article.published", "article.updated", "source.failing", "article.updated"]
    for n, kind in enumerate(kinds):
        event = EventRecord(f"evt_{n}", kind, "a" if n < 3 else "b", T0 + timedelta(minutes=n), b"{}", None)
        store.add_event(event, [], "k")
    assert [e.id for e in store.recent_events()] == ["evt_3", "evt_2", "evt_1", "evt_0"]
    assert [e.id for e in store.recent_events(types={"article.updated"})] == ["evt_3", "evt_1"]
    assert [e.id for e in store.recent_events(source_id="a", limit=2)] == ["evt_2", "evt_1"]
    before = store.recent_events(limit=2)[-1].seq
    assert [e.id for e in store.recent_events(before_seq=before)] == ["evt_1", "evt_0"]
    assert store.recent_events(types=set()) == []


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("a b a", ["a", "b"]),
        ("Trade trade", ["Trade"]),
        ("", []),
        (" x\ty ", ["x", "y"]),
        ("1 2 3 4 5 6 7 8 9", list("12345678")),
    ],
)
def test_search_terms(query: str, terms: list[str]) -> None:
    assert search_terms(query) == terms


@pytest.mark.parametrize(
    ("text", "terms", "width", "expected"),
    [
        ("short text", ["text"], 40, "short text"),
        ("a " * 30 + "needle" + " b" * 30, ["NEEDLE"], 21, "…a a a needle b b b b…"),
        ("no match here at all", ["zzz"], 8, "no match…"),
    ],
)
def test_snippet(text: str, terms: list[str], width: int, expected: str) -> None:
    assert snippet(text, terms, width) == expected


def test_search_finds_old_articles_behind_many_newer_ones(store: Store) -> None:
    with store.transaction():
        for n in range(520):  # more than PostgreSQL reads newest-first before it asks its indexes
            article = ArticleState("src", f"https://x.org/{n}", first_seen=T0, version=1)
            text = "the oldest has quetzalcoatl" if n == 0 else f"filler text {n} with quetzal once" if n == 7 else "x"
            store.add_version(store.save_article(article), VersionRecord(1, T0, f"t{n}", None, text, f"h{n}"))
    assert _urls(store, "quetzalcoatl") == ["https://x.org/0"]
    assert _urls(store, "quetzal") == ["https://x.org/7", "https://x.org/0"]
    assert _urls(store, "quetzal", limit=1, offset=1) == ["https://x.org/0"]


# Old articles behind more new ones than PostgreSQL reads newest-first, so its indexes answer: the pairs (exact for two
# characters, candidates for longer terms), the trigrams. Each query must find what a plain substring match finds.
PLANTED = {
    3: "王毅会见阿富汗代表 afghan envoy",
    40: "阿富 only the pair",
    77: "abc bcd: every pair of abcd, not abcd itself",
    90: "the real abcd and 中方 (zq)",
    120: "Zq capital, quetzal",
    200: "q alone",
}
ORACLE_QUERIES = [
    "阿富",
    "王毅",
    "中方",
    "zq",
    "ZQ",
    "abcd",
    "bcd",
    "阿富 汗",
    "zq quetzal",
    "q",
    "阿 z",
    "zz",
    "envoy 毅",
]


@pytest.fixture
def planted(store: Store) -> dict[int, str]:
    texts: dict[int, str] = {}
    with store.transaction():
        for n in range(560):
            text = PLANTED.get(n, f"filler number {n} about nothing in particular")
            article = ArticleState("src", f"https://x.org/{n}", first_seen=T0, version=1)
            store.add_version(store.save_article(article), VersionRecord(1, T0, f"t{n}", None, text, f"h{n}"))
            texts[n] = f"t{n} {text}".lower()
    return texts


@pytest.mark.parametrize("pair_candidates", [3000, 2])
def test_search_finds_what_a_substring_match_finds(
    store: Store, planted: dict[int, str], pair_candidates: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("storage.postgres.PAIR_CANDIDATES", pair_candidates)  # 2: the trigram index answers
    for query in ORACLE_QUERIES:
        words = query.lower().split()
        expected = [f"https://x.org/{n}" for n in sorted(planted, reverse=True) if all(w in planted[n] for w in words)]
        assert _urls(store, query, limit=100) == expected[:100], query
        assert _urls(store, query) == expected[:20], query
        assert _urls(store, query, limit=1, offset=1) == expected[1:2], query
        assert _urls(store, query, limit=100, source_id="src") == expected, query
        assert _urls(store, query, source_id="other") == [], query
    with store.transaction():  # inside a caller's transaction the planner chooses: the same answers
        for query in ORACLE_QUERIES:
            expected = [
                f"https://x.org/{n}"
                for n in sorted(planted, reverse=True)
                if all(w in planted[n] for w in query.lower().split())
            ]
            assert _urls(store, query, limit=100) == expected[:100], query


def test_a_store_indexed_before_pairs_gains_them_when_opened(store_url: str) -> None:
    store = open_store(store_url)
    _add(store, "https://x.org/1", "Old article", "中方坚决反对")
    store.close()
    statement = "UPDATE meta SET value = '1' WHERE key = 'search_index'"
    if store_url.startswith("sqlite"):
        with closing(sqlite3.connect(store_url.removeprefix("sqlite:///"))) as conn, conn:
            conn.execute("DROP TABLE search_pairs")
            conn.execute(statement)
        reader = open_store(store_url, read_only=True)  # a read-only open cannot build them: LIKE scans instead
        assert _urls(reader, "中方") == ["https://x.org/1"]
        reader.close()
    else:
        with psycopg.connect(store_url, autocommit=True) as pg:
            pg.execute(statement)
    for version in (2, 4):  # the migration runs once, and opening again changes nothing
        store = open_store(store_url)
        assert _urls(store, "中方") == ["https://x.org/1"] and _urls(store, "反对") == ["https://x.org/1"]
        _add(store, "https://x.org/1", "Old article", "改为别的话", version=version)  # the old pairs are forgotten
        assert _urls(store, "中方") == [] and _urls(store, "别的") == ["https://x.org/1"]
        _add(store, "https://x.org/1", "Old article", "中方坚决反对", version=version + 1)
        store.close()
