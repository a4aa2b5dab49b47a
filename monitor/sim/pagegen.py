"""Derive ministry pages from the real saved ones (a new listing, an edited article), for tests, demo and benchmarks.

The saved pages themselves are never edited; variants are made in code from their bytes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "PressPages",
    "article_name",
    "article_path",
    "en_listing",
    "inject_into_body",
    "listing_path",
    "mission_article",
    "replace_once",
    "zh_listing",
]

_EN_UL = re.compile(rb'(<div class="newsLst_mod">\s*<ul>)(.*?)(</ul>)', re.S)
_ZH_UL = re.compile(rb'(<div class="rebox_news">\s*<ul>)(.*?)(</ul>)', re.S)
_EN_PARTS = {
    "title": re.compile(rb"(<title>)(.*?)(</title>)", re.S),
    "crumbs": re.compile(rb'(<div class="urhere">)(.*?)(</div>)', re.S),
    "headline": re.compile(rb'(<h2 class="title">)(.*?)(</h2>)', re.S),
    "date": re.compile(rb'(<div class="date" id="News_Body_Time">)()(</div>)', re.S),
    "body": re.compile(rb'(<div class="content">)(.*?)(</div>)', re.S),
    "friend": re.compile(rb"(>)(Suggest to a friend)(<)"),
}


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


def mission_article(template: bytes, title: str, paragraphs: list[str], day: str) -> bytes:
    """Return a Chinese mission's "Home > News & Events" article built from a real fmprc English article page.

    The missions' 2020 sites used the MFA's English templates: breadcrumb "Home > News & Events", the title, the
    date in #News_Body_Time (filled as fmprc's Chinese pages fill it, `2020-08-19`), the body paragraphs and the
    "<Suggest To A Friend>" footer. No HTML page of a mission was saved; this is the closest saved template.
    """
    body = "".join(f'<P style="FONT-SIZE: 14px; FONT-FAMILY: arial">{html.escape(p)}</P>\n' for p in paragraphs)
    values = {
        "title": html.escape(title),
        "crumbs": '<a href="../../">Home</a>&nbsp;>&nbsp;<a href="./">News &amp; Events</a>',
        "headline": html.escape(title),
        "date": day,
        "body": body,
        "friend": "&lt;Suggest To A Friend&gt;",
    }
    page = template
    for part, pattern in _EN_PARTS.items():
        match = pattern.search(page)
        if match is None:
            raise ValueError(f"EN article template changed: no {part}")
        page = page[: match.start(2)] + values[part].encode() + page[match.end(2) :]
    return page


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


def listing_path(i: int) -> str:
    """Return the path of numbered listing `i` on a generated press site (`/mfa_eng/s00003/`)."""
    return f"/mfa_eng/s{i:05d}/"


def article_name(i: int, j: int) -> str:
    """Return the file name of article `j` of listing `i` (`t000030012.shtml`), relative to the listing."""
    return f"t{i:05d}{j:04d}.shtml"


def article_path(i: int, j: int) -> str:
    """Return the path of article `j` of listing `i`."""
    return listing_path(i) + article_name(i, j)


@dataclass(frozen=True, slots=True)
class PressPages:
    """Numbered listings and articles made from one real EN listing page and several real EN article pages.

    Article (i, j) is template (i + j) mod len(articles) with one paragraph naming it added, so every page's text
    is distinct; `label` starts that paragraph. Each edit adds one more paragraph after it.
    """

    listing: bytes
    articles: tuple[bytes, ...]
    label: str

    def article(self, i: int, j: int, edits: int = 0) -> bytes:
        """Return the body of article `j` of listing `i`, as changed by `edits` silent edits."""
        extra = f"<p>{self.label} {i}-{j}: this paragraph makes every page's text distinct.</p>"
        extra += "".join(f"<p>Update {k}: this sentence was added after publication.</p>" for k in range(1, edits + 1))
        return inject_into_body(self.articles[(i + j) % len(self.articles)], '<div class="content">', extra)

    def listing_body(self, i: int, numbers: Iterable[int]) -> bytes:
        """Return listing `i` linking the articles `numbers`, in that order (newest first)."""
        return en_listing(self.listing, [(f"./{article_name(i, j)}", f"Press conference {i}-{j}") for j in numbers])
