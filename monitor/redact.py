"""Text safe to show: URLs without their secrets, terminal-safe strings, spreadsheet-safe CSV cells.

Scraped text is data from a server that may be hostile: an escape sequence in a title must not drive the terminal
that prints it, and a cell starting with `=` must not run as a formula in the spreadsheet that opens an export.
"""

from __future__ import annotations

import re

__all__ = ["printable", "redact_url", "redact_urls", "spreadsheet_safe"]

_USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
# C0 and C1 controls, DEL, and the bidirectional overrides and isolates (text that reorders what is shown).
_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES = {code: f"\\u{code:04x}" for code in _CONTROLS}
_ESCAPES_KEEPING_LINES = {code: text for code, text in _ESCAPES.items() if code not in (0x09, 0x0A, 0x0D)}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def redact_url(url: str) -> str:
    """Return `url` cut to its scheme and host (no user, password, path or query): chat webhooks carry tokens there."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        rest, scheme = url, ""
    host, _slash, tail = rest.partition("/")
    host, query, _ = host.rpartition("@")[2].partition("?")
    shown = f"{scheme}://{host}" if sep else host
    return shown + "/…" if tail or query else shown


def redact_urls(text: str) -> str:
    """Return `text` with the user and password of every URL in it masked (`https://***@host/`)."""
    return _USERINFO.sub(r"\1***@", text)


def printable(text: str, *, keep_lines: bool = False) -> str:
    """Return `text` with control and bidi characters written as `\\uXXXX` (tabs and newlines kept if asked)."""
    return text.translate(_ESCAPES_KEEPING_LINES if keep_lines else _ESCAPES)


def spreadsheet_safe(cell: str) -> str:
    """Return a CSV cell that a spreadsheet shows as text: one starting with = + - @ (a formula) gets a `'` first."""
    cell = printable(cell, keep_lines=True)
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell
