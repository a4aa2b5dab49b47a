"""Mislabelled charsets through the real CLI against the loopback ministry: the stored text is the page's own."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import Ministry, RunCli, write_config
from sitekit import EN_DIR, EN_LIST, en_listing

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


ARTICLE_TEXTS = {
    # (language, headline, a paragraph, the charset the page is really in); each is served under a UTF-8 <meta>.
    "ja1": (
        "ja",
        "外務大臣会見記録",
        "本日、外務大臣は記者会見を行い、日本とアメリカの関係について説明しました。",
        "shift_jis",
    ),
    "ja2": (
        "ja",
        "外務報道官談話",
        "政府は、国際社会と緊密に連携しつつ、引き続き適切に対応していく考えです。",
        "euc_jp",
    ),
    "ko1": (
        "ko",
        "외교부 장관 기자회견",
        "외교부 장관은 오늘 기자회견을 열고 한미 관계와 국제 협력 강화에 대해 설명했습니다.",
        "euc_kr",
    ),
    "ru1": (
        "ru",
        "Брифинг официального представителя",
        "Министр иностранных дел провёл переговоры с коллегой.",
        "cp1251",
    ),
    "de1": (
        "de",
        "Ministerin trifft Amtskollegen",
        "Die Bundesregierung fördert Wärmepumpen; größere Änderungen.",
        "cp1252",
    ),
}


def test_mislabelled_pages_of_a_url_only_source(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    entries = [(f"./{doc}.shtml", f"{headline} ({doc})") for doc, (_l, headline, _p, _c) in ARTICLE_TEXTS.items()]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries))
    for doc, (lang, headline, paragraph, charset) in ARTICLE_TEXTS.items():
        body = "".join(f"<p>{paragraph} {n}</p>" for n in range(6))
        page = (
            f'<html lang="{lang}"><head><meta charset="utf-8"><title>{headline} | Ministry</title></head>'
            f"<body><main><h1>{headline}</h1><p>2022-01-24</p>{body}</main></body></html>"
        )
        ministry.site.put(f"{EN_DIR}{doc}.shtml", page.encode(charset), content_type="text/html")
    config = tmp_path / "zero.toml"
    config.write_text(
        f'[monitor]\ndatabase = "sqlite:///{tmp_path}/zero.db"\nhost_delay = "0s"\n\n'
        f'[[sources]]\nid = "mixed"\nurl = "{ministry.url(EN_DIR)}"\n',
        encoding="utf-8",
    )

    code, out, err = run_cli("check", "--config", str(config))

    assert code == 0, err
    assert out.startswith(f"mixed: {len(ARTICLE_TEXTS)} links, {len(ARTICLE_TEXTS)} new") and "0 failed fetches" in out
    records = {str(r["url"]).rsplit("/", 1)[1][:-6]: r for r in _records(run_cli, config)}
    for doc, (_lang, headline, paragraph, _charset) in ARTICLE_TEXTS.items():
        assert records[doc]["title"] == headline
        assert str(records[doc]["text"]).startswith(f"{paragraph} 0")
        assert records[doc]["published"] == "2022-01-24T00:00:00+00:00"
