"""The SQL both backends share: one implementation of the Store protocol over a DB-API connection.

Backends supply the connection, the schema, the placeholder style and the mapping of driver errors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

from storage.base import ArticleState, DeliveryRecord, EventRecord, SourceState, VersionRecord
from storage.errors import StorageError
from storage.lease import LeaseMixin
from storage.rows import (
    _event,
    _filters,
    _record,
    _to_db,
    _upsert_sql,
    _version,
    compress_raw,
    from_db_time,
    to_db_time,
)

__all__ = ["ADDED_COLUMNS", "SqlStore", "compress_raw", "from_db_time", "to_db_time"]

IN_CHUNK = 500  # values per `IN (...)`: SQLite allows 32,766 parameters a query, PostgreSQL 65,535

_SOURCE_COLUMNS = tuple(
    (
        "source_id name url etag last_modified body_hash baseline_done link_count consecutive_failures failing "
        "last_attempt last_success last_error last_outcome next_due selectors"
    ).split()
)
ADDED_COLUMNS = (("sources", "selectors", "TEXT"), ("versions", "reader", "TEXT"))
"""Columns added to schema 1 after it shipped: created by schema.sql in a new database, added to an older one on
open (idempotent: only when missing)."""
_ARTICLE_COLUMNS = tuple(
    (
        "id source_id url doc_id status on_listing baseline first_seen last_seen last_changed version content_hash "
        "etag last_modified miss_count first_miss_at fail_count last_error last_fetch_at next_fetch_at"
    ).split()
)
_DELIVERY_COLUMNS = tuple(
    (
        "id event_id webhook_id order_key state created_at next_attempt_at attempts last_status last_error "
        "last_response delivered_at"
    ).split()
)


class SqlStore(LeaseMixin):
    """Store protocol over an autocommit DB-API 2 connection; transactions are explicit BEGIN/COMMIT.

    Subclasses set `placeholder` and `translate_errors`. One store serves one thread; the asyncio daemon never
    awaits inside a transaction, so transactions never interleave.
    """

    placeholder = "?"

    def __init__(self, connection: Any, *, missing: frozenset[str] = frozenset()) -> None:
        self._conn = connection
        self._depth = 0
        # A database opened read-only before ADDED_COLUMNS were added (an older schema 1) is read without them.
        self._source_columns = tuple(c for c in _SOURCE_COLUMNS if f"sources.{c}" not in missing)
        self._reader = "NULL" if "versions.reader" in missing else "reader"

    # plumbing
    def translate_errors(self) -> AbstractContextManager[None]:
        """Return a context manager that turns driver errors into StorageError subclasses."""
        raise NotImplementedError

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def _execute(self, text: str, params: tuple[Any, ...] = ()) -> Any:
        with self.translate_errors():
            cursor = self._conn.cursor()
            cursor.execute(self._sql(text), params)
            return cursor

    def _rows(self, text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.translate_errors():
            cursor = self._conn.cursor()
            cursor.execute(self._sql(text), params)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group the writes inside the block into one atomic commit (nested blocks join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with self.translate_errors():
            self._begin()
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            with self.translate_errors():
                self._conn.cursor().execute("ROLLBACK")
            raise
        self._depth = 0
        with self.translate_errors():
            self._conn.cursor().execute("COMMIT")

    def _begin(self) -> None:
        self._conn.cursor().execute("BEGIN")

    def close(self) -> None:
        """Release the connection."""
        with self.translate_errors():
            self._conn.close()

    def ping(self) -> bool:
        """Return whether the database answers."""
        try:
            return bool(self._rows("SELECT 1")[0][0] == 1)
        except StorageError:  # a health probe reports, it never raises
            return False

    def _upsert(self, table: str, columns: tuple[str, ...], key: str, values: dict[str, Any]) -> None:
        params = tuple(_to_db(c, values[c]) for c in columns)
        self._execute(_upsert_sql(table, columns, key), params)

    # sources
    def source_state(self, source_id: str) -> SourceState | None:
        """Return the remembered state of a source, or None before its first poll."""
        columns = self._source_columns
        rows = self._rows(f"SELECT {', '.join(columns)} FROM sources WHERE source_id = ?", (source_id,))
        return _record(SourceState, columns, rows[0]) if rows else None

    def source_states(self) -> list[SourceState]:
        """Return every source's state."""
        columns = self._source_columns
        rows = self._rows(f"SELECT {', '.join(columns)} FROM sources ORDER BY source_id")
        return [_record(SourceState, columns, row) for row in rows]

    def save_source_state(self, state: SourceState) -> None:
        """Insert or replace a source's state."""
        self._upsert("sources", _SOURCE_COLUMNS, "source_id", {c: getattr(state, c) for c in _SOURCE_COLUMNS})

    # articles
    def articles(self, source_id: str) -> dict[str, ArticleState]:
        """Return the source's articles keyed by URL."""
        rows = self._rows(f"SELECT {', '.join(_ARTICLE_COLUMNS)} FROM articles WHERE source_id = ?", (source_id,))
        return {row[2]: _record(ArticleState, _ARTICLE_COLUMNS, row) for row in rows}

    def articles_for_check(
        self, source_id: str, now: datetime, listing: Sequence[str] | None
    ) -> dict[str, ArticleState]:
        """Return, keyed by URL, the source's articles one check can touch: those due by `now` (`next_fetch_at` at
        or before it, or never fetched and unscheduled) and, when the listing was read, those flagged as on it or
        named in `listing`. The due ones come from an index, so an unchanged listing costs the same however many
        articles the store holds.
        """
        columns = ", ".join(_ARTICLE_COLUMNS)
        stamp = to_db_time(now)
        if listing is None:
            rows = self._rows(
                f"SELECT {columns} FROM articles WHERE source_id = ? AND next_fetch_at <= ? UNION ALL"
                f" SELECT {columns} FROM articles WHERE source_id = ? AND next_fetch_at IS NULL AND version = 0",
                (source_id, stamp, source_id),
            )
        else:
            rows = self._rows(
                f"SELECT {columns} FROM articles WHERE source_id = ? AND (on_listing = 1 OR next_fetch_at <= ?"
                " OR (next_fetch_at IS NULL AND version = 0))",
                (source_id, stamp),
            )
            for start in range(0, len(listing), IN_CHUNK):  # SQLite and PostgreSQL cap a query's parameters
                chunk = listing[start : start + IN_CHUNK]
                marks = ", ".join("?" for _ in chunk)
                query = f"SELECT {columns} FROM articles WHERE source_id = ? AND url IN ({marks})"
                rows += self._rows(query, (source_id, *chunk))
        return {row[2]: _record(ArticleState, _ARTICLE_COLUMNS, row) for row in rows}

    def count_listed(self, source_id: str) -> int:
        """Return how many of the source's articles are on its listing."""
        return int(
            self._rows("SELECT COUNT(*) FROM articles WHERE source_id = ? AND on_listing = 1", (source_id,))[0][0]
        )

    def find_article(self, url: str) -> ArticleState | None:
        """Return the article with this URL in any source, or None."""
        rows = self._rows(f"SELECT {', '.join(_ARTICLE_COLUMNS)} FROM articles WHERE url = ? ORDER BY id", (url,))
        return _record(ArticleState, _ARTICLE_COLUMNS, rows[0]) if rows else None

    def find_articles_by_doc_id(self, doc_id: str) -> list[ArticleState]:
        """Return the articles (of any source) whose document id is `doc_id`, oldest first."""
        query = f"SELECT {', '.join(_ARTICLE_COLUMNS)} FROM articles WHERE doc_id = ? ORDER BY id"
        return [_record(ArticleState, _ARTICLE_COLUMNS, row) for row in self._rows(query, (doc_id,))]

    def save_article(self, article: ArticleState) -> int:
        """Insert or update an article; return its id."""
        columns = _ARTICLE_COLUMNS[1:]
        params = tuple(_to_db(c, getattr(article, c)) for c in columns)
        if article.id is None:
            marks = ", ".join("?" for _ in columns)
            cursor = self._execute(f"INSERT INTO articles ({', '.join(columns)}) VALUES ({marks}) RETURNING id", params)
            article.id = int(cursor.fetchone()[0])
        else:
            sets = ", ".join(f"{c} = ?" for c in columns)
            self._execute(f"UPDATE articles SET {sets} WHERE id = ?", (*params, article.id))
        return article.id

    def add_version(self, article_id: int, version: VersionRecord) -> None:
        """Append a version to an article's history; its HTML arrives, and is stored, zlib-compressed."""
        self._execute(
            "INSERT INTO versions (article_id, version, fetched_at, title, published, body_text, content_hash, raw,"
            " same_as, reader) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article_id,
                version.version,
                to_db_time(version.fetched_at),
                version.title,
                version.published,
                version.text,
                version.content_hash,
                version.raw_zlib,
                version.same_as,
                version.reader,
            ),
        )

    def versions(self, article_id: int) -> list[VersionRecord]:
        """Return an article's versions, oldest first, without raw HTML."""
        rows = self._rows(
            f"SELECT version, fetched_at, title, published, body_text, content_hash, same_as, {self._reader}"
            " FROM versions WHERE article_id = ? ORDER BY version",
            (article_id,),
        )
        return [_version(row, None) for row in rows]

    def version(self, article_id: int, number: int) -> VersionRecord | None:
        """Return one version (with its compressed HTML, `raw_zlib`), or None."""
        rows = self._rows(
            f"SELECT version, fetched_at, title, published, body_text, content_hash, same_as, {self._reader}, raw"
            " FROM versions WHERE article_id = ? AND version = ?",
            (article_id, number),
        )
        return _version(rows[0][:8], rows[0][8]) if rows else None

    def version_hashes(self, article_id: int) -> dict[str, int]:
        """Return each content hash the article has had, mapped to the first version that had it."""
        rows = self._rows(
            "SELECT content_hash, MIN(version) FROM versions WHERE article_id = ? GROUP BY content_hash", (article_id,)
        )
        return {row[0]: int(row[1]) for row in rows}

    def export_rows(self, source_id: str | None = None) -> Iterator[tuple[ArticleState, VersionRecord]]:
        """Yield each article that has content, with its latest version, ordered by source then first seen."""
        columns = ", ".join(f"a.{c}" for c in _ARTICLE_COLUMNS)
        where = "a.version > 0" + (" AND a.source_id = ?" if source_id else "")
        rows = self._rows(
            f"SELECT {columns}, v.version, v.fetched_at, v.title, v.published, v.body_text, v.content_hash, v.same_as,"
            f" {'NULL' if self._reader == 'NULL' else 'v.reader'}"
            " FROM articles a JOIN versions v ON v.article_id = a.id AND v.version = a.version"
            f" WHERE {where} ORDER BY a.source_id, a.first_seen, a.id",
            (source_id,) if source_id else (),
        )
        width = len(_ARTICLE_COLUMNS)
        for row in rows:
            yield _record(ArticleState, _ARTICLE_COLUMNS, row[:width]), _version(row[width:], None)

    def count_versions(self) -> int:
        """Return how many versions are stored in all."""
        return int(self._rows("SELECT COUNT(*) FROM versions")[0][0])

    # events and outbox
    def add_event(self, event: EventRecord, webhook_ids: list[str], order_key: str) -> None:
        """Store an event and one pending delivery per webhook, in the caller's transaction."""
        with self.transaction():
            self._execute(
                "INSERT INTO events (id, type, source_id, article_url, created_at, body) VALUES (?, ?, ?, ?, ?, ?)",
                (event.id, event.type, event.source_id, event.article_url, to_db_time(event.created_at), event.body),
            )
            for webhook_id in webhook_ids:
                self._execute(
                    "INSERT INTO deliveries (event_id, webhook_id, order_key, state, created_at, next_attempt_at,"
                    " attempts) VALUES (?, ?, ?, 'pending', ?, ?, 0)",
                    (event.id, webhook_id, order_key, to_db_time(event.created_at), to_db_time(event.created_at)),
                )

    def events(
        self, *, since: datetime | None = None, type: str | None = None, source_id: str | None = None
    ) -> Iterator[EventRecord]:
        """Yield stored events oldest first, filtered."""
        clauses, params = _filters(("created_at >=", to_db_time(since)), ("type =", type), ("source_id =", source_id))
        rows = self._rows(
            f"SELECT id, type, source_id, created_at, body, article_url, seq FROM events{clauses} ORDER BY seq", params
        )
        for row in rows:
            yield _event(row)

    def event(self, event_id: str) -> EventRecord | None:
        """Return one event, or None."""
        rows = self._rows(
            "SELECT id, type, source_id, created_at, body, article_url, seq FROM events WHERE id = ?", (event_id,)
        )
        return _event(rows[0]) if rows else None

    def due_deliveries(self, now: datetime, limit: int, webhook_id: str | None = None) -> list[DeliveryRecord]:
        """Return pending deliveries whose time has come and that head their (webhook, order key) queue."""
        columns = ", ".join(f"d.{c}" for c in _DELIVERY_COLUMNS)
        only = " AND d.webhook_id = ?" if webhook_id is not None else ""
        rows = self._rows(
            f"SELECT {columns} FROM deliveries d WHERE d.state = 'pending' AND d.next_attempt_at <= ?{only}"
            " AND (d.lease_until IS NULL OR d.lease_until <= ?)"
            " AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.state = 'pending' AND e.webhook_id = d.webhook_id"
            " AND e.order_key = d.order_key AND e.id < d.id) ORDER BY d.id LIMIT ?",
            (to_db_time(now), *((webhook_id,) if webhook_id is not None else ()), to_db_time(now), limit),
        )
        return [_record(DeliveryRecord, _DELIVERY_COLUMNS, row) for row in rows]

    def next_due(self, webhook_id: str | None = None) -> datetime | None:
        """Return the earliest next attempt time among queue heads of pending deliveries (of one webhook), or None."""
        only = " AND d.webhook_id = ?" if webhook_id is not None else ""
        rows = self._rows(
            f"SELECT MIN(d.next_attempt_at) FROM deliveries d WHERE d.state = 'pending'{only}"
            " AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.state = 'pending' AND e.webhook_id = d.webhook_id"
            " AND e.order_key = d.order_key AND e.id < d.id)",
            (webhook_id,) if webhook_id is not None else (),
        )
        return from_db_time(rows[0][0])

    def deliveries(self, *, state: str | None = None, webhook_id: str | None = None) -> list[DeliveryRecord]:
        """Return outbox rows, oldest first, filtered."""
        clauses, params = _filters(("state =", state), ("webhook_id =", webhook_id))
        rows = self._rows(f"SELECT {', '.join(_DELIVERY_COLUMNS)} FROM deliveries{clauses} ORDER BY id", params)
        return [_record(DeliveryRecord, _DELIVERY_COLUMNS, row) for row in rows]

    def save_delivery(self, delivery: DeliveryRecord) -> None:
        """Record the outcome of an attempt."""
        columns = _DELIVERY_COLUMNS[4:]
        sets = ", ".join(f"{c} = ?" for c in columns)
        params = tuple(_to_db(c, getattr(delivery, c)) for c in columns)
        # Recording the outcome ends this process's claim on the row (storage/lease.py).
        self._execute(
            f"UPDATE deliveries SET {sets}, claimed_by = NULL, lease_until = NULL WHERE id = ?", (*params, delivery.id)
        )

    def requeue(self, *, event_ids: list[str] | None, failed: bool, webhook_id: str | None, now: datetime) -> int:
        """Make matching deliveries pending again, due now; return how many."""
        clauses, params = _filters(("state =", "failed" if failed else None), ("webhook_id =", webhook_id))
        update = f"UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, created_at = ?{clauses}"
        stamps = (to_db_time(now), to_db_time(now))
        if not event_ids:
            return int(self._execute(update, (*stamps, *params)).rowcount)
        update += (" AND " if clauses else " WHERE ") + "event_id IN ({marks})"
        count = 0
        for start in range(0, len(event_ids), IN_CHUNK):
            chunk = tuple(event_ids[start : start + IN_CHUNK])
            count += int(
                self._execute(update.format(marks=", ".join("?" for _ in chunk)), (*stamps, *params, *chunk)).rowcount
            )
        return count

    def outbox_summary(self, now: datetime) -> tuple[int, float]:
        """Return the number of pending deliveries and the age in seconds of the oldest one."""
        count, oldest = self._rows("SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE state = 'pending'")[0]
        first = from_db_time(oldest)
        return int(count), (now - first).total_seconds() if first else 0.0
