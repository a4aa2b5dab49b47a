"""Tests for monitor.content: noise-proof content hashes and word (CJK: character) diffs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from monitor.content import FieldDiff, content_hash, diff_fields, diff_text, normalise

DATA = Path(__file__).resolve().parent / "data"
# The last paragraph of the real zh statement t1793459 (checked by hand in tests/data/extract_articles.toml).
ZH_PARAGRAPH = next(
    case["last"]
    for case in tomllib.loads((DATA / "extract_articles.toml").read_text("utf-8"))["article"]
    if case.get("doc_id") == "t1793459"
)
TITLE = "Foreign Ministry Spokesperson Zhao Lijian's Regular Press Conference on June 30, 2020"
DATE = "2020-06-30T00:00:00+08:00"
TEXT = "CCTV: On June 29, US Secretary of State Mike Pompeo said...\n\nZhao Lijian: It is China's internal affair."
BASE_HASH = content_hash(TITLE, DATE, TEXT)


@pytest.mark.parametrize(
    ("title", "published", "text"),
    [
        (TITLE, DATE, TEXT),
        (f"  {TITLE}\n", DATE, TEXT),
        (TITLE, f" {DATE} ", TEXT),
        (TITLE, DATE, TEXT.replace(" ", "  ")),
        (TITLE, DATE, TEXT.replace("\n\n", " ")),
        (TITLE, DATE, TEXT.replace("\n\n", "\n\n\n\n")),
        (TITLE, DATE, TEXT.replace("Mike Pompeo", "Mike\u00a0Pompeo")),
        (TITLE, DATE, TEXT.replace("Zhao Lijian:", "Zhao\u3000Lijian:")),
        (TITLE, DATE, TEXT.replace("Pompeo", "Pom\u200bpeo").replace("internal", "inter\u00adnal")),
        (TITLE, DATE, "\ufeff" + TEXT + "\u2060"),
        (TITLE, DATE, TEXT.replace("CCTV: On June 29", "ＣＣＴＶ： Ｏｎ Ｊｕｎｅ ２９")),
        (TITLE.replace("June 30", "Ｊｕｎｅ\u00a030"), DATE, TEXT),
    ],
    ids=[
        "same",
        "title-padding",
        "date-padding",
        "double-spaces",
        "paragraphs-rejoined",
        "extra-blank-lines",
        "nbsp",
        "ideographic-space",
        "zero-width-and-soft-hyphen",
        "bom-and-word-joiner",
        "fullwidth-nfkc",
        "fullwidth-title",
    ],
)
def test_content_hash_ignores_noise(title: str, published: str, text: str) -> None:
    assert content_hash(title, published, text) == BASE_HASH


@pytest.mark.parametrize(
    ("title", "published", "text"),
    [
        (TITLE, DATE, TEXT.replace("internal affair", "internal affairs")),
        (TITLE, DATE, TEXT.replace("CCTV", "cctv")),
        (TITLE, DATE, TEXT.replace("June 29", "June 28")),
        (TITLE, DATE, TEXT + "\n\nQ: One more question."),
        (TITLE.replace("Zhao Lijian", "Hua Chunying"), DATE, TEXT),
        (TITLE, "2020-07-01T00:00:00+08:00", TEXT),
        (TITLE, None, TEXT),
        (TITLE + " CCTV:", DATE, TEXT.removeprefix("CCTV: ")),  # text moving between fields is a change
    ],
    ids=["plural", "case", "digit", "added-paragraph", "title", "date", "no-date", "field-boundary"],
)
def test_content_hash_sees_real_changes(title: str, published: str | None, text: str) -> None:
    assert content_hash(title, published, text) != BASE_HASH


def test_content_hash_is_sha256_hex() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", BASE_HASH)
    assert content_hash("a", None, "b") == content_hash("a", "", "b")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ""),
        ("", ""),
        ("  a \n\n b\u00a0c\u3000d ", "a b c d"),
        ("Ｈｅｌｌｏ，世界！", "Hello,世界!"),
        ("in\u00adter\u200bnal", "internal"),
    ],
)
def test_normalise(text: str | None, expected: str) -> None:
    assert normalise(text) == expected


ZH_EDITED = ZH_PARAGRAPH.replace("维护香港繁荣稳定", "维护香港繁荣安定")


@pytest.mark.parametrize(
    ("old", "new", "added", "removed", "diff"),
    [
        (
            "The minister will visit Berlin on Monday.",
            "The minister will visit Paris on Tuesday.",
            ("Paris", "Tuesday."),
            ("Berlin", "Monday."),
            "The minister will visit [-Berlin-]{+Paris+} on [-Monday.-]{+Tuesday.+}",
        ),
        (
            "China opposes the move.",
            "China firmly opposes the move.",
            ("firmly",),
            (),
            "China{+ firmly+} opposes the move.",
        ),
        ("We firmly oppose it.", "We oppose it.", (), ("firmly",), "We[- firmly-] oppose it."),
        (
            "will pay a state visit to China from December 5 to 10.",
            "will pay an official visit to China from December 6 to 10.",
            ("an official", "6"),
            ("a state", "5"),
            "will pay [-a state-]{+an official+} visit to China from December [-5-]{+6+} to 10.",
        ),
        (None, "First text.", ("First text.",), (), "{+First text.+}"),
        ("Last text.", None, (), ("Last text.",), "[-Last text.-]"),
        # Chinese: one token per character, so a one-character edit is exactly that character.
        (ZH_PARAGRAPH, ZH_EDITED, ("安",), ("稳",), ZH_PARAGRAPH.replace("繁荣稳定", "繁荣[-稳-]{+安+}定")),
        ("决心坚定不移", "决心始终坚定不移", ("始终",), (), "决心{+始终+}坚定不移"),
        ("JLG成立18年来", "JLG成立19年来", ("19",), ("18",), "JLG成立[-18-]{+19+}年来"),
        # Noise the hash ignores is not a change of words either.
        ("Hello world", "Hello\u00a0world planet", ("planet",), (), "Hello world{+ planet+}"),
        ("Ｈｅｌｌｏ world", "Hello world!", ("world!",), ("world",), "Hello [-world-]{+world!+}"),
    ],
    ids=[
        "en-replace",
        "en-insert",
        "en-delete",
        "en-several",
        "from-nothing",
        "to-nothing",
        "zh-one-character",
        "zh-insert",
        "mixed-digits",
        "nbsp-is-not-a-word-change",
        "fullwidth-is-not-a-word-change",
    ],
)
def test_diff_text(
    old: str | None, new: str | None, added: tuple[str, ...], removed: tuple[str, ...], diff: str
) -> None:
    assert diff_text(old, new) == FieldDiff(added=added, removed=removed, diff=diff)


def side(diff: str, keep: str) -> str:
    """Return one side of an inline diff: `keep` is "old" or "new" (a ¶ marks a paragraph break)."""
    diff = diff.replace("¶", "\n\n")
    if keep == "old":
        return re.sub(r"\{\+.*?\+\}", "", re.sub(r"\[-(.*?)-\]", r"\1", diff, flags=re.S), flags=re.S)
    return re.sub(r"\[-.*?-\]", "", re.sub(r"\{\+(.*?)\+\}", r"\1", diff, flags=re.S), flags=re.S)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("The minister will visit Berlin on Monday.", "The minister will visit Paris on Tuesday."),
        (ZH_PARAGRAPH, ZH_EDITED),
        (ZH_PARAGRAPH, ZH_PARAGRAPH[:40] + "\n\n" + ZH_PARAGRAPH[40:]),
        ("One.\n\nTwo.", "One. Two. Three."),
        ("A: Yes.\n\nQ: Why?", "A: Yes. Q: Why not?"),
    ],
    ids=["words", "zh-character", "zh-split-paragraph", "rejoined-plus-sentence", "rejoined-plus-word"],
)
def test_inline_diff_reads_as_both_texts(old: str, new: str) -> None:
    change = diff_text(old, new)
    assert change is not None
    assert normalise(side(change.diff, "old")) == normalise(old)
    assert normalise(side(change.diff, "new")) == normalise(new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("same", "same"),
        (None, None),
        (None, ""),
        ("Hello world", "Hello\u00a0 world "),
        ("One.\n\nTwo.", "One. Two."),
        ("Ｈｅｌｌｏ，世界", "Hello,世界"),
        (ZH_PARAGRAPH, ZH_PARAGRAPH.replace("，", "\u200b，")),
    ],
)
def test_diff_text_equal_is_none(old: str | None, new: str | None) -> None:
    assert diff_text(old, new) is None


def test_diff_fields_reports_only_changed_fields() -> None:
    old: dict[str, str | None] = {"title": "Remarks", "published": None, "text": "One two three."}
    new: dict[str, str | None] = {"title": "Remarks", "published": DATE, "text": "One two four."}
    changes = diff_fields(old, new)
    assert list(changes) == ["published", "text"]
    assert changes["published"].as_dict() == {"added": [DATE], "removed": [], "diff": "{+" + DATE + "+}"}
    assert changes["text"].as_dict() == {
        "added": ["four."],
        "removed": ["three."],
        "diff": "One two [-three.-]{+four.+}",
    }
    assert diff_fields(old, dict(old)) == {}
