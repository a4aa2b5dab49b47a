"""The store's read side for people: article pages, counts, recent events and full-text search, on both backends.

Search keeps one row per article (its latest title and body) in a backend index kept up to date by `add_version`:
SQLite FTS5 with the trigram tokenizer, PostgreSQL pg_trgm. Both match substrings, so Chinese (no spaces) works.
Trigrams cannot look up a term of two characters (most Chinese words), so each backend also indexes the article's
character pairs (`char_pairs`): a two-character term is found exactly by its one pair.
"""

from __future__ import annotations

import operator
from collections.abc import Collection
from datetime import datetime
from typing import Any

from storage.base import ArticleSummary, EventRecord, SearchHit, VersionRecord
from storage.rows import _event, from_db_time
from storage.sql import SqlStore

__all__ = ["ReadingStore", "char_pairs", "like_pattern", "search_doc", "search_terms", "snippet"]

SNIPPET_CHARS = 160
MAX_TERMS = 8


def search_terms(query: str) -> list[str]:
    """Return the distinct words of a query (at most MAX_TERMS), each matched as a substring, all required."""
    terms: list[str] = []
    for word in query.split():
        if word.casefold() not in {t.casefold() for t in terms}:
            terms.append(word)
    return terms[:MAX_TERMS]


def snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> str:
    """Return about `width` characters of `text` around the first term found (the start if none), with ellipses."""
    folded = text.casefold()
    found = [i for i in (folded.find(t.casefold()) for t in terms) if i >= 0]
    at = min(found) if found else 0
    start = max(0, at - width // 3)
    end = min(len(text), start + width)
    window = " ".join(text[start:end].split())
    return ("…" if start else "") + window + ("…" if end < len(text) else "")


def search_doc(title: str, text: str) -> str:
    """Return the lower-cased text an article is searched in: its title and body."""
    return f"{title} {text}".lower()


def char_pairs(doc: str) -> list[str]:
    """Return the distinct two-character substrings of `doc` without whitespace, sorted.

    A search term holds no whitespace (`search_terms` splits on it), so a two-character term occurs in `doc` exactly
    when it is one of these pairs.
    """
    pairs = set(map(operator.add, doc, doc[1:]))
    return sorted(pair for pair in pairs if not (pair[0].isspace() or pair[1].isspace()))


def like_pattern(term: str) -> str:
    """Return a LIKE pattern matching `term` anywhere, its wildcards escaped with a backslash."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_SUMMARY = (
    "SELECT a.id, a.source_id, a.url, a.status, a.version, a.first_seen, a.last_changed, v.title, v.published"
    " FROM articles a LEFT JOIN versions v ON v.article_id = a.id AND v.version = a.version"
)


def _summary(row: tuple[Any, ...]) -> ArticleSummary:
    return ArticleSummary(
        id=int(row[0]),
        source_id=row[1],
        url=row[2],
        status=row[3],
        version=int(row[4]),
        first_seen=datetime.fromisoformat(row[5]),
        last_changed=from_db_time(row[6]),
        title=row[7] or "",
        published=row[8],
    )


class ReadingStore(SqlStore):
    """SqlStore plus the reads the web view, feeds and `monitor search` need; backends add the search index."""

    def add_version(self, article_id: int, version: VersionRecord) -> None:
        """Append a version and make it the article's searchable text."""
        with self.transaction():
            super().add_version(article_id, version)
            self._index_text(article_id, version.title, version.text)

    def article_counts(self) -> dict[str, int]:
        """Return how many articles each source has."""
        rows = self._rows("SELECT source_id, COUNT(*) FROM articles GROUP BY source_id")
        return {row[0]: int(row[1]) for row in rows}

    def article_count(self, source_id: str) -> int:
        """Return how many articles one source has."""
        return int(self._rows("SELECT COUNT(*) FROM articles WHERE source_id = ?", (source_id,))[0][0])

    def article_page(self, source_id: str, *, offset: int, limit: int) -> list[ArticleSummary]:
        """Return a page of the source's articles, newest first (latest seen first)."""
        rows = self._rows(
            f"{_SUMMARY} WHERE a.source_id = ? ORDER BY a.id DESC LIMIT ? OFFSET ?", (source_id, limit, offset)
        )
        return [_summary(row) for row in rows]

    def article_summaries(self, article_ids: Collection[int]) -> dict[int, ArticleSummary]:
        """Return the summaries of these articles, keyed by id."""
        if not article_ids:
            return {}
        marks = ", ".join("?" for _ in article_ids)
        rows = self._rows(f"{_SUMMARY} WHERE a.id IN ({marks})", tuple(article_ids))
        return {int(row[0]): _summary(row) for row in rows}

    def recent_events(
        self,
        *,
        types: Collection[str] | None = None,
        source_id: str | None = None,
        before_seq: int | None = None,
        limit: int = 50,
    ) -> list[EventRecord]:
        """Return stored events newest first, filtered by type and source, older than `before_seq` if given."""
        clauses: list[str] = ["1 = 1"]
        params: list[object] = []
        if types is not None:
            clauses.append(f"type IN ({', '.join('?' for _ in types) or 'NULL'})")
            params.extend(types)
        if source_id is not None:
            clauses.append("source_id = ?")
            params.append(source_id)
        if before_seq is not None:
            clauses.append("seq < ?")
            params.append(before_seq)
        rows = self._rows(
            "SELECT id, type, source_id, created_at, body, article_url, seq FROM events"
            f" WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?",
            (*params, limit),
        )
        return [_event(row) for row in rows]

    def search(self, query: str, *, limit: int = 20, offset: int = 0, source_id: str | None = None) -> list[SearchHit]:
        """Return the articles whose latest title or body contains every word of `query`, newest first."""
        terms = search_terms(query)
        if not terms:
            return []
        ids = self._search_ids(terms, limit=limit, offset=offset, source_id=source_id)
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        bodies = dict(
            self._rows(
                "SELECT a.id, v.body_text FROM articles a JOIN versions v ON v.article_id = a.id"
                f" AND v.version = a.version WHERE a.id IN ({marks})",
                tuple(ids),
            )
        )
        summaries = self.article_summaries(ids)
        return [SearchHit(summaries[i], snippet(bodies.get(i) or "", terms)) for i in ids if i in summaries]

    # backend hooks
    def _index_text(self, article_id: int, title: str, text: str) -> None:
        raise NotImplementedError

    def _search_ids(self, terms: list[str], *, limit: int, offset: int, source_id: str | None) -> list[int]:
        raise NotImplementedError
