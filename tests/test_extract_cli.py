"""`monitor extract`: saved pages in, one JSON object per file out; bad input gives one clear reason and exit 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, SHIPPED_CONFIG, RunCli

ZH = FIXTURES / "fmprc/zh_article_t1793459_fyrbt-statement_2020-06-30.html"
ZH_URL = "https://www.fmprc.gov.cn/web/wjdt_674879/fyrbt_674889/t1793459.shtml"
ZH_TITLE = "外交部发言人就全国人大常委会审议通过香港国安法发表谈话"
EN = FIXTURES / "fmprc/en_article_t1793427_regular-press-conference_2020-06-30.html"
LISTING = FIXTURES / "govuk/list_news-braverman_2023-06-02.html"


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_zero_config_reads_a_saved_article(run_cli: RunCli) -> None:
    code, out, err = run_cli("extract", "--url", ZH_URL, str(ZH))
    assert (code, err) == (0, "")
    [record] = _lines(out)
    assert set(record) == {"file", "title", "published", "text", "doc_id"}
    assert record["file"] == str(ZH)
    assert record["title"] == ZH_TITLE
    assert record["published"] == "2020-06-30T00:00:00+00:00"
    assert record["doc_id"] == "t1793459"
    assert str(record["text"]).startswith("国务院港澳办和香港中联办已分别就十三届全国人大常委会第二十次会议通过")


def test_with_a_source_it_reads_as_the_source_does(run_cli: RunCli) -> None:
    code, out, err = run_cli(
        "extract", "--config", str(SHIPPED_CONFIG), "--source", "mfa-zh-fyrbt", "--url", ZH_URL, str(ZH)
    )
    assert (code, err) == (0, "")
    [record] = _lines(out)
    assert record["published"] == "2020-06-30T00:00:00+08:00"  # the source's zone
    code, zero, _ = run_cli("extract", "--url", ZH_URL, str(ZH))
    assert record["text"] == _lines(zero)[0]["text"] and record["title"] == _lines(zero)[0]["title"]


def test_json_format_is_one_array_and_a_failure_exits_1(run_cli: RunCli) -> None:
    code, out, err = run_cli("extract", "--format", "json", str(EN), str(LISTING))
    assert code == 1 and err == ""
    records = json.loads(out)
    assert [r["file"] for r in records] == [str(EN), str(LISTING)]
    assert str(records[0]["title"]).startswith("Foreign Ministry Spokesperson Zhao Lijian's Regular Press Conference")
    assert records[1] == {
        "file": str(LISTING),
        "error": "article.body: no article text found (a list of 20 links, not an article)",
    }


JS_SHELL = (
    b'<!doctype html><html><head><title>Presse</title><script src="/app.js"></script></head>'
    b'<body><div id="root"></div><noscript>Please enable JavaScript.</noscript>'
    b"<script>window.__STATE__ = {};</script></body></html>"
)
NO_LINKS = b"<html><head><title>Willkommen</title></head><body><h1>Willkommen</h1><p>Baustelle.</p></body></html>"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n", "page: not an HTML page (PDF)"),
        (b'{"items": [{"title": "x"}]}', "page: not an HTML page (JSON)"),
        (b"", "page: the page is empty"),
        (b"  \n ", "page: the page is empty"),
        (JS_SHELL, "article.body: no article text found (a JavaScript-only page: no text without its scripts)"),
        (NO_LINKS, "article.body: no article text found (no paragraph of text)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "page: not an HTML page (PNG image)"),
    ],
    ids=["pdf", "json", "empty", "whitespace", "js-shell", "no-text", "png"],
)
def test_bad_input_gives_one_reason(tmp_path: Path, run_cli: RunCli, content: bytes, error: str) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(content)
    code, out, err = run_cli("extract", str(path))
    assert (code, err) == (1, "")
    assert _lines(out) == [{"file": str(path), "error": error}]


def test_a_page_over_the_cap_is_refused_unread(tmp_path: Path, run_cli: RunCli) -> None:
    path = tmp_path / "huge.html"
    paragraph = b"<p>" + b"Die Bundesregierung hat heute beraten. " * 50 + b"</p>\n"
    path.write_bytes(b"<html><body>" + paragraph * (10 * 1024 * 1024 // len(paragraph) + 1) + b"</body></html>")
    assert path.stat().st_size > 10 * 1024 * 1024
    code, out, _ = run_cli("extract", str(path))
    assert code == 1
    assert _lines(out) == [{"file": str(path), "error": "larger than the 10485760-byte page cap (max_body_bytes)"}]


def test_missing_file_and_bad_url(tmp_path: Path, run_cli: RunCli) -> None:
    code, out, _ = run_cli("extract", str(tmp_path / "nope.html"))
    assert code == 1 and _lines(out) == [
        {"file": str(tmp_path / "nope.html"), "error": "cannot read: No such file or directory"}
    ]
    with pytest.raises(SystemExit, match="is not an http"):
        run_cli("extract", "--url", "ftp://x", str(ZH))


def test_stdin_through_the_real_console_script() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "extract", "--url", ZH_URL, "-"],
        input=ZH.read_bytes(),
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    [record] = _lines(done.stdout.decode())
    assert (record["file"], record["title"]) == ("-", ZH_TITLE)


SAVED_NON_ARTICLES = sorted(
    str(path.relative_to(FIXTURES)) for path in FIXTURES.rglob("*.html") if "list" in path.name or "error" in path.name
)


def test_saved_listings_and_error_page_are_never_articles_even_without_their_address(run_cli: RunCli) -> None:
    assert len(SAVED_NON_ARTICLES) == 9
    code, out, _ = run_cli("extract", *(str((FIXTURES / name).resolve()) for name in SAVED_NON_ARTICLES))
    assert code == 1
    records = _lines(out)
    assert [set(r) for r in records] == [{"file", "error"}] * 9
    assert all(str(r["error"]).startswith("article.body: no article text found (") for r in records)
