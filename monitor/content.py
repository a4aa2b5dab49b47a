"""Compare article content: a normalised hash (so noise makes no version) and word/character diffs; pure."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

__all__ = ["FieldDiff", "content_hash", "diff_fields", "diff_text", "normalise"]

_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
_SPACE = re.compile(r"\s+")
# One token per CJK character (Chinese has no spaces), one per run of other non-space characters, one per gap.
_CJK = "\u2e80-\u2fff\u3001-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_TOKEN = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+|\s+")
DIFF_FIELDS = ("title", "published", "text")


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
    folded = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))
    return _SPACE.sub(" ", folded).strip()


def content_hash(title: str, published: str | None, text: str) -> str:
    """Return a SHA-256 of the normalised title, date and body: equal hashes mean no real change."""
    digest = hashlib.sha256()
    for part in (title, published, text):
        digest.update(normalise(part).encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def diff_text(old: str | None, new: str | None) -> FieldDiff | None:
    """Return the word-level (CJK: character-level) diff of two values, or None when they are equal once normalised."""
    if normalise(old) == normalise(new):
        return None
    before = _TOKEN.findall(old or "")
    after = _TOKEN.findall(new or "")
    added: list[str] = []
    removed: list[str] = []
    pieces: list[str] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        old_run, new_run = "".join(before[i1:i2]), "".join(after[j1:j2])
        if op == "equal":
            pieces.append(old_run)
            continue
        if old_run.strip():
            removed.append(old_run.strip())
            pieces.append(f"[-{old_run}-]")
        if new_run.strip():
            added.append(new_run.strip())
            pieces.append(f"{{+{new_run}+}}")
    return FieldDiff(added=tuple(added), removed=tuple(removed), diff="".join(pieces))


def diff_fields(old: dict[str, str | None], new: dict[str, str | None]) -> dict[str, FieldDiff]:
    """Return the diff of each of title, published and text that changed."""
    changes = {}
    for name in DIFF_FIELDS:
        change = diff_text(old.get(name), new.get(name))
        if change is not None:
            changes[name] = change
    return changes
