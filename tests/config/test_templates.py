"""Site templates: `template = "NAME"` fills a source's keys from the shipped templates.toml or the config's own
[templates.NAME]; read through the real CLI against the loopback ministry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_MONITOR, FIXTURES, Ministry, RunCli, write_config
from sitekit import EN_ARTICLES, EN_DIR, EN_LIST, en_listing

from monitor.config import load_config
from monitor.config.templates import shipped_templates
from monitor.errors import ConfigError
from monitor.sim import mission_article

SEED = Path(__file__).resolve().parents[1] / "data" / "seed" / "wang-yi-atmar-call_2020-08-19.txt"  # SOURCES.tsv there
MISSION_DIR = "/eng/lgxw/"
READOUT = f"{MISSION_DIR}t1808180.htm"
TEMPLATE_PAGE = EN_ARTICLES["t1686638"]  # a saved fmprc English article: the MFA template the missions used
FURNITURE = ("Home >", "News & Events", "Suggest To A Friend", "Suggest to a friend", "Please enter E-mail", "Print")


def seed() -> tuple[str, list[str]]:
    """Return the readout's title and paragraphs as readers saw them (breadcrumb and footer left out)."""
    # Split and joined: the page showed its spaces as no-break spaces ("Home&nbsp;>&nbsp;News"), text is folded.
    lines = [" ".join(line.split()) for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    crumbs, title, *paragraphs, footer = lines
    assert crumbs == "Home > News & Events" and footer == "<Suggest To A Friend>"
    return title, paragraphs


def config(tmp_path: Path, sources: str, extra: str = "") -> Path:
    monitor = "".join(f"{key} = {value}\n" for key, value in {**FAST_MONITOR, "retries": "0"}.items())
    path = tmp_path / "t.toml"
    path.write_text(f'[monitor]\ndatabase = "sqlite:///{tmp_path}/t.db"\n{monitor}\n{sources}\n{extra}', "utf-8")
    return path


def export(run_cli: RunCli, path: Path) -> dict[str, dict[str, Any]]:
    code, out, err = run_cli("export", "--config", str(path))
    assert code == 0, err
    return {record["url"]: record for record in map(json.loads, out.splitlines())}


def test_a_mission_news_page_reads_the_readout_exactly(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    title, paragraphs = seed()
    page = mission_article(ministry.body(TEMPLATE_PAGE), title, paragraphs, "2020-08-19")
    ministry.site.put(READOUT, page)
    ministry.site.put(MISSION_DIR, en_listing(ministry.body(EN_LIST), [("./t1808180.htm", title)]))
    path = config(
        tmp_path,
        f'[[sources]]\nid = "laoag-news"\nurl = "{ministry.url(MISSION_DIR)}"\ntemplate = "china-mission-news"\n',
    )
    source = load_config(path).source("laoag-news")
    assert source.template == "china-mission-news" and source.article.body == "div.content_mod div.content"

    code, out, err = run_cli("check", "--config", str(path))

    assert code == 0 and out.startswith("laoag-news: 1 links, 1 new, 1 fetched (0 not modified), 0 failed"), err
    (record,) = export(run_cli, path).values()
    assert record["title"] == title
    assert record["published"].startswith("2020-08-19")
    assert record["text"].split("\n\n") == paragraphs
    assert not any(word in record["text"] for word in FURNITURE)


def test_the_fmprc_en_template_reads_what_the_shipped_source_reads(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    entries = [(f"./{doc}.shtml", f"Statement {doc}") for doc in EN_ARTICLES]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shipped = write_config(tmp_path / "a", ministry.base)
    templated = config(
        tmp_path / "b", f'[[sources]]\nid = "mfa-en-press"\nurl = "{ministry.url(EN_DIR)}"\ntemplate = "fmprc-en"\n'
    )
    for path in (shipped, templated):
        code, _out, err = run_cli("check", "--config", str(path), "--source", "mfa-en-press")
        assert code == 0, err
    want, got = export(run_cli, shipped), export(run_cli, templated)
    assert sorted(got) == sorted(want) and len(got) == 5
    for url, record in want.items():
        fields = ("doc_id", "title", "published", "text")
        assert {k: got[url][k] for k in fields} == {k: record[k] for k in fields}, url


def test_own_keys_win_and_a_config_may_define_templates(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        '[[sources]]\nid = "a"\nurl = "https://example.org/news/"\ntemplate = "fmprc-en"\ntimezone = "UTC"\n'
        '[sources.article]\nbody = "#main"\n\n'
        '[[sources]]\nid = "b"\nurl = "https://example.org/press/"\ntemplate = "mine"\n',
        '[templates.mine]\ndescription = "our CMS"\nlanguage = "de"\n[templates.mine.listing]\nlinks = "ul.news a"\n',
    )
    loaded = load_config(path)
    a, b = loaded.source("a"), loaded.source("b")
    assert (a.article.body, a.article.title) == ("#main", "div.content_mod h2.title")
    assert str(a.timezone) == "UTC" and a.error_urls == ("/error.htm",)
    assert (b.listing.links, b.language, b.template) == ("ul.news a", "de", "mine")


@pytest.mark.parametrize(
    ("sources", "extra", "key"),
    [
        ('template = "nope"', "", "key 'template'"),
        ('template = "mine"', '[templates.mine]\nsecret = "x"\n', "key 'templates.mine.secret'"),
    ],
    ids=["unknown-template", "unknown-key"],
)
def test_template_mistakes_name_the_key(tmp_path: Path, sources: str, extra: str, key: str) -> None:
    path = config(tmp_path, f'[[sources]]\nid = "a"\nurl = "https://example.org/news/"\n{sources}\n', extra)
    with pytest.raises(ConfigError, match=key.replace("'", ".")):
        load_config(path)


def test_every_shipped_template_says_what_proves_it() -> None:
    rows = (FIXTURES / "SOURCES.tsv").read_text(encoding="utf-8")
    for name, template in shipped_templates().items():
        assert template["description"] and template["unproven"], name
        for page in template["proven_by"]:
            assert f"\n{page}\t" in rows, (name, page)
