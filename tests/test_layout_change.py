"""A redesign does not blind the monitor: the real EN listing with its list container renamed, through the real CLI
against the loopback ministry, with a real webhook receiver."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import ROOT, Ministry, RunCli, write_config
from receiver import Receiver
from sitekit import EN_ARTICLES, EN_DIR, EN_LIST, en_listing, replace_once

from monitor.config import load_config
from monitor.pages import extract_article, extract_links

SCHEMA = json.loads((ROOT / "monitor" / "event.schema.json").read_text(encoding="utf-8"))
A, B, C, D, E = "t1793427", "t1739548", "t1617471", "t1686638", "t1558711"
OLD_CONTAINER = '<div class="newsLst_mod">'
NEW_CONTAINER = '<div class="news-list">'


class Redesign:
    def __init__(self, ministry: Ministry, tmp_path: Path, run_cli: RunCli, receiver: Receiver) -> None:
        self.ministry = ministry
        self.run_cli = run_cli
        hook = f'[[webhooks]]\nid = "ops"\nurl = "{receiver.url}"\nsecret = "whsec_dGVzdHNlY3JldA=="\n'
        self.config = write_config(tmp_path, ministry.base, extra=hook)

    def listing(self, *docs: str, redesigned: bool = False) -> bytes:
        entries = [(f"./{doc}.shtml", f"Statement {doc}") for doc in docs]
        body = en_listing(self.ministry.body(EN_LIST), entries)
        return replace_once(body, OLD_CONTAINER, NEW_CONTAINER) if redesigned else body

    def show(self, body: bytes) -> None:
        self.ministry.site.put(EN_DIR, body)

    def check(self) -> tuple[int, str]:
        code, out, err = self.run_cli("check", "--config", str(self.config), "--source", "mfa-en-press")
        assert code in (0, 1), err
        return code, out

    def events(self) -> list[dict[str, Any]]:
        code, out, err = self.run_cli("events", "--config", str(self.config), "--format", "jsonl")
        assert code == 0, err
        events = [json.loads(line) for line in out.splitlines()]
        for event in events:
            jsonschema.validate(event, SCHEMA, format_checker=jsonschema.FormatChecker())
        return events

    def export(self) -> dict[str, dict[str, Any]]:
        code, out, err = self.run_cli("export", "--config", str(self.config))
        assert code == 0, err
        return {record["doc_id"]: record for record in map(json.loads, out.splitlines())}


@pytest.fixture
def redesign(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> Any:
    for doc in (A, B, C, D, E):
        ministry.site.put(f"{EN_DIR}{doc}.shtml", ministry.body(EN_ARTICLES[doc]))
    with Receiver() as receiver:
        site = Redesign(ministry, tmp_path, run_cli, receiver)
        site.show(site.listing(A, B, C))
        assert site.check()[0] == 0
        assert site.events() == []
        yield site, receiver


def test_a_renamed_list_container_goes_on_with_the_generic_links(redesign: Any) -> None:
    site, receiver = redesign
    page = site.listing(D, A, B, C, redesigned=True)
    site.show(page)

    code, out = site.check()

    assert code == 0 and out.startswith("mfa-en-press: 4 links, 1 new, 1 fetched"), out
    events = site.events()
    assert [e["type"] for e in events] == ["source.layout_changed", "article.published"]
    layout = events[0]["data"]
    assert layout["known"] == 3 and layout["links"] == 4
    assert "matched no article link" in layout["reason"]
    proposed = layout["proposed"]["listing"]["links"]
    source = load_config(site.config).source("mfa-en-press")
    url = site.ministry.url(EN_DIR)
    working = replace(source, listing=replace(source.listing, links=proposed))
    assert [link.url for link in extract_links(page, None, url, working)] == [
        site.ministry.url(f"{EN_DIR}{doc}.shtml") for doc in (D, A, B, C)
    ]
    assert events[1]["data"]["article"]["doc_id"] == D
    assert {doc: r["status"] for doc, r in site.export().items()} == dict.fromkeys((A, B, C, D), "live")
    delivered = [json.loads(r.body)["type"] for r in receiver.wait_for(2)]
    assert sorted(delivered) == ["article.published", "source.layout_changed"]

    assert site.check()[1].startswith("mfa-en-press: unchanged")  # the same page again: nothing new
    site.show(site.listing(E, D, A, B, C, redesigned=True))
    code, out = site.check()
    assert code == 0 and "1 new" in out
    assert [e["type"] for e in site.events()[2:]] == ["article.published"]  # the same proposal: no second event


BLOCK_PAGE = (
    b"<html><head><title>Access denied</title></head><body><h1>Access denied</h1>"
    b"<p>Your request was blocked by our security service.</p></body></html>"
)
HOLDING_PAGE = (
    b"<html><head><title>New website coming soon</title></head><body><h1>Our new website is coming soon</h1>"
    b'<ul><li><a href="./t1793427.shtml">Statement of June 30, 2020 on the national security law</a></li>'
    b'<li><a href="/mfa_eng/new/2026/01/01/a.html">Our new website: what changes for readers, 1 January 2026</a></li>'
    b'<li><a href="/mfa_eng/new/2026/01/02/b.html">How to find press conferences on the new site, 2 January 2026</a>'
    b'</li><li><a href="/mfa_eng/new/2026/01/03/c.html">Contact the press office of the new site, 3 January 2026</a>'
    b"</li></ul></body></html>"
)


@pytest.mark.parametrize("body", [BLOCK_PAGE, HOLDING_PAGE], ids=["block-page", "holding-page"])
def test_a_page_that_is_no_longer_the_listing_fails_without_events(redesign: Any, body: bytes) -> None:
    site, _receiver = redesign
    site.show(body)

    code, out = site.check()

    assert code == 1 and out.startswith("mfa-en-press: FAILED (layout)"), out
    assert site.events() == []
    assert {doc: r["status"] for doc, r in site.export().items()} == dict.fromkeys((A, B, C), "live")


def _renamed_article(body: bytes) -> bytes:
    return replace_once(body, '<div class="content_mod">', '<div class="article-v2">')


def test_new_articles_the_selectors_fail_on_are_read_generically_known_ones_are_not_re_versioned(
    redesign: Any,
) -> None:
    site, _receiver = redesign
    before = site.export()
    shipped_reading = {doc: (r["title"], r["text"]) for doc, r in before.items()}
    ministry = site.ministry
    ministry.site.put(f"{EN_DIR}{D}.shtml", _renamed_article(ministry.body(EN_ARTICLES[D])))
    ministry.site.put(f"{EN_DIR}{A}.shtml", _renamed_article(ministry.body(EN_ARTICLES[A])))
    site.show(site.listing(D, A, B, C))

    code, out = site.check()

    assert code == 0 and "1 new" in out and "0 failed" in out, out
    (published,) = site.events()
    assert published["type"] == "article.published" and published["data"]["article"]["doc_id"] == D
    source = load_config(site.config).source("mfa-en-press")
    url = ministry.url(f"{EN_DIR}{D}.shtml")
    shipped = extract_article(ministry.body(EN_ARTICLES[D]), None, url, source)  # the page before its redesign
    article = published["data"]["article"]
    assert (article["title"], article["published"], article["text"]) == (shipped.title, shipped.published, shipped.text)
    for doc, note in ((D, True), (B, False)):  # the version records how it was read
        code, out, err = site.run_cli("history", "--config", str(site.config), doc)
        assert code == 0 and ("read generically: its selectors failed" in out) == note, (out, err)

    code, out, err = site.run_cli("check", "--config", str(site.config), "--source", "mfa-en-press", "--revisit")
    assert code == 0, err
    assert "1 failed fetches (first: " in out and "article.title" in out, out  # A: its selectors fail; not re-read
    assert [e["type"] for e in site.events()] == ["article.published"]  # no article.updated for A
    after = site.export()
    assert {doc: (r["title"], r["text"]) for doc, r in after.items() if doc != D} == shipped_reading
    assert after[A]["version"] == 1
