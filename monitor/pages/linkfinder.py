"""Find a listing's article links without selectors: the dominant repeated block of same-site, article-like links.

Links are grouped by the markup path that leads to them (tags and classes of the link and its ancestors, without
positions), so the items of one list, even split over several <ul>, fall in one group. A group scores by how
article-like its links are: headline-length text, a date in the item or the URL, paths deeper than the listing's,
many distinct targets. Navigation, header, footer, breadcrumbs, language switchers, pagination, "more" and social
links never count. Pure: a parsed tree in, links out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.pages.dates import date_from_text, date_from_url
from monitor.pages.text import fold

__all__ = ["LinkCandidate", "find_article_links"]

_OUTSIDE = frozenset({"nav", "header", "footer", "aside", "select", "button", "menu"})
_FURNITURE = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|menus|header|footer|breadcrumbs?|crumbs?|lang|langs|language|"
    r"languages|switcher|pagination|pager|paging|page-?nav|social|share|sharing|follow|sitemap|skip|toolbar|"
    r"topbar|tabs?|quicklinks?|service|meta-?nav|top-?links?|login|cookie)(?:$|[\s_-])",
    re.IGNORECASE,
)
_PAGINATION_TEXT = re.compile(
    r"^(?:\d{1,4}|[<>«»‹›←→]+|next|prev(?:ious)?|first|last|older|newer|weiter|zurück|vorherige|nächste|suivant|"
    r"précédent|siguiente|anterior|successivo|precedente|далее|назад|下一页|上一页|首页|尾页|末页|次へ|前へ)\W*$",
    re.IGNORECASE,
)
_MORE_TEXT = re.compile(
    r"^(?:more|read more|see (?:all|more)|view all|all news|mehr|weiterlesen|alle meldungen|plus|lire la suite|"
    r"más|leer más|altro|leggi|mais|подробнее|更多|more>>|更多>>)\W*$",
    re.IGNORECASE,
)
_PAGE_URL = re.compile(r"(?:[?&](?:page|p|pg|start|offset)=\d+|/page/\d+/?$|default_\d+\.s?html?$|index_\d+\.s?html?$)")
_DEPTH_OF = re.compile(r"[^/]+")


@dataclass(frozen=True, slots=True)
class LinkCandidate:
    """One article-like link: absolute URL, its text, and the text of its list item (for dates)."""

    url: str
    title: str
    item_text: str


@dataclass(slots=True)
class _Group:
    links: list[LinkCandidate] = field(default_factory=list)
    first_seen: int = 0


def find_article_links(
    tree: LexborHTMLParser, page_url: str, base_url: str, allowed: Callable[[str], bool]
) -> list[LinkCandidate]:
    """Return the article links of the listing's dominant repeated block, in page order; [] if it has none.

    `allowed(url)` says whether an absolute URL is on the site (or an allowed domain).
    """
    body = tree.body
    if body is None:
        return []
    groups: dict[tuple[str, ...], _Group] = {}
    listing = _normal_path(page_url)
    for order, anchor in enumerate(body.css("a[href]")):
        candidate = _candidate(anchor, base_url, listing, allowed)
        if candidate is None:
            continue
        group = groups.setdefault(_signature(anchor), _Group(first_seen=order))
        if all(link.url != candidate.url for link in group.links):
            group.links.append(candidate)
    scored = [(_score(group.links, listing), -group.first_seen, key) for key, group in groups.items()]
    scored = [item for item in scored if item[0] > 0]
    if not scored:
        return []
    best = max(scored)
    return groups[best[2]].links


def _candidate(anchor: LexborNode, base_url: str, listing: str, allowed: Callable[[str], bool]) -> LinkCandidate | None:
    href = (anchor.attributes.get("href") or "").strip()
    if not href or href.startswith(("javascript:", "mailto:", "tel:", "#")) or "hreflang" in anchor.attributes:
        return None
    url = urljoin(base_url, href)
    text = fold(anchor.text(deep=True, separator=" ")) or fold(anchor.attributes.get("title") or "")
    if not allowed(url) or _normal_path(url) == listing or _PAGE_URL.search(url):
        return None
    if len(text) < 4 or _PAGINATION_TEXT.match(text) or _MORE_TEXT.match(text) or _in_furniture(anchor):
        return None
    return LinkCandidate(url=url.split("#", 1)[0], title=text, item_text=_item_text(anchor))


def _normal_path(url: str) -> str:
    path = urlsplit(url).path
    for index in ("index.html", "index.htm", "index.shtml", "default.shtml", "default.htm", "default.html"):
        path = path.removesuffix(index)
    return path.rstrip("/") + "/"


def _in_furniture(anchor: LexborNode) -> bool:
    node = anchor.parent
    while node is not None and node.tag not in ("body", "html"):
        if node.tag in _OUTSIDE or node.attributes.get("role") in ("navigation", "banner", "contentinfo", "search"):
            return True
        signature = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}"
        if signature.strip() and _FURNITURE.search(signature):
            return True
        node = node.parent
    return False


def _signature(anchor: LexborNode) -> tuple[str, ...]:
    parts: list[str] = []
    node: LexborNode | None = anchor
    for _ in range(5):
        if node is None or node.tag in ("body", "html"):
            break
        parts.append(f"{node.tag}.{' '.join(sorted((node.attributes.get('class') or '').split()))}")
        node = node.parent
    return tuple(parts)


def _item_text(anchor: LexborNode) -> str:
    """Return the text of the list item around a link (its <li>, or the nearest ancestor with a little more)."""
    node = anchor
    for _ in range(3):
        parent = node.parent
        if parent is None or parent.tag in ("ul", "ol", "body", "table", "tbody"):
            break
        node = parent
        if node.tag in ("li", "article", "tr", "dd"):
            break
    return fold(node.text(deep=True, separator=" "))[:400]


def _score(links: list[LinkCandidate], listing: str) -> float:
    """Score a group of links by how much they look like a listing's articles; 0 for site navigation.

    A group needs links deeper than the listing or dated ones: menus of section pages have neither. A lone link
    counts only when it has both (a listing with one article so far).
    """
    count = len(links)
    lengths = sorted(len(link.title) for link in links)
    median = lengths[count // 2]
    text_factor = 1.0 if 15 <= median <= 300 else 0.4 if median >= 8 else 0.1
    dated = sum(1 for link in links if date_from_url(link.url) or date_from_text(link.item_text)) / count
    depth = len(_DEPTH_OF.findall(listing))
    deep = sum(1 for link in links if _is_deeper(link.url, listing, depth)) / count
    if deep + dated < 0.5 or (count == 1 and not (deep and dated)):
        return 0.0
    return count * text_factor * (1 + 2 * dated) * (0.5 + deep)


def _is_deeper(url: str, listing: str, depth: int) -> bool:
    path = urlsplit(url).path
    return path.startswith(listing) or len(_DEPTH_OF.findall(path)) > max(1, depth)
