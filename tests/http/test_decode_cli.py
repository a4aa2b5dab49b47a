"""Mislabelled charsets through the real CLI against the loopback ministry: the stored text is the page's own."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import Ministry, RunCli, write_config

from monitor.config import load_config
from monitor.pages import extract_article
from storage import open_store

ZH_ARTICLE = "fmprc/zh_article_t1793459_fyrbt-statement_2020-06-30.html"
EN_ARTICLE = "fmprc/en_article_t1793427_regular-press-conference_2020-06-30.html"
ZH_TITLE = "外交部发言人就全国人大常委会审议通过香港国安法发表谈话"


def _records(run_cli: RunCli, config: Path) -> list[dict[str, object]]:
    code, out, err = run_cli("export", "--config", str(config), "--format", "jsonl")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize(
    ("source_id", "fixture", "charset", "content_type"),
    [
        ("mfa-zh-fyrbt", ZH_ARTICLE, "gb18030", "text/html"),
        ("mfa-zh-fyrbt", ZH_ARTICLE, "gb18030", "text/html; charset=utf-8"),
        ("mfa-zh-fyrbt", ZH_ARTICLE, "big5", "text/html"),
        ("mfa-en-press", EN_ARTICLE, "cp1252", "text/html"),
        ("mfa-en-press", EN_ARTICLE, "utf-16-le", "text/html; charset=utf-8"),
    ],
    ids=["gb18030-under-utf8-meta", "gb18030-under-utf8-header", "big5", "windows-1252", "utf-16-no-bom"],
)
def test_mislabelled_article_is_stored_as_its_own_text(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, source_id: str, fixture: str, charset: str, content_type: str
) -> None:
    original = ministry.body(fixture).decode("utf-8")
    assert 'charset=UTF-8"' in original or "charset=utf-8" in original.lower()
    # Characters the charset cannot hold are dropped from the variant; the rest of the page is the real one.
    variant = original.encode(charset, errors="ignore").decode(charset)
    ministry.site.put(ministry.path_of(fixture), variant.encode(charset), content_type=content_type)
    config = write_config(tmp_path, ministry.base)
    source = load_config(config).source(source_id)
    url = ministry.url(ministry.path_of(fixture))
    expected = extract_article(variant.encode("utf-8"), "text/html; charset=utf-8", url, source)

    code, out, err = run_cli("check", "--config", str(config), "--source", source_id)

    assert code == 0, err
    [record] = _records(run_cli, config)
    assert (record["title"], record["text"], record["published"]) == (
        expected.title,
        expected.text,
        expected.published,
    )
    assert "\ufffd" not in str(record["text"]) + str(record["title"])
    if charset == "gb18030":  # holds every character: the variant is the whole page
        assert record["title"] == ZH_TITLE


def test_article_no_charset_decodes_fails_with_that_reason(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    noise = random.Random(13).randbytes(20_000)
    ministry.site.put(ministry.path_of(ZH_ARTICLE), b'<meta charset="utf-8"><title>x</title><p>' + noise)
    config = write_config(tmp_path, ministry.base)

    code, out, err = run_cli("check", "--config", str(config), "--source", "mfa-zh-fyrbt")

    assert code == 0, err
    assert "15 fetched (0 not modified), 15 failed fetches" in out
    assert _records(run_cli, config) == []
    store = open_store(load_config(config).database)
    try:
        article = store.find_article(ministry.url(ministry.path_of(ZH_ARTICLE)))
    finally:
        store.close()
    assert article is not None and article.version == 0
    assert "bytes are not valid utf-8 and no other charset decodes them cleanly" in str(article.last_error)
    code, out, err = run_cli("status", "--config", str(config), "--json")
    assert code == 0, err
    row = next(r for r in json.loads(out)["sources"] if r["source"] == "mfa-zh-fyrbt")
    assert row["failing_articles"] == 15
