"""Derive page variants from the real saved pages, in code (the saved files themselves are never edited)."""

from __future__ import annotations

import re

EN_LIST = "fmprc/en_list_regular-press-conference_p0_2020-07-04.html"
ZH_LIST = "fmprc/zh_list_fyrbt_p0_2020-07-04.html"
EN_DIR = "/mfa_eng/xwfw_665399/s2510_665401/2511_665403/"
ZH_DIR = "/web/wjdt_674879/fyrbt_674889/"
EN_ARTICLES = {
    "t1793427": "fmprc/en_article_t1793427_regular-press-conference_2020-06-30.html",
    "t1739548": "fmprc/en_article_t1739548_daily-briefing-online_2020-02-03.html",
    "t1686638": "fmprc/en_article_t1686638_remarks-pelosi-hong-kong_2019-08.html",
    "t1617471": "fmprc/en_article_t1617471_regular-press-conference_2018-11-29.html",
    "t1558711": "fmprc/en_article_t1558711_regular-press-conference_2018-05-11.html",
}

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
