"""One storage contract, run on SQLite and on a fresh PostgreSQL database per test."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import zlib
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from conftest import FIXTURES, PG_ADMIN, ROOT

from storage import (
    ArticleState,
    EventRecord,
    IntegrityError,
    SourceState,
    StorageError,
    StorageUnavailableError,
    Store,
    VersionRecord,
    compress_raw,
    describe_url,
    open_store,
)
from storage.sqlite import SqliteStore

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database of each backend (PostgreSQL: a database of its own, dropped afterwards)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def _article(url: str = "https://example.org/t1.shtml", **fields: object) -> ArticleState:
    return ArticleState("src", url, first_seen=T0, **fields)  # type: ignore[arg-type]


def _version(number: int, text: str = "body", raw: bytes = b"<html>raw</html>") -> VersionRecord:
    at = T0 + timedelta(minutes=number)
    return VersionRecord(number, at, "title", "2020-06-30T00:00:00+08:00", text, f"h{text}", compress_raw(raw))


def _event(event_id: str, kind: str = "article.published", at: datetime = T0, source: str = "src") -> EventRecord:
    return EventRecord(event_id, kind, source, at, b'{"id":"%s"}' % event_id.encode(), "https://example.org/t1.shtml")


def test_source_state_round_trips(store: Store) -> None:
    assert store.source_state("src") is None
    state = SourceState(
        "src",
        name="Name",
        url="https://example.org/",
        etag='"abc"',
        baseline_done=True,
        link_count=40,
        consecutive_failures=2,
        failing=True,
        last_success=T0,
        last_error="HTTP 503",
    )
    store.save_source_state(state)
    state.link_count = 41
    store.save_source_state(state)

    assert store.source_state("src") == state
    assert store.source_states() == [state]


def test_articles_versions_and_export(store: Store) -> None:
    article = _article(doc_id="t1", next_fetch_at=T0 + timedelta(hours=1))
    article_id = store.save_article(article)
    store.add_version(article_id, _version(1, "first"))
    store.add_version(article_id, _version(2, "second"))
    store.add_version(article_id, VersionRecord(3, T0, "title", None, "first", "hfirst", None, same_as=1))
    article.version, article.status = 3, "removed"
    store.save_article(article)
    store.save_article(_article("https://example.org/never-fetched.shtml"))

    assert store.articles("src")[article.url] == article
    assert store.find_article(article.url) == article
    assert [v.version for v in store.versions(article_id)] == [1, 2, 3]
    assert store.versions(article_id)[0].raw_zlib is None, "listing versions does not load raw HTML"
    assert store.version(article_id, 1) == _version(1, "first")
    assert store.version_hashes(article_id) == {"hfirst": 1, "hsecond": 2}
    rows = list(store.export_rows())
    assert [(a.url, v.version, v.same_as) for a, v in rows] == [(article.url, 3, 1)]
    assert store.count_versions() == 3


def _execute_directly(store_url: str, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run one statement on the database behind `store_url` without the store; return its rows (bytes as bytes)."""
    if store_url.startswith("sqlite"):
        with closing(sqlite3.connect(store_url.removeprefix("sqlite:///"))) as conn, conn:
            return conn.execute(statement, params).fetchall()
    with psycopg.connect(store_url) as pg:
        cursor = pg.execute(statement.replace("?", "%s"), params)
        rows = cursor.fetchall() if cursor.description else []
        return [tuple(bytes(c) if isinstance(c, memoryview) else c for c in row) for row in rows]


def test_raw_html_is_stored_and_read_back_as_the_zlib_bytes_on_disk(store_url: str) -> None:
    html = (FIXTURES / "fmprc/en_article_t1793427_regular-press-conference_2020-06-30.html").read_bytes()
    with closing(open_store(store_url)) as store:
        article_id = store.save_article(_article())
        store.add_version(article_id, _version(2, raw=html))
    # Databases written before RAW_COMPRESSION = 1 hold level-6 zlib: the store returns whatever zlib bytes it finds.
    older = zlib.compress(html, 6)
    _execute_directly(
        store_url,
        "INSERT INTO versions SELECT article_id, 1, fetched_at, title, published, body_text, content_hash, ?, same_as,"
        " reader FROM versions",
        (older,),
    )
    with closing(open_store(store_url)) as store:
        read = [store.version(article_id, n) for n in (1, 2)]

    on_disk = _execute_directly(store_url, "SELECT version, raw FROM versions ORDER BY version")
    assert on_disk == [(1, older), (2, compress_raw(html))], "the column holds the given zlib bytes, nothing else"
    assert [v.raw_zlib if v else None for v in read] == [older, compress_raw(html)], "read back exactly as stored"
    assert zlib.decompress(older) == zlib.decompress(compress_raw(html)) == html


def test_articles_for_check_reads_only_what_a_check_can_touch(store: Store) -> None:
    urls = {name: f"https://example.org/{name}.shtml" for name in ("due", "later", "new", "listed", "named", "old")}
    store.save_article(_article(urls["due"], version=1, on_listing=False, next_fetch_at=T0))
    store.save_article(_article(urls["later"], version=1, on_listing=False, next_fetch_at=T0 + timedelta(seconds=1)))
    store.save_article(_article(urls["new"]))  # never fetched, not scheduled
    store.save_article(_article(urls["listed"], version=1, next_fetch_at=T0 + timedelta(days=1)))
    store.save_article(_article(urls["named"], version=1, on_listing=False))
    store.save_article(_article(urls["old"], version=2, on_listing=False))
    store.save_article(ArticleState("other", urls["due"], first_seen=T0, version=1, next_fetch_at=T0))
    everything = store.articles("src")

    unchanged = store.articles_for_check("src", T0, None)
    read = store.articles_for_check("src", T0, [urls["named"], "https://example.org/unknown.shtml"])

    assert unchanged == {url: everything[url] for url in (urls["due"], urls["new"])}
    assert read == {url: everything[url] for url in (urls["due"], urls["new"], urls["listed"], urls["named"])}
    assert store.count_listed("src") == 2 and store.count_listed("other") == 1


def test_duplicate_article_is_an_integrity_error(store: Store) -> None:
    store.save_article(_article())
    with pytest.raises(IntegrityError):
        store.save_article(_article())


def test_transaction_is_all_or_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.save_article(_article())
        store.add_event(_event("evt_1"), ["hook"], "k")
        raise RuntimeError("crash mid-check")

    assert store.articles("src") == {}
    assert list(store.events()) == []
    assert store.deliveries() == []


def test_events_filter_and_order(store: Store) -> None:
    store.add_event(_event("evt_1", at=T0), [], "k")
    store.add_event(_event("evt_2", "article.updated", T0 + timedelta(minutes=1)), [], "k")
    store.add_event(_event("evt_3", "source.failing", T0 + timedelta(minutes=2), "other"), [], "other")

    assert [e.id for e in store.events()] == ["evt_1", "evt_2", "evt_3"]
    assert [e.id for e in store.events(since=T0 + timedelta(seconds=30))] == ["evt_2", "evt_3"]
    assert [e.id for e in store.events(type="article.updated")] == ["evt_2"]
    assert [e.id for e in store.events(source_id="other")] == ["evt_3"]
    assert store.event("evt_2") is not None and store.event("evt_2").body == b'{"id":"evt_2"}'  # type: ignore[union-attr]
    assert store.event("nope") is None


def test_outbox_heads_of_queue_and_requeue(store: Store) -> None:
    store.add_event(_event("evt_1"), ["a", "b"], "article-1")
    store.add_event(_event("evt_2"), ["a"], "article-1")
    store.add_event(_event("evt_3"), ["a"], "article-2")

    due = store.due_deliveries(T0, 10)
    assert [(d.event_id, d.webhook_id) for d in due] == [("evt_1", "a"), ("evt_1", "b"), ("evt_3", "a")]
    first = due[0]
    first.state, first.attempts, first.last_status, first.delivered_at = "delivered", 1, 200, T0
    store.save_delivery(first)
    assert [(d.event_id, d.webhook_id) for d in store.due_deliveries(T0, 10)] == [
        ("evt_1", "b"),
        ("evt_2", "a"),
        ("evt_3", "a"),
    ]
    later = store.due_deliveries(T0, 10)[1]
    later.next_attempt_at = T0 + timedelta(hours=1)
    store.save_delivery(later)
    assert ("evt_2", "a") not in [(d.event_id, d.webhook_id) for d in store.due_deliveries(T0, 10)]
    assert store.outbox_summary(T0 + timedelta(seconds=90)) == (3, 90.0)
    assert [d.event_id for d in store.deliveries(state="delivered")] == ["evt_1"]
    assert store.requeue(event_ids=["evt_1"], failed=False, webhook_id="a", now=T0) == 1
    assert [d.state for d in store.deliveries(webhook_id="a")] == ["pending", "pending", "pending"]


def test_crash_mid_write_leaves_a_consistent_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/crash.db"
    script = f"""
import os, signal
from datetime import datetime, UTC
from storage import open_store, ArticleState, EventRecord
store = open_store({url!r})
store.save_article(ArticleState("src", "https://example.org/kept", first_seen=datetime.now(UTC)))
with store.transaction():
    store.save_article(ArticleState("src", "https://example.org/lost", first_seen=datetime.now(UTC)))
    store.add_event(EventRecord("evt_x", "article.published", "src", datetime.now(UTC), b"{{}}"), ["hook"], "k")
    os.kill(os.getpid(), signal.SIGKILL)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=60)
    assert result.returncode == -9

    reopened = open_store(url)
    try:
        assert list(reopened.articles("src")) == ["https://example.org/kept"]
        assert list(reopened.events()) == [] and reopened.deliveries() == []
    finally:
        reopened.close()


def test_unreachable_databases_raise_storage_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageUnavailableError):
        open_store(f"sqlite:///{blocker}/db.sqlite")
    with pytest.raises(StorageUnavailableError):
        open_store("postgresql://postgres@127.0.0.1:9/nope")
    with pytest.raises(StorageUnavailableError, match="unknown database URL scheme"):
        open_store("mysql://x")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (sqlite3.IntegrityError("x"), IntegrityError),
        (sqlite3.OperationalError("database is locked"), StorageUnavailableError),
        (sqlite3.DatabaseError("file is not a database"), StorageError),
        (sqlite3.InterfaceError("x"), StorageError),
    ],
)
def test_every_sqlite_error_maps_to_a_storage_error(error: sqlite3.Error, expected: type[StorageError]) -> None:
    store = SqliteStore(sqlite3.connect(":memory:"))
    with pytest.raises(expected) as caught, store.translate_errors():
        raise error
    assert caught.value.__cause__ is error
    store.close()


def test_sqlite_error_classes_are_all_covered() -> None:
    mapped = {sqlite3.IntegrityError, sqlite3.OperationalError, sqlite3.Error}
    for cls in (sqlite3.DataError, sqlite3.NotSupportedError, sqlite3.ProgrammingError, sqlite3.InternalError):
        assert any(issubclass(cls, base) for base in mapped)


def test_database_url_password_is_masked() -> None:
    assert describe_url("postgresql://user:s3cret@db/monitor") == "postgresql://user:***@db/monitor"
    assert describe_url("sqlite:///data/monitor.db") == "sqlite:///data/monitor.db"


def test_postgresql_reconnects_after_losing_its_connection(pg_url: str) -> None:
    store = open_store(pg_url)
    store.save_source_state(SourceState("src", name="n", url="u"))
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (store._conn.info.backend_pid,))  # type: ignore[attr-defined]

    with pytest.raises(StorageUnavailableError):
        store.source_state("src")
    state = store.source_state("src")

    assert state is not None and state.name == "n"
    assert store.ping()
    store.close()


def test_articles_are_found_by_document_id_in_every_source(store: Store) -> None:
    first = store.save_article(_article("https://example.org/en/t1.shtml", doc_id="t1"))
    second = store.save_article(ArticleState("other", "https://example.org/zh/t1.shtml", first_seen=T0, doc_id="t1"))
    store.save_article(_article("https://example.org/t2.shtml", doc_id="t2"))

    found = store.find_articles_by_doc_id("t1")

    assert [(a.id, a.source_id, a.url) for a in found] == [
        (first, "src", "https://example.org/en/t1.shtml"),
        (second, "other", "https://example.org/zh/t1.shtml"),
    ]
    assert store.find_articles_by_doc_id("t9") == []


def test_learned_selectors_round_trip_and_an_older_database_gains_the_column(store_url: str) -> None:
    with closing(open_store(store_url)) as first:
        first.save_source_state(SourceState("src", name="Name", url="https://example.org/"))
        article_id = first.save_article(_article())
        first.add_version(article_id, replace(_version(1), reader="fallback"))
        assert first.version(article_id, 1) == replace(_version(1), reader="fallback")
        assert [v.reader for v in first.versions(article_id)] == ["fallback"]
    # A database written before `selectors` and `reader` were added to schema 1: the columns are dropped again.
    _execute_directly(store_url, "ALTER TABLE sources DROP COLUMN selectors")
    _execute_directly(store_url, "ALTER TABLE versions DROP COLUMN reader")
    if store_url.startswith("sqlite"):
        with closing(open_store(store_url, read_only=True)) as reader:  # read-only: read without the columns
            assert reader.source_state("src") == SourceState("src", name="Name", url="https://example.org/")
            assert [v.reader for v in reader.versions(article_id)] == [None]
    with closing(open_store(store_url)) as store:  # opening adds the column
        state = store.source_state("src")
        assert state is not None and state.selectors is None
        state.selectors = '{"listing": {"links": "ul.news li a"}}'
        store.save_source_state(state)
    with closing(open_store(store_url)) as store:  # ... once: opening again finds it there
        assert store.source_state("src") == state
