"""Turn a parsed element into folded paragraphs of text: the one text walk both readers share; pure."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborNode

__all__ = ["BLOCKS", "fold", "paragraphs", "tidy"]

# Elements that end a paragraph. Everything else is inline and joins its neighbours without a space, so
# `Chin</SPAN><SPAN>ese` stays "Chinese".
BLOCKS = frozenset(
    "address article aside blockquote dd div dl dt fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header "
    "hr li main nav ol p pre section table tbody thead tfoot tr td th ul center".split()
)
_SKIP = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "svg", "button", "select", "-comment"}
)
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")


def fold(text: str) -> str:
    """Return `text` with runs of whitespace as one space, zero-width characters dropped, ends stripped."""
    # str.split() splits at exactly the characters regex `\s` matches (NBSP, U+2000-U+200A, U+3000 and the rest
    # of str.isspace()), at a fraction of the cost of a regex substitution. The zero-width characters are not
    # ASCII, and str.isascii() is a flag lookup: ASCII text skips that scan.
    if not text.isascii():
        text = _ZERO_WIDTH.sub("", text)
    return " ".join(text.split())


def paragraphs(root: LexborNode) -> list[str]:
    """Return the non-empty paragraphs of `root`'s text, each folded, split at block elements and <br>."""
    found: list[str] = []
    current: list[str] = []
    _walk(root, found, current)
    _flush(found, current)
    return found


def _flush(found: list[str], current: list[str]) -> None:
    if not current:
        return
    text = fold("".join(current))
    if text:
        found.append(text)
    current.clear()


def _walk(node: LexborNode, found: list[str], current: list[str]) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            current.append(child.text_content or "")
        elif tag in _SKIP:
            continue
        elif tag == "br":
            _flush(found, current)
        elif tag in BLOCKS:
            _flush(found, current)
            _walk(child, found, current)
            _flush(found, current)
        else:
            _walk(child, found, current)


def tidy(text: str) -> str:
    """Return paragraphs (separated by blank lines) folded again, empty ones dropped."""
    lines = (fold(line) for line in text.split("\n\n"))
    return "\n\n".join(line for line in lines if line)
