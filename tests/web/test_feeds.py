"""Atom and JSON feeds over the real server: feedparser reads them cleanly, ids survive a restart, filters work."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import jsonschema
import pytest
from conftest import ROOT, Ministry, RunCli
from webkit import EDIT_NEW, TITLE_C, ZH_NEW, A, C, Newsroom, served

from monitor.events import encode_event
from storage import EventRecord, open_store

SCHEMA = json.loads((ROOT / "tests" / "data" / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8"))


@pytest.fixture
def newsroom(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> Newsroom:
    room = Newsroom(ministry, tmp_path, run_cli)
    room.baseline()
    room.news()
    return room


def _atom(newsroom: Newsroom, path: str = "/feeds/all.atom", **params: str) -> Any:
    with served(newsroom.config) as web:
        response = web.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def test_atom_feed_has_an_entry_per_article_event_newest_first(newsroom: Newsroom) -> None:
    feed = _atom(newsroom)
    kinds = [entry.tags[0].term for entry in feed.entries]
    assert sorted(kinds) == ["article.published", "article.published", "article.updated"]
    assert feed.feed.updated == feed.entries[0].updated
    published = {entry.link: entry for entry in feed.entries if entry.tags[0].term == "article.published"}
    assert set(published) == {newsroom.url(C), newsroom.zh_url(ZH_NEW)}
    new = published[newsroom.url(C)]
    assert new.title == f"[New] {TITLE_C}" and new.author == newsroom.config.source("mfa-en-press").name
    assert new.published == "2018-11-29T00:00:00+08:00", "the article's own date, from its page"
    assert new.updated != new.published and new.updated.endswith("Z"), "when the monitor saw it"
    assert "published 2018-11-29" in new.content[0].value
    [update] = [entry for entry in feed.entries if entry.tags[0].term == "article.updated"]
    assert update.link == newsroom.url(A)
    html = update.content[0].value
    assert f"<ins>{EDIT_NEW.split()[-1]}</ins>" in html and "<del>a brazen liar.</del>" in html


def test_entry_ids_are_the_same_after_a_restart(newsroom: Newsroom) -> None:
    first = [entry.id for entry in _atom(newsroom).entries]
    second = [entry.id for entry in _atom(newsroom).entries]
    assert first == second and len(set(first)) == 3
    assert all(entry_id.startswith("urn:ministry-monitor:event:evt_") for entry_id in first)


def test_filters_by_event_type_source_and_limit(newsroom: Newsroom) -> None:
    updated = _atom(newsroom, events="updated")
    assert [entry.tags[0].term for entry in updated.entries] == ["article.updated"]
    chinese = _atom(newsroom, "/feeds/mfa-zh-fyrbt.atom")
    assert [entry.link for entry in chinese.entries] == [newsroom.zh_url(ZH_NEW)]
    assert len(_atom(newsroom, limit="1").entries) == 1
    assert _atom(newsroom, events="removed").entries == []
    with served(newsroom.config) as web:
        assert web.get("/feeds/all.atom", params={"events": "bogus"}).status_code == 400
        assert web.get("/feeds/all.atom", params={"limit": "-3"}).status_code == 400
        assert web.get("/feeds/no-such-source.atom").status_code == 404
        assert web.get("/feeds/all.rss").status_code == 404


def test_json_feed_follows_json_feed_1_1(newsroom: Newsroom) -> None:
    with served(newsroom.config) as web:
        response = web.get("/feeds/all.json")
        per_source = web.get("/feeds/mfa-en-press.json").json()
    assert response.headers["content-type"] == "application/feed+json; charset=utf-8"
    document = response.json()
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())
    jsonschema.validate(per_source, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert sorted(item["url"] for item in per_source["items"]) == sorted([newsroom.url(C), newsroom.url(A)])
    atom_ids = [entry.id for entry in _atom(newsroom).entries]
    assert [item["id"] for item in document["items"]] == atom_ids
    assert "token" not in document["feed_url"]


def test_any_scraped_text_is_escaped_into_well_formed_xml(newsroom: Newsroom) -> None:
    title = 'Q&A <b>on</b> "trade" 中美经贸磋商 \x01\x0b\ufffe end'
    event_id = "evt_01JXXXXXXXXXXXXXXXXXXXXXXX"
    payload: dict[str, Any] = {
        "id": event_id,
        "type": "article.published",
        "timestamp": "2026-12-01T00:00:00.000Z",
        "data": {
            "source": {"id": "mfa-en-press", "name": "A & B", "url": "https://x.example/"},
            "article": {"url": "https://x.example/a?b=1&c=2", "title": title, "text": f"{title}\nsecond & last"},
        },
    }
    store = open_store(newsroom.config.database)
    event = EventRecord(event_id, "article.published", "mfa-en-press", datetime.now(UTC), encode_event(payload))
    store.add_event(event, [], "k")
    store.close()
    feed = _atom(newsroom)
    entry = feed.entries[0]
    assert entry.title == '[New] Q&A <b>on</b> "trade" 中美经贸磋商  end'
    assert entry.link == "https://x.example/a?b=1&c=2"
    assert "second &amp; last" in entry.content[0].value
    with served(newsroom.config) as web:
        item = web.get("/feeds/all.json").json()["items"][0]
    assert item["title"] == entry.title and "&lt;b&gt;on&lt;/b&gt;" in item["content_html"]
