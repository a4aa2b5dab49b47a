"""Find an article's main text on a page nobody wrote selectors for: clean the furniture away, score the blocks.

Pure: takes a parsed tree, returns the paragraphs. The scoring follows Readability's idea (text, commas and link
density of each paragraph credited to its ancestors); the furniture rules (menus, share bars, breadcrumbs, related
lists, contact boxes, footers) are what ministry and news pages are built from.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.pages.text import fold, paragraphs

__all__ = ["MainText", "find_main_text"]

_JUNK_TAGS = (
    "script, style, noscript, template, svg, iframe, object, embed, button, select, input, textarea, canvas, "
    "nav, aside, footer, dialog, menu, figure, picture, video, audio, map"
)
_HIDDEN = (
    '[hidden], [aria-hidden="true"], [role="navigation"], [role="banner"], [role="contentinfo"], '
    '[role="complementary"], [role="menu"], [role="menubar"], [role="dialog"], [role="alert"], [role="search"], '
    '[style*="display:none"], [style*="display: none"], [style*="visibility:hidden"]'
)
_FURNITURE = re.compile(
    r"(?:^|[\s_-])(?:share|sharing|social|socials|breadcrumbs?|related|relatedposts|comments?|cookies?|consent|"
    r"newsletter|sidebar|menu|navbar|nav|navigation|footer|masthead|promo|advert|advertisement|ads?|adslot|banner|"
    r"subscribe|subscription|signup|popup|modal|tags?|taglist|toolbar|print|skip|pagination|pager|widget|"
    r"recommended|recirc|more-?stories|read-?more|disqus|outbrain|taboola|sponsor(?:ed)?|byline|author|bio|"
    r"caption|credits?|meta|dateline|timestamp|published|date|sr-only|visually-hidden|screen-reader-text|"
    r"hidden|contact|kontakt|teaser|infobox|trending|most-?read|popular|rating|feedback|langs?|language)"
    r"(?:$|[\s_-])",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"article|body|content|entry|main|post|story|text|blog|news|press|release|meldung|artikel|inhalt|contenu|"
    r"testo|texto|cuerpo|govspeak|richtext|rte|prose",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(
    r"comment|footer|sidebar|share|social|related|promo|widget|menu|nav|breadcrumb|banner|sponsor|advert|popup|"
    r"teaser|header|masthead|meta|tags|contact",
    re.IGNORECASE,
)
_SCORED = "p, pre, blockquote, td, div, section, li, dd, span, font, h2, h3, h4"
_BLOCKISH = frozenset("p pre blockquote div section article td li dd ul ol table h2 h3 h4 h5 h6 dl main form".split())
_MIN_PARAGRAPH = 25
_COMMAS = re.compile(r"[,，、;；。]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_MIN_ARTICLE = 80  # weighted characters (one CJK character counts three): GOV.UK has one-sentence publications
_ERROR_PAGE_TEXT = 1500
_ERROR_PAGE = re.compile(
    r"\b(?:404|page not found|not found|no longer available|nicht gefunden|nicht verfügbar|existiert nicht|"
    r"introuvable|n'existe pas|no encontrad[ao]|non trovat[ao]|não encontrad[ao]|не найден[ао]?)\b|找不到|没有找到|"
    r"不存在|見つかりません",
    re.IGNORECASE,
)
_LISTING_ITEMS = 6
_LISTING_TEXT_PER_ITEM = 150  # an article citing many links still has this much text per link
_LISTED_SHARE = 0.85  # ... and most of its text is not in link-led list items
_BIG_SHARE = 0.4  # furniture-looking containers holding more of the page's text than this are kept


@dataclass(frozen=True, slots=True)
class MainText:
    """The article's paragraphs and how sure the finder is (0-1); `reason` says why a page is not an article."""

    paragraphs: list[str]
    confidence: float
    reason: str | None = None

    @property
    def is_article(self) -> bool:
        """Return whether the page has article text (not a listing, error page or script-only shell)."""
        return self.reason is None


def find_main_text(tree: LexborHTMLParser, titles: Collection[str] = (), declared_article: bool = False) -> MainText:
    """Return the main text's paragraphs (empty when the page has none); paragraphs equal to a title are left out.

    A page whose main block is a list of links is refused as a listing, unless it `declared_article` (a listicle).
    """
    body = tree.body
    if body is None:
        return MainText([], 0.0, "the page has no body")
    scripted = tree.css_first("script[src], body script") is not None
    for node in body.css(_JUNK_TAGS):
        node.remove()
    total = _length(body)
    _drop_furniture(body, total)
    root = _best_root(body)
    if root is None:
        reason = "a JavaScript-only page: no text without its scripts" if scripted else "no paragraph of text"
        return MainText([], 0.0, reason)
    items, listed_share = _list_items(root)
    _drop_link_lists(root)
    found = [p for p in paragraphs(root) if p not in titles]
    text_len = sum(_weighted(p) for p in found)
    confidence = min(1.0, text_len / max(1, total)) if total else 0.0
    if (
        not declared_article
        and items >= _LISTING_ITEMS
        and (text_len < items * _LISTING_TEXT_PER_ITEM or listed_share >= _LISTED_SHARE)
    ):
        return MainText(found, confidence, f"a list of {items} links, not an article")
    if text_len < _MIN_ARTICLE:
        shell = "a JavaScript-only page: " if scripted else ""
        return MainText(found, confidence, f"{shell}only {text_len} characters of text")
    if text_len < _ERROR_PAGE_TEXT and _ERROR_PAGE.search(f"{' '.join(titles)} {' '.join(found)[:300]}"):
        return MainText(found, confidence, "an error page")
    return MainText(found, confidence)


def _list_items(root: LexborNode) -> tuple[int, float]:
    """Return how many links with headline-length text the block holds (a listing's items), and the share of the
    block's text that sits in list items (<li>, <article>, <tr>, <dd>) led by such a link."""
    count, listed, seen = 0, 0, set()
    for anchor in root.css("a[href]"):
        if len(fold(anchor.text(deep=True, separator=" "))) < 20:
            continue
        count += 1
        item = anchor.parent
        while item is not None and item.mem_id != root.mem_id and item.tag not in ("li", "article", "tr", "dd"):
            item = item.parent
        if item is not None and item.mem_id != root.mem_id and item.mem_id not in seen:
            seen.add(item.mem_id)
            listed += _length(item)
    return count, listed / max(1, _length(root))


def _weighted(text: str) -> int:
    # One CJK character carries about as much as three Latin letters.
    if text.isascii():
        return len(text)
    return len(text) + 2 * len(_CJK.findall(text))


def _length(node: LexborNode) -> int:
    return _weighted(fold(node.text(deep=True, separator=" ")))


def _signature(node: LexborNode) -> str:
    attrs = node.attributes
    return f"{attrs.get('class') or ''} {attrs.get('id') or ''}"


def _drop_furniture(body: LexborNode, total: int) -> None:
    for node in body.css(_HIDDEN):
        node.remove()
    protected = _content_ancestors(body)
    for node in body.css("[class], [id]"):
        if node.tag in ("body", "html", "main", "article") or node.parent is None or node.mem_id in protected:
            continue
        signature = _signature(node)
        if _FURNITURE.search(signature) and not _POSITIVE_STRONG.search(signature):
            if total == 0 or _length(node) < total * _BIG_SHARE:
                node.remove()
    for node in body.css("header"):
        if _length(node) < total * _BIG_SHARE:
            node.remove()


_POSITIVE_STRONG = re.compile(
    r"article-?body|articlebody|article-?content|article-?text|entry-content|post-?content|post-?body|story-?body|"
    r"story-?content|news-?body|body-?text|govspeak|article-inner",
    re.IGNORECASE,
)


def _content_ancestors(body: LexborNode) -> set[int]:
    """Return the ids of every ancestor of a node that says it holds the article text: never furniture."""
    protected: set[int] = set()
    for node in body.css('[itemprop="articleBody"], article, [class], [id]'):
        if node.tag != "article" and node.attributes.get("itemprop") != "articleBody":
            if not _POSITIVE_STRONG.search(_signature(node)):
                continue
        ancestor = node.parent
        while ancestor is not None and ancestor.mem_id not in protected:
            protected.add(ancestor.mem_id)
            ancestor = ancestor.parent
    return protected


def _best_root(body: LexborNode) -> LexborNode | None:
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    for node in body.css(_SCORED):
        if node.tag in ("div", "section", "span", "font", "li", "td") and _has_block_child(node):
            text = _own_text(node)  # text written straight into a container, beside its blocks
        else:
            text = fold(node.text(deep=True, separator=""))
        length = _weighted(text)
        if length < _MIN_PARAGRAPH:
            continue
        score = 1 + len(_COMMAS.findall(text)) + min(length // 100, 3)
        ancestor = node.parent
        for level in range(3):
            if ancestor is None or ancestor.tag == "html":
                break
            key = ancestor.mem_id
            if key not in nodes:
                nodes[key] = ancestor
                scores[key] = _initial(ancestor)
            scores[key] += score / (1 if level == 0 else 2 if level == 1 else level * 3)
            ancestor = ancestor.parent
    if not scores:
        return None
    best = max(scores, key=lambda key: scores[key] * (1 - _link_density(nodes[key])))
    return _widen(nodes[best], scores, nodes)


def _widen(top: LexborNode, scores: dict[int, float], nodes: dict[int, LexborNode]) -> LexborNode:
    """Climb to the parent while it holds sibling blocks scoring near the top one (split article bodies)."""
    best = scores[top.mem_id]
    parent = top.parent
    while parent is not None and parent.tag not in ("body", "html"):
        siblings = [c for c in _children(parent) if c.mem_id != top.mem_id and c.mem_id in scores]
        if not any(scores[c.mem_id] >= best * 0.5 and _link_density(c) < 0.3 for c in siblings):
            break
        top, parent = parent, parent.parent
    return top


def _children(node: LexborNode) -> list[LexborNode]:
    return [child for child in node.iter(include_text=False)]


def _own_text(node: LexborNode) -> str:
    return fold("".join(child.text_content or "" for child in node.iter(include_text=True) if child.tag == "-text"))


def _has_block_child(node: LexborNode) -> bool:
    return any(child.tag in _BLOCKISH for child in node.iter(include_text=False))


def _initial(node: LexborNode) -> float:
    tag = node.tag
    score = 5.0 if tag in ("div", "article", "main", "section") else 3.0 if tag in ("pre", "td", "blockquote") else 0.0
    if tag in ("article", "main"):
        score += 10
    if node.attributes.get("itemprop") == "articleBody":
        score += 50
    signature = _signature(node)
    if signature.strip():
        if _POSITIVE.search(signature):
            score += 25
        if _NEGATIVE.search(signature):
            score -= 25
    return score


def _link_density(node: LexborNode) -> float:
    total = len(fold(node.text(deep=True, separator="")))
    if total == 0:
        return 1.0
    linked = sum(len(fold(a.text(deep=True, separator=""))) for a in node.css("a"))
    return min(1.0, linked / total)


def _drop_link_lists(root: LexborNode) -> None:
    for node in root.css("ul, ol, div, table, p, section, dl"):
        if node.parent is None:
            continue
        density = _link_density(node)
        if density > 0.5 and (node.tag in ("ul", "ol", "dl") or _length(node) < 300):
            node.remove()
