"""`monitor add` through the real CLI against the loopback ministry: what it finds on the real saved listings, the
block it appends (keeping the file's comments), and its one-line failures with their exit codes."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_MONITOR, ROOT, Ministry, RunCli, write_config
from sitekit import EN_ARTICLES, EN_DIR, EN_LIST, ZH_LIST, en_listing

from monitor.config import load_config, parse_config
from monitor.config.catalogue import catalogue_entry
from monitor.config.templates import shipped_templates
from monitor.pages import extract_links

REAL_LISTINGS = {
    EN_LIST: "mfa-en-press",
    ZH_LIST: "mfa-zh-fyrbt",
    "govuk/list_news-braverman_2023-06-02.html": "govuk-home-secretary-news",
    "govuk/list_publications_2014-08-04.html": "govuk-publications",
}
EN_TITLES = {doc: f"Foreign Ministry Spokesperson's statement {doc}" for doc in EN_ARTICLES}
COMMENTED = """# My watch-list: keep this comment.
[monitor]
database = "sqlite:///{db}"  # the store, beside this file
{fast}
# Sources follow.
"""


def commented_config(tmp_path: Path) -> Path:
    fast = "".join(f"{key} = {value}\n" for key, value in {**FAST_MONITOR, "retries": "0"}.items())
    path = tmp_path / "mine.toml"
    path.write_text(COMMENTED.format(db=tmp_path / "mine.db", fast=fast), encoding="utf-8")
    return path


@pytest.mark.parametrize("fixture", list(REAL_LISTINGS), ids=list(REAL_LISTINGS.values()))
def test_dry_run_finds_the_shipped_selectors_links(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, fixture: str
) -> None:
    url = ministry.url(ministry.path_of(fixture))
    config = commented_config(tmp_path)  # its fast settings: no host delay in the test
    before = config.read_text(encoding="utf-8")

    code, out, err = run_cli("add", url, "--config", str(config), "--dry-run", "--format", "json")

    assert code == 0, err
    assert config.read_text(encoding="utf-8") == before
    found = json.loads(out)
    assert found["url"] == url and set(found) == {"url", "links", "selectors", "articles"}
    shipped = load_config(write_config(tmp_path, ministry.base)).source(REAL_LISTINGS[fixture])
    want = {link.url for link in extract_links(ministry.body(fixture), None, url, shipped)}
    got = set(found["links"])
    hits = len(got & want)
    assert hits / len(got) >= 0.95 and hits / len(want) >= 0.95, (sorted(got - want), sorted(want - got))
    proposed = found["selectors"]["listing"]["links"]
    again = replace(shipped, listing=replace(shipped.listing, links=proposed))
    assert {link.url for link in extract_links(ministry.body(fixture), None, url, again)} == got


def _export(run_cli: RunCli, config: Path) -> dict[str, dict[str, Any]]:
    code, out, err = run_cli("export", "--config", str(config))
    assert code == 0, err
    return {record["url"]: record for record in map(json.loads, out.splitlines())}


def test_yes_appends_a_source_that_reads_what_the_shipped_one_reads(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    entries = [(f"./{doc}.shtml", title) for doc, title in EN_TITLES.items()]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries))
    mine = commented_config(tmp_path)
    before = mine.read_text(encoding="utf-8")

    code, out, err = run_cli(
        "add", ministry.url(EN_DIR), "--config", str(mine), "--id", "mfa-en-press", "--interval", "15m", "--yes"
    )

    assert code == 0, err
    assert "5 article links" in out and "article.body = " in out
    assert "monitor reload --config" in err
    after = mine.read_text(encoding="utf-8")
    assert after.startswith(before)  # every comment and line of the file kept, in place
    added = load_config(mine).source("mfa-en-press")
    assert added.listing.links is not None and added.article.title is not None and added.article.body is not None
    assert added.interval.total_seconds() == 900 and added.name == "Regular Press Conference"

    shipped_dir = tmp_path / "shipped"
    shipped_dir.mkdir()
    shipped = write_config(shipped_dir, ministry.base)
    for config in (shipped, mine):
        code, out, err = run_cli("check", "--config", str(config), "--source", "mfa-en-press")
        assert code == 0, err
        assert out.startswith("mfa-en-press: 5 links, 5 new, 5 fetched (0 not modified), 0 failed"), out
    want, got = _export(run_cli, shipped), _export(run_cli, mine)
    assert sorted(got) == sorted(want) and len(got) == 5
    for url, record in want.items():
        assert (got[url]["title"], got[url]["text"]) == (record["title"], record["text"]), url


def test_a_missing_config_is_created_with_a_monitor_section(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    config = tmp_path / "sub" / "new.toml"

    code, _out, err = run_cli("add", ministry.url(ministry.path_of(ZH_LIST)), "--config", str(config), "--yes")

    assert code == 0, err
    text = config.read_text(encoding="utf-8")
    assert "[monitor]" in text and "[[sources]]" in text and "[sources.listing]" in text
    (source,) = load_config(config).sources
    assert source.url == ministry.url(ministry.path_of(ZH_LIST)) and source.listing.links


def test_declining_writes_nothing(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = commented_config(tmp_path)
    before = mine.read_text(encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))

    code, _out, err = run_cli("add", ministry.url(ministry.path_of(EN_LIST)), "--config", str(mine))

    assert code == 1 and "nothing written" in err
    assert mine.read_text(encoding="utf-8") == before


def test_an_answer_of_yes_adds(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = commented_config(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))

    code, _out, err = run_cli("add", ministry.url(ministry.path_of(EN_LIST)), "--config", str(mine), "--id", "en")

    assert code == 0, err
    assert [s.id for s in load_config(mine).sources] == ["en"]


NOT_LISTINGS = [
    (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "application/pdf", "not an HTML page"),
    (
        b"<html><head><title>Access denied</title></head><body><h1>Access denied</h1>"
        b"<p>Your request was blocked. <a href='/help/'>Help</a></p></body></html>",
        "text/html",
        "an HTML page titled 'Access denied' with no block of article-like links",
    ),
]


@pytest.mark.parametrize(("body", "content_type", "reason"), NOT_LISTINGS, ids=["pdf", "block-page"])
def test_a_page_that_is_not_a_listing_is_one_line_and_exit_1(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, body: bytes, content_type: str, reason: str
) -> None:
    ministry.site.put("/news/", body, content_type=content_type)
    config = tmp_path / "new.toml"

    code, out, err = run_cli("add", ministry.url("/news/"), "--config", str(config), "--yes")

    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and reason in err, err
    assert not config.exists()


def test_an_unreachable_url_is_one_line_and_exit_1(tmp_path: Path, run_cli: RunCli) -> None:
    config = commented_config(tmp_path)
    code, out, err = run_cli("add", "http://127.0.0.1:9/news/", "--config", str(config), "--yes")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "127.0.0.1:9" in err, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://example.org/news/"], "is not an http(s) URL"),
        (["{url}", "--id", "Bad Id"], "--id 'Bad Id'"),
        (["{url}", "--interval", "soon"], "--interval 'soon'"),
        (["{url}", "--id", "taken"], "already has a source with this id"),
        (["{url}", "--format", "yaml"], "invalid choice"),
    ],
    ids=["scheme", "id", "interval", "duplicate", "format"],
)
def test_bad_arguments_exit_2_and_write_nothing(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, args: list[str], message: str
) -> None:
    mine = commented_config(tmp_path)
    with mine.open("a", encoding="utf-8") as out:
        out.write(f'\n[[sources]]\nid = "taken"\nurl = "{ministry.url(EN_DIR)}"\n')
    before = mine.read_text(encoding="utf-8")
    argv = [a.replace("{url}", ministry.url(EN_DIR)) for a in args]

    code, _out, err = run_cli("add", *argv, "--config", str(mine), "--yes")

    assert code == 2 and message in err, err
    assert mine.read_text(encoding="utf-8") == before


def test_the_catalogue_offers_twenty_unverified_listings_beyond_the_shipped_ones(run_cli: RunCli) -> None:
    code, out, err = run_cli("add", "--list", "--format", "json")
    assert code == 0, err
    entries = json.loads(out)
    shipped = load_config(ROOT / "config" / "sources.toml")
    assert len(entries) >= 20
    assert len({e["id"] for e in entries}) == len(entries)
    assert not {e["id"] for e in entries} & {s.id for s in shipped.sources}
    assert not {e["url"] for e in entries} & {s.url for s in shipped.sources}
    assert all(e["verified"] is False for e in entries)  # no saved page proves any of them yet
    assert all(e["template"] in (None, *shipped_templates()) for e in entries)
    config = parse_config({"sources": entries_as_sources(entries)}, path="catalogue", environ={})
    assert len(config.sources) == len(entries)
    code, text, _ = run_cli("add", "--list")
    assert text.count("unverified") == len(entries) and "template china-mission-news" in text


def entries_as_sources(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "verified" and v is not None} for e in entries]


def test_add_by_catalogue_id_writes_its_template(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = [(f"./{doc}.shtml", title) for doc, title in EN_TITLES.items()]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries))
    entry = catalogue_entry("mfa-en-spokesperson")
    assert entry is not None and entry.template == "fmprc-en"
    here = replace(entry, url=ministry.url(EN_DIR))  # the catalogue's real address, served on loopback
    monkeypatch.setattr("monitor.commands.add_cli.catalogue_entry", lambda name: here if name == entry.id else None)
    mine = commented_config(tmp_path)

    code, out, err = run_cli("add", "mfa-en-spokesperson", "--config", str(mine), "--yes")

    assert code == 0, err
    assert "5 article links" in out
    added = load_config(mine).source("mfa-en-spokesperson")
    assert (added.template, added.name, added.url) == ("fmprc-en", entry.name, here.url)
    assert added.listing.links == "div.newsLst_mod ul li a"
    code, _out, err = run_cli("add", "no-such-ministry", "--config", str(mine), "--yes")
    assert code == 2 and "neither an http(s) URL nor a catalogue id" in err
