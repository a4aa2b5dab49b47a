"""Listings are bounded: `max_links` per listing, `max_new` per check, jumps reported, store queries chunked."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from conftest import RunCli
from test_hostile import hostile_config, lines_by_source

from monitor.sim.hostile import Behaviour, healthy, hostile_server, source_toml
from storage import ArticleState, open_store


def check_line(run_cli: RunCli, config: Path, source_id: str = "site") -> str:
    code, out, err = run_cli("check", "--config", str(config))
    assert code == 0, err
    return lines_by_source(out)[source_id]


def published(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT article_url FROM events WHERE type = 'article.published' ORDER BY rowid")
        return [row[0].rsplit("/", 1)[1] for row in rows]


def test_new_articles_past_max_new_wait_for_the_next_check_newest_first(tmp_path: Path, run_cli: RunCli) -> None:
    size = [3]
    with hostile_server([Behaviour("site", healthy(size))]) as server:
        url = server["site"].base + "/news/"
        config = hostile_config(tmp_path, source_toml("site", url, max_new="5"))
        assert "3 links, 3 new, 3 fetched" in check_line(run_cli, config)
        size[0] = 12
        first = check_line(run_cli, config)
        second = check_line(run_cli, config)
        third = check_line(run_cli, config)

    assert "12 links, 5 new (4 more wait for the next checks), 5 fetched" in first
    assert "4 new articles wait for the next checks (max_new 5)" in first
    assert "12 links, 4 new, 4 fetched" in second
    assert "0 new" in third
    assert published(tmp_path / "monitor.db") == [f"{n}.html" for n in range(3, 12)]


def test_a_listing_that_jumps_is_capped_reported_and_not_published(tmp_path: Path, run_cli: RunCli) -> None:
    size = [3]
    with hostile_server([Behaviour("site", healthy(size))]) as server:
        url = server["site"].base + "/news/"
        config = hostile_config(tmp_path, source_toml("site", url), max_body_bytes=str(8 << 20))
        check_line(run_cli, config)
        size[0] = 50_000
        jumped = check_line(run_cli, config)

    # 100 (max_new) of the new ones, plus the usual batch of 10 unread articles due from the backlog.
    assert "1000 links, 997 new, 110 fetched" in jumped
    assert "listing has over 1000 links; the first 1000 are read" in jumped
    assert "listing jumped from 3 to 1000 links" in jumped
    assert "events: none;" in jumped
    assert published(tmp_path / "monitor.db") == []


def test_a_300000_link_listing_is_read_up_to_max_links(tmp_path: Path, run_cli: RunCli) -> None:
    with hostile_server([Behaviour("site", healthy(300_000))]) as server:
        url = server["site"].base + "/news/"
        config = hostile_config(tmp_path, source_toml("site", url), max_body_bytes=str(32 << 20))
        line = check_line(run_cli, config)
    assert "1000 links, 1000 new, 110 fetched" in line  # max_new of them, and 10 unread due from the backlog
    assert "listing has over 1000 links; the first 1000 are read" in line


def long_listing_lookups(database: str, count: int) -> None:
    """A check's store queries with `count` listing URLs and as many event ids: chunked, never refused."""
    urls = [f"http://site.test/news/{n}.html" for n in range(count)]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    store = open_store(database)
    try:
        with store.transaction():
            for url in urls[:: count // 10]:
                store.save_article(ArticleState("site", url, first_seen=now, baseline=True))
        found = store.articles_for_check("site", now, urls)
        requeued = store.requeue(event_ids=[f"evt_{n}" for n in range(count)], failed=False, webhook_id=None, now=now)
    finally:
        store.close()
    assert sorted(found) == sorted(urls[:: count // 10])
    assert requeued == 0


def test_300000_listing_urls_on_sqlite_are_looked_up_in_chunks(tmp_path: Path) -> None:
    long_listing_lookups(f"sqlite:///{tmp_path}/monitor.db", 300_000)


def test_70000_listing_urls_on_postgresql_are_looked_up_in_chunks(pg_url: str) -> None:
    long_listing_lookups(pg_url, 70_000)
