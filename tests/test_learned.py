"""Learned selectors: a url-only source keeps the selectors that reproduce its generic readings, reads with them
later, falls back to the generic reader page by page, and `monitor status --json` says where each selector came
from. Through the real CLI against the loopback ministry; the pure rules by table."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_MONITOR, Ministry, RunCli
from sitekit import EN_ARTICLES, EN_DIR, EN_LIST, en_listing, replace_once

from monitor.config import ArticleSelectors, ListingSelectors, Source, load_config
from monitor.errors import ExtractError
from monitor.learned import agreed, decode, encode, learn, with_learned
from monitor.pages import extract_article
from storage import open_store

DOCS = list(EN_ARTICLES)
NEW = "t1800001"


def config(tmp_path: Path, base: str) -> Path:
    monitor = "".join(f"{key} = {value}\n" for key, value in {**FAST_MONITOR, "retries": "0"}.items())
    text = (
        f'[monitor]\ndatabase = "sqlite:///{tmp_path}/l.db"\n{monitor}\n'
        f'[[sources]]\nid = "en"\nurl = "{base}{EN_DIR}"\ntimezone = "Asia/Shanghai"\n\n'
        f'[[sources]]\nid = "configured"\nurl = "{base}/configured/"\n[sources.listing]\nlinks = "ul a"\n\n'
        f'[[sources]]\nid = "templated"\nurl = "{base}/templated/"\ntemplate = "fmprc-zh"\n'
        '[sources.article]\nbody = "#main"\n'
    )
    path = tmp_path / "l.toml"
    path.write_text(text, encoding="utf-8")
    return path


def status(run_cli: RunCli, path: Path) -> dict[str, Any]:
    code, out, err = run_cli("status", "--config", str(path), "--json")
    assert code == 0, err
    return {row["source"]: row["selectors"] for row in json.loads(out)["sources"]}


def check(run_cli: RunCli, path: Path, *extra: str) -> str:
    code, out, err = run_cli("check", "--config", str(path), "--source", "en", *extra)
    assert code == 0, err
    return out


def events(run_cli: RunCli, path: Path) -> list[dict[str, Any]]:
    code, out, err = run_cli("events", "--config", str(path), "--format", "jsonl")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def stored_selectors(tmp_path: Path) -> str | None:
    with closing(open_store(f"sqlite:///{tmp_path}/l.db", read_only=True)) as store:
        state = store.source_state("en")
    return state.selectors if state else None


def origins(selectors: dict[str, Any]) -> dict[str, str]:
    return {f"{part}.{name}": v["from"] for part, fields in selectors.items() for name, v in fields.items()}


def test_a_url_only_source_learns_reads_with_and_falls_back_from_its_selectors(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), [(f"./{d}.shtml", f"Item {d}") for d in DOCS]))
    path = config(tmp_path, ministry.base)
    assert run_cli("migrate", "--config", str(path))[0] == 0  # an empty store, for status before any check
    before = status(run_cli, path)
    assert set(origins(before["en"]).values()) == {"generic"}
    assert origins(before["configured"])["listing.links"] == "config"
    assert origins(before["templated"]) == {
        "listing.links": "template",
        "article.title": "template",
        "article.date": "template",
        "article.body": "config",
    }

    assert check(run_cli, path).startswith("en: 5 links, 5 new, 5 fetched (0 not modified), 0 failed")

    learned = status(run_cli, path)["en"]
    assert origins(learned) == dict.fromkeys(("listing.links", "article.title", "article.body"), "learned") | {
        "article.date": origins(learned)["article.date"]
    }
    assert learned["listing"]["links"]["selector"] and learned["article"]["body"]["selector"]
    # Read again with them: the same content, so no event at all.
    assert "0 failed" in check(run_cli, path, "--revisit")
    assert events(run_cli, path) == []

    # A new article whose page the learned selectors fail on is read generically, page by page.
    body = ministry.body(EN_ARTICLES[DOCS[0]])
    for old, new in (('class="content_mod"', 'class="story"'), ('<div class="content">', '<div class="story-text">')):
        body = replace_once(body, old, new)
    body = replace_once(body, "on June 30, 2020</h2>", "on June 30, 2020</h1>").replace(b'<h2 class="title">', b"<h1>")
    ministry.site.put(f"{EN_DIR}{NEW}.shtml", body)
    url = ministry.url(f"{EN_DIR}{NEW}.shtml")
    source = with_learned(load_config(path).source("en"), decode(stored_selectors(tmp_path)))
    with pytest.raises(ExtractError):  # the learned selectors do not read the redesigned page...
        extract_article(body, None, url, source)
    generic = extract_article(body, None, url, load_config(path).source("en"))
    entries = [(f"./{d}.shtml", f"Item {d}") for d in [NEW, *DOCS]]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries))
    out = check(run_cli, path)
    assert "6 links, 1 new" in out and "0 failed" in out, out
    (published,) = events(run_cli, path)
    article = published["data"]["article"]  # ... so it is read generically, as a url-only source reads it
    assert published["type"] == "article.published" and (article["title"], article["text"]) == (
        generic.title,
        generic.text,
    )
    assert origins(status(run_cli, path)["en"])["article.body"] == "learned"  # one page does not unlearn them


RULES = [
    ([{"title": "h1"}] * 2, {}),
    ([{"title": "h1", "body": "#a"}, {"title": "h1", "body": "#b"}, {"title": "h1"}], {"title": "h1"}),
    ([{"body": "div.x"}] * 4, {"body": "div.x"}),
]


@pytest.mark.parametrize(("proposals", "kept"), RULES, ids=["too-few", "only-agreed", "all-agree"])
def test_only_selectors_every_proposal_agrees_on_are_learned(
    proposals: list[dict[str, str]], kept: dict[str, str]
) -> None:
    assert agreed(proposals) == kept


def test_learned_selectors_never_override_configured_ones() -> None:
    stored = learn(learn(None, "listing", {"links": "ul a"}), "article", {"title": "h1", "date": "time"})
    assert decode(stored) == {"listing": {"links": "ul a"}, "article": {"title": "h1", "date": "time"}}
    assert decode("not json") == {} and decode('["a"]') == {} and encode({}) is None
    plain = with_learned(Source("s", "s", "https://x/"), decode(stored))
    assert plain.listing.links == "ul a" and plain.article.title == "h1" and plain.article.date_from[0] == "selector"
    assert plain.learned == {"listing.links", "article.title", "article.date"}
    configured = Source("s", "s", "https://x/", ListingSelectors(links="ol a"), ArticleSelectors(body="#main"))
    mixed = with_learned(configured, decode(stored))
    assert (mixed.listing.links, mixed.article.title, mixed.learned) == ("ol a", None, frozenset())
    assert decode(learn(stored, "listing", {"links": None})) == {"article": {"title": "h1", "date": "time"}}
