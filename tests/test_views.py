"""`monitor history` and `monitor diff`: found by URL or document id; diff shows the changed paragraphs by default."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Ministry, RunCli, write_config
from sitekit import EN_DIR, EN_LIST, en_listing, replace_once

from monitor.config import load_config
from monitor.content import changed_paragraphs
from storage import ArticleState, open_store

EDIT_OLD = "Mr. Pompeo is a brazen liar."
EDIT_NEW = "Mr. Pompeo is mistaken."

ONE, TWO = "… 1 unchanged paragraph …", "… 2 unchanged paragraphs …"
EXCERPTS = [
    ("one changed of one", ["a {+b+} c"], ["a {+b+} c"]),
    ("no change at all", ["p1", "p2"], [TWO]),
    ("middle of five", ["p1", "p2", "p[-3-]{+x+}", "p4", "p5"], [ONE, "p2", "p[-3-]{+x+}", "p4", ONE]),
    ("first of four", ["[-p1-]", "p2", "p3", "p4"], ["[-p1-]", "p2", TWO]),
    ("two apart share context", ["a", "{+b+}", "c", "{+d+}", "e", "f", "g"], ["a", "{+b+}", "c", "{+d+}", "e", TWO]),
    ("a change across a break", ["p1", "p2", "[-p3", "p4-]", "p5", "p6", "p7"], [ONE, "p2", "[-p3", "p4-]", "p5", TWO]),
]
"""(name, the diff's paragraphs, the excerpt's paragraphs)"""


@pytest.mark.parametrize(("diff", "expected"), [e[1:] for e in EXCERPTS], ids=[e[0] for e in EXCERPTS])
def test_changed_paragraphs_keep_one_paragraph_of_context(diff: list[str], expected: list[str]) -> None:
    assert changed_paragraphs("\n\n".join(diff), context=1) == "\n\n".join(expected)


@pytest.fixture
def edited(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> Path:
    """A config whose store holds t1793427 in two versions: one sentence of a long transcript edited."""
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), [("./t1793427.shtml", "a")]))
    config = write_config(tmp_path, ministry.base)
    assert run_cli("check", "--config", str(config), "--source", "mfa-en-press")[0] == 0
    path = f"{EN_DIR}t1793427.shtml"
    ministry.site.put(
        path,
        replace_once(
            ministry.body("fmprc/en_article_t1793427_regular-press-conference_2020-06-30.html"), EDIT_OLD, EDIT_NEW
        ),
    )
    assert run_cli("check", "--revisit", "--config", str(config), "--source", "mfa-en-press")[0] == 0
    return config


def test_diff_shows_the_changed_paragraph_with_one_either_side_and_full_shows_all(
    edited: Path, run_cli: RunCli
) -> None:
    code, short, err = run_cli("diff", "--config", str(edited), "t1793427")
    full = run_cli("diff", "--config", str(edited), "t1793427", "--full")[1]

    assert code == 0, err
    assert "Mr. Pompeo is [-a brazen liar.-]{+mistaken.+}" in short
    body = short.split("--- text\n", 1)[1].rstrip("\n").split("\n\n")
    assert len(body) == 5, "skipped, before, changed, after, skipped"
    assert body[0].startswith("… ") and body[0].endswith(" unchanged paragraphs …")
    assert "[-a brazen liar.-]" in body[2] and body[4].endswith(" unchanged paragraphs …")
    assert "unchanged paragraph" not in full
    assert len(full) > 5 * len(short), "a one-sentence edit of a long transcript"
    assert body[1] in full and body[2] in full and body[3] in full


def test_history_and_diff_take_a_document_id_or_a_url(edited: Path, ministry: Ministry, run_cli: RunCli) -> None:
    url = ministry.url(f"{EN_DIR}t1793427.shtml")

    assert run_cli("history", "--config", str(edited), "t1793427") == run_cli("history", "--config", str(edited), url)
    assert run_cli("diff", "--config", str(edited), "t1793427") == run_cli("diff", "--config", str(edited), url)
    code, out, err = run_cli("history", "--config", str(edited), "t0000000")
    assert (code, out) == (2, "") and err == "monitor: no stored article with document id t0000000\n"


def test_a_document_id_in_two_sources_asks_for_the_url(edited: Path, run_cli: RunCli) -> None:
    store = open_store(load_config(edited).database)
    try:
        now = datetime.now(UTC)
        store.save_article(ArticleState("mfa-en-news", "http://127.0.0.1:9/t1793427.shtml", now, doc_id="t1793427"))
    finally:
        store.close()

    code, out, err = run_cli("diff", "--config", str(edited), "t1793427")

    assert (code, out) == (2, "")
    assert err.startswith("monitor: document id t1793427 names 2 articles (") and err.endswith("): give the URL\n")
