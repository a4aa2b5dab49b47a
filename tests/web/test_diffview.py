"""The diff mark-up for people, checked against tables of old and new texts."""

from __future__ import annotations

import pytest

from monitor.web.diffview import ParagraphPair, Segment, changed_paragraphs, inline_diff


def _show(segments: tuple[Segment, ...] | list[Segment]) -> str:
    marks = {"same": ("", ""), "ins": ("{+", "+}"), "del": ("[-", "-]")}
    return "".join(marks[s.kind][0] + s.text + marks[s.kind][1] for s in segments)


@pytest.mark.parametrize(
    ("old", "new", "shown"),
    [
        (
            "The minister will visit Paris.",
            "The minister will visit Berlin.",
            "The minister will visit [-Paris.-]{+Berlin.+}",
        ),
        ("One two", "One two three", "One two{+ three+}"),
        ("中方坚决反对制裁。", "中方坚决支持制裁。", "中方坚决[-反对-]{+支持+}制裁。"),
        ("same", "same", "same"),
        (None, "new text", "{+new text+}"),
    ],
)
def test_inline_diff(old: str | None, new: str, shown: str) -> None:
    assert _show(inline_diff(old, new)) == shown


def test_changed_paragraphs_pair_only_what_changed() -> None:
    old = "First paragraph.\nThe minister will visit Paris.\nThird.\nGone paragraph."
    new = "First paragraph.\nThe minister will visit Berlin.\nThird.\nA new closing line."
    pairs = changed_paragraphs(old, new)
    assert [(_show(p.old), _show(p.new)) for p in pairs] == [
        ("The minister will visit [-Paris.-]", "The minister will visit {+Berlin.+}"),
        ("[-Gone paragraph.-]", "{+A new closing line.+}"),
    ]


def test_added_and_removed_paragraphs_have_one_empty_side() -> None:
    pairs = changed_paragraphs("Kept.", "Kept.\nAdded later.")
    assert pairs == [ParagraphPair((), (Segment("ins", "Added later."),))]
    assert changed_paragraphs("Kept.\nDropped.", "Kept.") == [ParagraphPair((Segment("del", "Dropped."),), ())]
    assert changed_paragraphs("Same text.", "Same  text.") == []
