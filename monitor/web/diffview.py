"""Turn two versions' text into marked-up diffs for people: inline runs and side-by-side changed paragraphs; pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from monitor.content import diff_runs, normalise

__all__ = ["ParagraphPair", "Segment", "changed_paragraphs", "inline_diff"]


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of text that is the same in both versions (`same`), only in the new one (`ins`) or only the old (`del`)."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class ParagraphPair:
    """One changed paragraph: the old side (same + del segments) and the new side (same + ins segments)."""

    old: tuple[Segment, ...]
    new: tuple[Segment, ...]


def _word_segments(old: str, new: str) -> list[Segment]:
    segments: list[Segment] = []
    for equal, old_run, new_run in diff_runs(old, new):
        if equal:
            segments.append(Segment("same", new_run))
            continue
        if old_run:
            segments.append(Segment("del", old_run))
        if new_run:
            segments.append(Segment("ins", new_run))
    return segments


def inline_diff(old: str | None, new: str | None) -> list[Segment]:
    """Return the new text as segments, with deleted runs placed before the runs that replaced them.

    Paragraphs are matched first and words only inside changed ones: a word diff of a whole long article costs
    quadratic time in its repeated tokens (the spaces), one of a few paragraphs does not.
    """
    before, after = _paragraphs(old), _paragraphs(new)
    blocks: list[list[Segment]] = []
    for op, i1, i2, j1, j2 in _paragraph_opcodes(before, after):
        if op == "equal":
            blocks.append([Segment("same", "\n".join(after[j1:j2]))])
        else:
            blocks.append(_word_segments("\n".join(before[i1:i2]), "\n".join(after[j1:j2])))
    segments: list[Segment] = []
    for block in blocks:
        if segments:
            segments.append(Segment("same", "\n"))
        segments.extend(block)
    return segments


def _paragraph_opcodes(before: list[str], after: list[str]) -> Sequence[tuple[str, int, int, int, int]]:
    keys_before, keys_after = [normalise(p) for p in before], [normalise(p) for p in after]
    return SequenceMatcher(None, keys_before, keys_after, autojunk=False).get_opcodes()


def _paragraphs(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split("\n") if p.strip()]


def _sides(old: str, new: str) -> ParagraphPair:
    left: list[Segment] = []
    right: list[Segment] = []
    for equal, old_run, new_run in diff_runs(old, new):
        if equal:
            left.append(Segment("same", old_run))
            right.append(Segment("same", new_run))
            continue
        if old_run:
            left.append(Segment("del", old_run))
        if new_run:
            right.append(Segment("ins", new_run))
    return ParagraphPair(tuple(left), tuple(right))


def changed_paragraphs(old: str | None, new: str | None) -> list[ParagraphPair]:
    """Return only the paragraphs that changed, each old paragraph paired with the one that replaced it.

    A paragraph added has an empty old side; one deleted has an empty new side.
    """
    before, after = _paragraphs(old), _paragraphs(new)
    pairs: list[ParagraphPair] = []
    for op, i1, i2, j1, j2 in _paragraph_opcodes(before, after):
        if op == "equal":
            continue
        olds, news = before[i1:i2], after[j1:j2]
        for k in range(max(len(olds), len(news))):
            pairs.append(_sides(olds[k] if k < len(olds) else "", news[k] if k < len(news) else ""))
    return pairs
