"""Fill a store for the web benchmark: N articles over ten sources (one with `big` of them), one article with many
versions, bodies from real article texts (English, and Chinese one in twenty)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from storage import ArticleState, Store, VersionRecord, compress_raw

__all__ = ["EDITED_URL", "fill_store", "load_texts"]

ROOT = Path(__file__).resolve().parent.parent
# Real article bodies with ground truth, when the shared fixtures are beside the checkout (they are not shipped).
SHARED_TEXTS = ROOT.parent / "shared" / "fixtures" / "extraction-benchmark" / "ground-truth.json"
ZH_PAGES = sorted((ROOT / "tests" / "fixtures" / "fmprc").glob("zh_article_*.html"))
EN_PAGES = sorted((ROOT / "monitor" / "sim" / "demo_pages").glob("en_article_*.html"))
BODY_CHARS = 3000
BATCH = 1000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
EDITED_URL = "https://bench.example/big/edited.shtml"
RAW = compress_raw(b"<html><body>" + b"x" * 20_000 + b"</body></html>")


def _page_text(path: Path, selector: str) -> str:
    """Return the article text of a saved MFA page (the body the shipped config's selector reads)."""
    node = LexborHTMLParser(path.read_bytes().decode("utf-8", "replace")).css_first(selector)
    return node.text(separator="\n") if node is not None else ""


def load_texts() -> tuple[list[str], list[str], str]:
    """Return (English bodies, Chinese bodies, where the English ones came from)."""
    if SHARED_TEXTS.exists():
        truth = json.loads(SHARED_TEXTS.read_text(encoding="utf-8"))
        english = [item["articleBody"] for item in truth.values() if len(item["articleBody"]) > 500]
        origin = f"{len(english)} ground-truth bodies of ../shared/fixtures/extraction-benchmark"
    else:
        english = [_page_text(path, "div.content_mod div.content") for path in EN_PAGES]
        origin = f"the {len(english)} packaged MFA pages"
    chinese = [" ".join(_page_text(path, "#News_Body_Txt_A").split()) for path in ZH_PAGES]
    chinese = [text for text in chinese if text]
    return english, chinese, origin


def _body(n: int, english: list[str], chinese: list[str]) -> str:
    pool = chinese if n % 20 == 7 else english
    text = pool[(n // 20) % len(pool)] if pool is chinese else pool[n % len(pool)]
    # A word found in one article only, and one in a hundredth of them: searches of known selectivity.
    return f"{text[:BODY_CHARS]}\nRef mm{n:06d} topic{n % 100:02d}x."


def _articles(count: int, big: int) -> Iterator[tuple[int, str, str]]:
    for n in range(count):
        source = "big" if n < big else f"src{n % 9}"
        yield n, source, f"https://bench.example/{source}/t{n:06d}.shtml"


def fill_store(store: Store, count: int, big: int, versions: int) -> None:
    """Write `count` articles (ids in time order) and one article of `versions` versions in source `big`."""
    english, chinese, _ = load_texts()
    rows = list(_articles(count, big))
    for start in range(0, len(rows), BATCH):
        with store.transaction():
            for n, source, url in rows[start : start + BATCH]:
                seen = T0 + timedelta(minutes=n)
                article = ArticleState(source, url, first_seen=seen, version=1, last_seen=seen)
                article_id = store.save_article(article)
                body = _body(n, english, chinese)
                title = f"{body.split(chr(10))[0][:90]} ({n})"
                store.add_version(article_id, VersionRecord(1, seen, title, "2026-01-01", body, f"h{n}", RAW))
    _edited(store, english[0], versions)


def _edited(store: Store, text: str, versions: int) -> None:
    seen = T0 + timedelta(days=400)
    article = ArticleState("big", EDITED_URL, first_seen=seen, version=versions, last_seen=seen)
    with store.transaction():
        article_id = store.save_article(article)
        for number in range(1, versions + 1):
            body = text.replace(".", f" (edit {number}).", 1) if number > 1 else text
            record = VersionRecord(
                number, seen + timedelta(hours=number), "Edited often", None, body, f"e{number}", RAW
            )
            store.add_version(article_id, record)
