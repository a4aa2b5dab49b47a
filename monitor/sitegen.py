"""Derive ministry pages from the real saved ones (a new listing, an edited article), for tests, demo and benchmarks.

The saved pages themselves are never edited; variants are made in code from their bytes.
"""

from __future__ import annotations

import re

__all__ = ["en_listing", "inject_into_body", "replace_once", "zh_listing"]

_EN_UL = re.compile(rb'(<div class="newsLst_mod">\s*<ul>)(.*?)(</ul>)', re.S)
_ZH_UL = re.compile(rb'(<div class="rebox_news">\s*<ul>)(.*?)(</ul>)', re.S)


def en_listing(template: bytes, entries: list[tuple[str, str]]) -> bytes:
    """Return the real EN listing page with its list replaced by `entries` (href, title)."""
    items = b"".join(f'<li><a href="{href}" target="_blank">{title}</a></li>\n'.encode() for href, title in entries)
    result, count = _EN_UL.subn(lambda m: m.group(1) + items + m.group(3), template, count=1)
    if count != 1:
        raise ValueError("EN listing template changed: no div.newsLst_mod ul")
    return result


def zh_listing(template: bytes, entries: list[tuple[str, str, str]]) -> bytes:
    """Return the real ZH listing page with its list replaced by `entries` (href, title, date)."""
    items = b"".join(
        f'<li><a href="{href}" target="_blank">{title}</a>({day})</li>\n'.encode() for href, title, day in entries
    )
    result, count = _ZH_UL.subn(lambda m: m.group(1) + items + m.group(3), template, count=1)
    if count != 1:
        raise ValueError("ZH listing template changed: no .rebox_news ul")
    return result


def replace_once(body: bytes, old: str, new: str) -> bytes:
    """Return `body` with one occurrence of `old` replaced; fail loudly if it is not there exactly once."""
    needle = old.encode()
    if body.count(needle) != 1:
        raise ValueError(f"{old!r} occurs {body.count(needle)} times, not once")
    return body.replace(needle, new.encode())


def inject_into_body(body: bytes, marker: str, html: str) -> bytes:
    """Return `body` with `html` inserted right after the first occurrence of `marker`."""
    needle = marker.encode()
    index = body.find(needle)
    if index < 0:
        raise ValueError(f"{marker!r} not found")
    index += len(needle)
    return body[:index] + html.encode() + body[index:]
