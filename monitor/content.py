"""Compare article content: a normalised hash (so noise makes no version) and word/character diffs; pure."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

__all__ = ["FieldDiff", "changed_paragraphs", "content_hash", "diff_fields", "diff_runs", "diff_text", "normalise"]

_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
_LINE_SPACE = re.compile(r"[^\S\n]+")
_BREAK = re.compile(r"\s*\n\s*")
PARAGRAPH_MARK = "¶"
_Run = tuple[bool, str, str]
# One token per CJK character (Chinese has no spaces), one per run of other non-space characters, one per gap.
_CJK = "\u2e80-\u2fff\u3001-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+|\s+")
DIFF_FIELDS = ("title", "published", "text")
_DIFF_MARK = re.compile(r"\[-|-\]|\{\+|\+\}")


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """What changed in one field: the runs added and removed, and an inline `[-old-]{+new+}` diff."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    diff: str

    def as_dict(self) -> dict[str, object]:
        """Return the JSON shape used in event payloads."""
        return {"added": list(self.added), "removed": list(self.removed), "diff": self.diff}


def normalise(text: str | None) -> str:
    """Return text with Unicode forms, invisible characters and whitespace folded, for comparison only."""
    if not text:
        return ""
    # ASCII text (str.isascii() is a flag lookup) has no invisible characters and is already in NFKC.
    folded = text if text.isascii() else unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))
    # str.split() splits at exactly the characters regex `\s` matches, at a third of the cost.
    return " ".join(folded.split())


def content_hash(title: str, published: str | None, text: str) -> str:
    """Return a SHA-256 of the normalised title, date and body: equal hashes mean no real change."""
    digest = hashlib.sha256()
    for part in (title, published, text):
        digest.update(normalise(part).encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def _tokens(text: str | None) -> tuple[list[str], list[str]]:
    """Return the text's tokens (spaces folded, paragraph breaks as newlines) and their comparison keys (NFKC)."""
    folded = _LINE_SPACE.sub(" ", _BREAK.sub("\n", _INVISIBLE.sub("", text or ""))).strip()
    tokens = _TOKEN.findall(folded)
    return tokens, [unicodedata.normalize("NFKC", token) for token in tokens]


def _display(run: str) -> str:
    return run.replace("\n", "\n\n")


def _mark(run: str, marks: tuple[str, str], bucket: list[str], pieces: list[str]) -> None:
    """Add a changed run to the inline diff and to its list; a paragraph break alone shows as ¶."""
    if run.strip():
        bucket.append(run.strip().replace("\n", " "))
        pieces.append(f"{marks[0]}{_display(run)}{marks[1]}")
    elif "\n" in run:
        bucket.append(PARAGRAPH_MARK)
        pieces.append(f"{marks[0]}{PARAGRAPH_MARK}{marks[1]}")


def diff_text(old: str | None, new: str | None) -> FieldDiff | None:
    """Return the word-level (CJK: character-level) diff of two values, or None when they are equal once normalised.

    Tokens are compared in normalised form (NFKC, no invisible characters, folded spaces), so noise the hash
    ignores never shows up as a change; the diff shows the texts' own characters.
    """
    if normalise(old) == normalise(new):
        return None
    before, before_keys = _tokens(old)
    after, after_keys = _tokens(new)
    added: list[str] = []
    removed: list[str] = []
    pieces: list[str] = []
    for equal, old_run, new_run in _runs(before, before_keys, after, after_keys):
        if equal:
            pieces.append(_display(new_run))
            continue
        _mark(old_run, ("[-", "-]"), removed, pieces)
        _mark(new_run, ("{+", "+}"), added, pieces)
        if not new_run.strip() and "\n" not in new_run and new_run:
            pieces.append(new_run)  # a bare space keeps the words apart
    return FieldDiff(added=tuple(added), removed=tuple(removed), diff="".join(pieces))


def _runs(before: list[str], before_keys: list[str], after: list[str], after_keys: list[str]) -> list[_Run]:
    """Return (equal, old text, new text) runs; changes separated only by a space merge into one phrase."""
    runs: list[_Run] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, before_keys, after_keys, autojunk=False).get_opcodes():
        old_run, new_run = "".join(before[i1:i2]), "".join(after[j1:j2])
        if op != "equal" and len(runs) >= 2 and not runs[-2][0] and runs[-1][0] and runs[-1][2] == " ":
            _, gap_old, gap_new = runs.pop()
            _, prev_old, prev_new = runs.pop()
            old_run, new_run = prev_old + gap_old + old_run, prev_new + gap_new + new_run
        runs.append((op == "equal", old_run, new_run))
    return runs


def diff_runs(old: str | None, new: str | None) -> list[tuple[bool, str, str]]:
    """Return the word-level (CJK: character-level) diff as (equal, old text, new text) runs, paragraph breaks as
    newlines; the same comparison as `diff_text`, for callers that mark changes up themselves (the web view)."""
    before, before_keys = _tokens(old)
    after, after_keys = _tokens(new)
    return _runs(before, before_keys, after, after_keys)


def diff_fields(old: dict[str, str | None], new: dict[str, str | None]) -> dict[str, FieldDiff]:
    """Return the diff of each of title, published and text that changed."""
    changes = {}
    for name in DIFF_FIELDS:
        change = diff_text(old.get(name), new.get(name))
        if change is not None:
            changes[name] = change
    return changes


def changed_paragraphs(diff: str, context: int = 1) -> str:
    """Return an inline diff cut to its changed paragraphs and `context` paragraphs around each.

    Each run of left-out paragraphs becomes one line saying how many (a ministry transcript runs to a hundred
    paragraphs; an edit touches one or two).
    """
    paragraphs = diff.split("\n\n")
    changed = [i for i, flag in enumerate(_changed_flags(paragraphs)) if flag]
    keep = {j for i in changed for j in range(i - context, i + context + 1)}
    out: list[str] = []
    skipped = 0
    for i, paragraph in enumerate(paragraphs):
        if i not in keep:
            skipped += 1
            continue
        if skipped:
            out.append(_skipped(skipped))
        out.append(paragraph)
        skipped = 0
    if skipped:
        out.append(_skipped(skipped))
    return "\n\n".join(out)


def _skipped(count: int) -> str:
    return f"… {count} unchanged paragraph{'s' if count > 1 else ''} …"


def _changed_flags(paragraphs: list[str]) -> list[bool]:
    """Return, per paragraph, whether it holds a change (a mark, or the inside of a change opened before it)."""
    flags = []
    inside = False
    for paragraph in paragraphs:
        marks = _DIFF_MARK.findall(paragraph)
        flags.append(inside or bool(marks))
        if marks:
            inside = marks[-1] in ("[-", "{+")
    return flags
