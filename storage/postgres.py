"""PostgreSQL backend for larger deployments: the same schema and SQL as SQLite, through psycopg 3."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from storage.errors import IntegrityError, SchemaError, StorageError, StorageUnavailableError, StoreBusyError
from storage.lease import missing_lease_columns
from storage.reads import ReadingStore, like_pattern
from storage.sql import ADDED_COLUMNS
from storage.sqlite import SCHEMA_VERSION, schema_script

__all__ = ["PostgresStore", "open_postgres"]

SERVICE_LOCKS = 707071  # the advisory-lock class of running services (707070 guards schema creation)


# One row per article: its latest title and body, lower-cased once here so a search's recheck is a plain LIKE (ILIKE
# folds case on every row it reads, ~10x slower); pg_trgm's GIN index serves LIKE '%word%' for words of 3+ characters.
SEARCH_VERSION = "2"
SEARCH_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE IF NOT EXISTS search_text (article_id BIGINT PRIMARY KEY REFERENCES articles (id), doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS search_text_trgm ON search_text USING GIN (doc gin_trgm_ops);
"""
BACKFILL_SQL = (
    "INSERT INTO search_text (article_id, doc) SELECT a.id, lower(v.title || ' ' || v.body_text) FROM articles a"
    " JOIN versions v ON v.article_id = a.id AND v.version = a.version ON CONFLICT (article_id) DO NOTHING"
)
# Newest first: the newest rows are read in order until enough match (a common word stops early); only when they
# do not hold enough does the trigram index answer, and then over few candidates (a rare word).
RECENT_ROWS = 500


class PostgresStore(ReadingStore):
    """The Store protocol on a PostgreSQL database; a lost connection is re-opened on the next call."""

    placeholder = "%s"
    _connection: psycopg.Connection[tuple[object, ...]]

    def __init__(self, connection: psycopg.Connection[tuple[object, ...]], url: str) -> None:
        self._url = url
        super().__init__(connection)

    @property
    def _conn(self) -> psycopg.Connection[tuple[object, ...]]:
        # After a server restart or a killed backend the call in flight fails (StorageUnavailableError) and psycopg
        # marks the connection closed; the next call, outside a transaction, connects afresh.
        if self._connection.closed and not self._depth:
            self._connection = _connect(self._url)
        return self._connection

    @_conn.setter
    def _conn(self, value: psycopg.Connection[tuple[object, ...]]) -> None:
        self._connection = value

    def close(self) -> None:
        """Release the connection (without re-opening a lost one first)."""
        with self.translate_errors():
            self._connection.close()

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        """Turn psycopg errors into StorageError subclasses."""
        try:
            yield
        except psycopg.IntegrityError as exc:
            raise IntegrityError(str(exc).strip()) from exc
        except psycopg.OperationalError as exc:
            raise StorageUnavailableError(f"postgresql: {str(exc).strip()}") from exc
        except psycopg.Error as exc:
            raise StorageError(f"postgresql: {str(exc).strip()}") from exc

    def _begin(self) -> None:
        self._conn.execute("BEGIN")

    def claim_service(self, config_id: str) -> None:
        """Hold a shared advisory lock naming our config for the session; refuse if another config holds one.

        Services of one config may share a database (a fleet, later); services of two configs would poll and
        deliver each other's sources. The lock ends with the session (a lost connection drops it).
        """
        key = _config_key(config_id)
        with self.translate_errors():
            self._conn.execute("SELECT pg_advisory_lock_shared(%s, %s)", (SERVICE_LOCKS, key))
            others = self._conn.execute(
                # Advisory locks are per database, but pg_locks shows the whole cluster's: another database's
                # service (another deployment, or another test's database) is none of ours.
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objsubid = 2"
                " AND objid <> (%s::bigint & 4294967295)::oid AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (SERVICE_LOCKS, key),
            ).fetchall()
        if others:
            with self.translate_errors():
                self._conn.execute("SELECT pg_advisory_unlock_shared(%s, %s)", (SERVICE_LOCKS, key))
            raise StoreBusyError(
                f"a monitor service with another config already uses this database (backend pid {others[0][0]})"
            )

    def _index_text(self, article_id: int, title: str, text: str) -> None:
        self._execute(
            "INSERT INTO search_text (article_id, doc) VALUES (?, lower(? || ' ' || ?)) ON CONFLICT (article_id)"
            " DO UPDATE SET doc = excluded.doc",
            (article_id, title, text),
        )

    def _search_ids(self, terms: list[str], *, limit: int, offset: int, source_id: str | None) -> list[int]:
        matches = " AND ".join("doc LIKE lower(?)" for _ in terms)
        params: list[object] = [like_pattern(t) for t in terms]
        only = " AND article_id IN (SELECT id FROM articles WHERE source_id = ?)" if source_id is not None else ""
        extra: tuple[object, ...] = (source_id,) if source_id is not None else ()
        wanted = offset + limit
        # The OFFSET 0 fence keeps the planner from turning the newest-rows scan into an index search.
        recent = self._rows(
            f"SELECT article_id FROM (SELECT article_id, doc FROM search_text WHERE TRUE{only}"
            f" ORDER BY article_id DESC LIMIT ? OFFSET 0) recent WHERE {matches} ORDER BY article_id DESC LIMIT ?",
            (*extra, RECENT_ROWS, *params, wanted),
        )
        if len(recent) < wanted:
            recent = self._rows(
                f"SELECT article_id FROM search_text WHERE {matches}{only} ORDER BY article_id DESC LIMIT ?",
                (*params, *extra, wanted),
            )
        return [int(row[0]) for row in recent[offset:wanted]]


def _config_key(config_id: str) -> int:
    """Return a signed 32-bit key for the config (advisory locks take two int4 keys)."""
    return int.from_bytes(hashlib.sha256(config_id.encode()).digest()[:4], "big", signed=True)


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise StorageUnavailableError(f"cannot connect to PostgreSQL: {str(exc).strip()}") from exc


def open_postgres(url: str) -> PostgresStore:
    """Connect to PostgreSQL at `url` and create the schema if needed; raise StorageUnavailableError if unreachable."""
    conn = _connect(url)
    store = PostgresStore(conn, url)
    with store.translate_errors():
        conn.execute("SELECT pg_advisory_lock(707070)")
        try:
            conn.execute(schema_script("BYTEA", "BIGSERIAL PRIMARY KEY"))
            for statement in missing_lease_columns(set()):
                conn.execute(statement.replace("ADD COLUMN", "ADD COLUMN IF NOT EXISTS"))
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', %s)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise SchemaError(f"database schema version {row[0]} is not {SCHEMA_VERSION}")
            for table, column, kind in ADDED_COLUMNS:  # schema 1's later columns, added to an older database
                conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
            _ensure_search(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(707070)")
    return store


def _ensure_search(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Create the search index, filling it from the stored articles once (a store made before search existed)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'search_index'").fetchone()
    if row is not None and row[0] == SEARCH_VERSION:
        return
    with conn.transaction():
        conn.execute("DROP TABLE IF EXISTS search_text")  # an index of an older shape is rebuilt from the versions
        conn.execute(SEARCH_SCHEMA)
        conn.execute(BACKFILL_SQL)
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('search_index', %s) ON CONFLICT (key) DO UPDATE SET value = %s",
            (SEARCH_VERSION, SEARCH_VERSION),
        )
