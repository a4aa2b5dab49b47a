"""PostgreSQL backend for larger deployments: the same schema and SQL as SQLite, through psycopg 3."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from storage.errors import IntegrityError, SchemaError, StorageError, StorageUnavailableError, StoreBusyError
from storage.lease import missing_lease_columns
from storage.reads import ReadingStore, char_pairs, like_pattern, search_doc
from storage.sql import ADDED_COLUMNS
from storage.sqlite import SCHEMA_VERSION, schema_script

__all__ = ["PostgresStore", "advisory_key", "connect", "open_postgres"]

SERVICE_LOCKS = 707071  # the advisory-lock class of running services (707070 guards schema creation)


# One row per article: its latest title and body, lower-cased once (reads.search_doc) so a search's recheck is a
# plain LIKE (ILIKE folds case on every row it reads, ~10x slower); pg_trgm's GIN index serves LIKE '%word%' for words
# of 3+ characters, and `pairs` (reads.char_pairs as a tsvector, whose GIN index needs no recheck) terms of two.
SEARCH_VERSION = "3"
SEARCH_TABLE = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE IF NOT EXISTS search_text (
    article_id BIGINT PRIMARY KEY REFERENCES articles (id), doc TEXT NOT NULL, pairs TSVECTOR NOT NULL
);
"""
SEARCH_INDEXES = """
CREATE INDEX IF NOT EXISTS search_text_trgm ON search_text USING GIN (doc gin_trgm_ops);
CREATE INDEX IF NOT EXISTS search_text_pairs ON search_text USING GIN (pairs);
"""
BACKFILL_SQL = (
    "SELECT a.id, v.title, v.body_text FROM articles a JOIN versions v ON v.article_id = a.id AND v.version = a.version"
)
INSERT_SQL = "INSERT INTO search_text (article_id, doc, pairs) VALUES (%s, %s, array_to_tsvector(%s::text[]))"
BACKFILL_BATCH = 1000
# Newest first: the newest rows are read in order until enough match (a common word stops early), further if those
# held some; only when they do not hold enough do the indexes answer (a rare word). Each row read costs its text.
RECENT_ROWS = 100
MAX_RECENT_ROWS = 1000
PAIR_CANDIDATES = 3000  # at most this many candidates of the pairs index are listed and read newest first
RECHECK_CHUNK = 50


def _tsquery(pairs: list[str]) -> str:
    """Return a tsquery asking for every pair, each quoted (quotes and backslashes doubled) so it is taken as is."""
    return " & ".join("'" + pair.replace("\\", "\\\\").replace("'", "''") + "'" for pair in pairs)


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
            self._connection = connect(self._url)
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
        key = advisory_key(config_id, 4)
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
        doc = search_doc(title, text)
        self._execute(
            f"{INSERT_SQL.replace('%s', '?')} ON CONFLICT (article_id) DO UPDATE SET doc = excluded.doc,"
            " pairs = excluded.pairs",
            (article_id, doc, char_pairs(doc)),
        )

    def _search_ids(self, terms: list[str], *, limit: int, offset: int, source_id: str | None) -> list[int]:
        lowered = [t.lower() for t in terms]
        search = _Search(
            likes=" AND ".join("doc LIKE ?" for _ in lowered),
            patterns=tuple(like_pattern(t) for t in lowered),
            only=" AND article_id IN (SELECT id FROM articles WHERE source_id = ?)" if source_id is not None else "",
            source=(source_id,) if source_id is not None else (),
            wanted=offset + limit,
        )
        found = self._recent_ids(search, RECENT_ROWS)
        if found and len(found) < search.wanted:  # a frequent word: read on, as far as it should take
            rows = RECENT_ROWS * search.wanted * 3 // (2 * len(found))
            if rows <= MAX_RECENT_ROWS:
                found += self._recent_ids(search, rows - RECENT_ROWS, skip=RECENT_ROWS)
        if len(found) < search.wanted:
            # Only the GIN indexes may answer (read as bitmaps). Left to choose, the planner reads rows newest first
            # and unpacks each one's text or pairs whenever it guesses many matches: psycopg prepares a query run
            # five times, and its generic plan cannot see the word (zzqqxxyy then took 3.7 s at 100,000 articles);
            # a pair without statistics (zq) is guessed at 500 matches (1.9 s).
            # (Inside a caller's transaction the settings would outlive the search, so there the planner chooses.)
            outer = self._depth > 0
            with self.transaction():
                if not outer:
                    self._execute(
                        "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true)"
                    )
                found = self._indexed_ids(lowered, search)
        return found[offset : search.wanted]

    def _recent_ids(self, search: _Search, rows: int, skip: int = 0) -> list[int]:
        """Return the ids that match among the `rows` newest after the `skip` newest, newest first."""
        # The OFFSET fence keeps the planner from turning the newest-rows scan into an index search; skipped rows
        # cost no text (it is read only by the LIKE).
        return self._ids(
            f"SELECT article_id FROM (SELECT article_id, doc FROM search_text WHERE TRUE{search.only}"
            f" ORDER BY article_id DESC LIMIT ? OFFSET ?) recent WHERE {search.likes} ORDER BY article_id DESC LIMIT ?",
            (*search.source, rows, skip, *search.patterns, search.wanted),
        )

    def _indexed_ids(self, terms: list[str], search: _Search) -> list[int]:
        """Return the matching ids newest first (at least `wanted` of them if there are), through the indexes."""
        pairs = sorted({term[i : i + 2] for term in terms for i in range(len(term) - 1)})
        exact = bool(pairs) and all(len(term) == 2 for term in terms)  # then the pairs answer: no text to recheck
        if pairs:
            # The pairs index needs no recheck, so listing its candidates costs no text; if they are few, only the
            # newest of them are read and matched. A term whose pairs are all common (mm042424: mm, m0, 04, ...)
            # has too many candidates and goes to the trigram index instead.
            candidates = self._pair_candidates(_tsquery(pairs), search)
            if len(candidates) <= PAIR_CANDIDATES:
                newest = sorted(candidates, reverse=True)
                return newest if exact else self._recheck(newest, search)
        params: tuple[str, ...]
        if exact:  # many matches
            where, params = "pairs @@ ?::tsquery", (_tsquery(pairs),)
        elif any(len(term) >= 3 for term in terms) or not pairs:
            where, params = search.likes, search.patterns
        else:  # terms of one and two characters only: the pairs find the candidates, LIKE the one-character terms
            where, params = f"{search.likes} AND pairs @@ ?::tsquery", (*search.patterns, _tsquery(pairs))
        return self._ids(
            f"SELECT article_id FROM search_text WHERE {where}{search.only} ORDER BY article_id DESC LIMIT ?",
            (*params, *search.source, search.wanted),
        )

    def _pair_candidates(self, query: str, search: _Search) -> list[int]:
        """Return up to PAIR_CANDIDATES + 1 ids (in no order) of articles holding every pair of `query`."""
        return self._ids(
            f"SELECT article_id FROM search_text WHERE pairs @@ ?::tsquery{search.only} LIMIT ?",
            (query, *search.source, PAIR_CANDIDATES + 1),
        )

    def _recheck(self, candidates: list[int], search: _Search) -> list[int]:
        """Return the candidates (newest first) whose text matches, reading them a chunk at a time until enough."""
        found: list[int] = []
        chunk = max(2 * search.wanted, RECHECK_CHUNK)
        for start in range(0, len(candidates), chunk):
            rows = self._ids(
                "SELECT article_id FROM (SELECT article_id, doc FROM search_text WHERE article_id = ANY(?) OFFSET 0)"
                f" chunk WHERE {search.likes}",
                (candidates[start : start + chunk], *search.patterns),
            )
            found += sorted(rows, reverse=True)
            if len(found) >= search.wanted:
                break
        return found

    def _ids(self, text: str, params: tuple[object, ...]) -> list[int]:
        return [int(row[0]) for row in self._rows(text, params)]


@dataclass(frozen=True, slots=True)
class _Search:
    likes: str  # "doc LIKE ? AND ..." for every term
    patterns: tuple[str, ...]
    only: str  # the source filter, or ""
    source: tuple[str, ...]  # its parameter
    wanted: int  # offset + limit


def advisory_key(text: str, size: int) -> int:
    """Return the advisory-lock key of `text`, the same in every process: a signed int of `size` bytes (4: one of a
    two-int4 key, 8: a bigint key)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:size], "big", signed=True)


def connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """Return an autocommit connection, or raise StorageUnavailableError in one line."""
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise StorageUnavailableError(f"cannot connect to PostgreSQL: {str(exc).strip()}") from exc


def open_postgres(url: str) -> PostgresStore:
    """Connect to PostgreSQL at `url` and create the schema if needed; raise StorageUnavailableError if unreachable."""
    conn = connect(url)
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
        conn.execute(SEARCH_TABLE)
        with conn.cursor(name="search_backfill") as articles, conn.cursor() as writer:
            articles.execute(BACKFILL_SQL)
            while batch := articles.fetchmany(BACKFILL_BATCH):
                docs = [(article_id, search_doc(str(title), str(text))) for article_id, title, text in batch]
                writer.executemany(INSERT_SQL, [(article_id, doc, char_pairs(doc)) for article_id, doc in docs])
        conn.execute(SEARCH_INDEXES)  # built once over the filled table, faster than row by row
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('search_index', %s) ON CONFLICT (key) DO UPDATE SET value = %s",
            (SEARCH_VERSION, SEARCH_VERSION),
        )
