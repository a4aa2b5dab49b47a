"""url-only sources through the real CLI against the loopback ministry: same links and articles as the shipped
selectors; pages that are not articles give one reason and store nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_MONITOR, Ministry, RunCli, write_config
from sitekit import EN_ARTICLES, EN_DIR, EN_LIST, ZH_DIR, en_listing

EN_TITLES = {doc: f"Foreign Ministry Spokesperson's statement {doc}" for doc in EN_ARTICLES}


def url_only_config(tmp_path: Path, base: str, *, extra: str = "") -> Path:
    monitor = "".join(f"{key} = {value}\n" for key, value in {**FAST_MONITOR, "retries": "0"}.items())
    text = (
        f'[monitor]\ndatabase = "sqlite:///{tmp_path}/zero.db"\n{monitor}\n'
        f'[[sources]]\nid = "mfa-en-press"\nurl = "{base}{EN_DIR}"\ntimezone = "Asia/Shanghai"\n\n'
        f'[[sources]]\nid = "mfa-zh-fyrbt"\nurl = "{base}{ZH_DIR}"\ntimezone = "Asia/Shanghai"\n{extra}'
    )
    path = tmp_path / "zero.toml"
    path.write_text(text, encoding="utf-8")
    return path


def export(run_cli: RunCli, config: Path) -> dict[str, dict[str, Any]]:
    code, out, err = run_cli("export", "--config", str(config))
    assert code == 0, err
    return {record["url"]: record for record in map(json.loads, out.splitlines())}


def test_url_only_sources_read_what_the_shipped_selectors_read(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    entries = [(f"./{doc}.shtml", title) for doc, title in EN_TITLES.items()]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries))
    shipped_dir, zero_dir = tmp_path / "shipped", tmp_path / "zero"
    shipped_dir.mkdir()
    zero_dir.mkdir()
    shipped = write_config(shipped_dir, ministry.base)
    zero = url_only_config(zero_dir, ministry.base)
    sources = ("--source", "mfa-en-press", "--source", "mfa-zh-fyrbt")

    code, shipped_out, err = run_cli("check", "--config", str(shipped), *sources)
    assert code == 0, err
    code, zero_out, err = run_cli("check", "--config", str(zero), *sources)
    assert code == 0, err

    assert zero_out == shipped_out  # same links, fetches and failures (the real ZH listing's 14 unsaved pages)
    assert zero_out.splitlines()[0].startswith("mfa-en-press: 5 links, 5 new, 5 fetched (0 not modified), 0 failed")
    want, got = export(run_cli, shipped), export(run_cli, zero)
    assert sorted(got) == sorted(want) and len(got) == 6
    for url, record in want.items():
        fields = ("doc_id", "title", "published", "text", "source", "status")
        assert {k: got[url][k] for k in fields} == {k: record[k] for k in fields}, url


NOT_ARTICLES = [
    (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "application/pdf", "not an HTML page (application/pdf)"),
    (
        b'{"title": "Regular Press Conference", "text": "..."}',
        "application/json",
        "not an HTML page (application/json)",
    ),
    (b'{"title": "Regular Press Conference"}', "text/html", "not an HTML page (JSON)"),
    (b"", "text/html", "the page is empty"),
    (
        b'<html><head><title>Press</title><script src="/app.js"></script></head>'
        b'<body><div id="app"></div><script>boot()</script></body></html>',
        "text/html",
        "no article text found (a JavaScript-only page: no text without its scripts)",
    ),
]


@pytest.mark.parametrize(
    ("body", "content_type", "reason"), NOT_ARTICLES, ids=["pdf", "json-typed", "json-as-html", "empty", "js-shell"]
)
def test_an_article_answer_that_is_not_an_article_is_a_failed_fetch(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, body: bytes, content_type: str, reason: str
) -> None:
    entries = [(f"./{doc}.shtml", EN_TITLES[doc]) for doc in ("t1793427", "t1739548")]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries))
    ministry.site.put(f"{EN_DIR}t1793427.shtml", body, content_type=content_type)
    config = url_only_config(tmp_path, ministry.base)

    code, out, err = run_cli("check", "--config", str(config), "--source", "mfa-en-press")

    assert code == 0, err
    assert out.startswith("mfa-en-press: 2 links, 2 new, 2 fetched (0 not modified), 1 failed fetches (first: ")
    assert reason in out
    assert [r["doc_id"] for r in export(run_cli, config).values()] == ["t1739548"]
    code, out, _ = run_cli("status", "--config", str(config), "--json")
    row = json.loads(out)["sources"][0]
    assert row["failing_articles"] == 1 and reason in row["article_error"]


def test_a_page_over_the_size_cap_stores_nothing_for_it(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    entries = [(f"./{doc}.shtml", EN_TITLES[doc]) for doc in ("t1793427", "t1739548")]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries))
    huge = ministry.body(EN_ARTICLES["t1793427"]).replace(
        b"</body>", b"<p>x</p>" * (10 * 1024 * 1024 // 8) + b"</body>"
    )
    ministry.site.put(f"{EN_DIR}t1793427.shtml", huge)
    config = url_only_config(tmp_path, ministry.base)

    code, out, err = run_cli("check", "--config", str(config), "--source", "mfa-en-press")

    assert code == 0, err
    assert "1 failed fetches (first: FetchTooLargeError: body of " in out and "10485760-byte cap at " in out
    assert [r["doc_id"] for r in export(run_cli, config).values()] == ["t1739548"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b"<html><head><title>Willkommen</title></head><body><h1>Willkommen</h1><p>Diese Seite ist im Aufbau."
            b'</p><p><a href="/kontakt">Kontakt</a></p></body></html>',
            "no block of article-like links found on the listing",
        ),
        (b"%PDF-1.4\n", "not an HTML page (PDF)"),
    ],
    ids=["no-article-links", "pdf"],
)
def test_a_listing_without_article_links_is_a_source_failure(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, body: bytes, reason: str
) -> None:
    ministry.site.put(EN_DIR, body)
    config = url_only_config(tmp_path, ministry.base)

    code, out, err = run_cli("check", "--config", str(config), "--source", "mfa-en-press")

    assert code == 1, err  # a source that failed makes the check exit 1 (issue 15), so cron sees it
    assert out.startswith("mfa-en-press: FAILED (layout): ")
    assert reason in out
    assert export(run_cli, config) == {}
