"""SQLite backend (the default): one file, WAL journal, every check's writes in short transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from storage.errors import IntegrityError, SchemaError, StorageError, StorageUnavailableError
from storage.lease import missing_lease_columns
from storage.reads import ReadingStore, char_pairs, like_pattern, search_doc
from storage.sql import ADDED_COLUMNS
from storage.writer import WriterLock

__all__ = ["SCHEMA_VERSION", "SqliteStore", "open_sqlite"]

SCHEMA_VERSION = "1"


# One row per article (rowid = article id), its latest title and body; trigrams match any substring of 3+ characters.
SEARCH_SCHEMA = "CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(title, body, tokenize='trigram')"
BACKFILL_SQL = (
    "INSERT INTO search_text (rowid, title, body) SELECT a.id, v.title, v.body_text FROM articles a"
    " JOIN versions v ON v.article_id = a.id AND v.version = a.version"
)
# The same articles' character pairs (reads.char_pairs), for terms of two characters. Contentless, without positions:
# only which articles hold a pair is kept. Pairs are written as hex code points (`_pair_token`) so that the ascii
# tokenizer reads each as one token whatever its characters (punctuation included).
PAIRS_SCHEMA = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_pairs USING fts5(pairs, content='', detail='none', tokenize='ascii')"
)
SEARCH_VERSION = "2"  # 1: search_text only; 2: search_pairs too


def _pair_token(pair: str) -> str:
    return f"{ord(pair[0]):x}x{ord(pair[1]):x}"


def _pair_tokens(title: str, text: str) -> str:
    doc = search_doc(title, text)
    hexes = {char: f"{ord(char):x}" for char in set(doc)}
    return " ".join(f"{hexes[pair[0]]}x{hexes[pair[1]]}" for pair in char_pairs(doc))


class SqliteStore(ReadingStore):
    """The Store protocol on a SQLite file."""

    placeholder = "?"

    def __init__(
        self, connection: sqlite3.Connection, path: str = ":memory:", *, missing: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(connection, missing=missing)
        self._pairs = "search_pairs" not in missing
        self._writer = WriterLock(path) if path != ":memory:" else None

    def claim_writer(self, wait_s: float) -> None:
        """Become the file's one polling writer, waiting up to `wait_s`; raise StoreBusyError if another stays."""
        if self._writer is not None:
            self._writer.acquire(wait_s)

    def close(self) -> None:
        """Release the connection and the writer lock."""
        try:
            super().close()
        finally:
            if self._writer is not None:
                self._writer.release()

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        """Turn sqlite3 errors into StorageError subclasses."""
        try:
            yield
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        except sqlite3.OperationalError as exc:
            raise StorageUnavailableError(f"sqlite: {exc}") from exc
        except sqlite3.Error as exc:
            raise StorageError(f"sqlite: {exc}") from exc

    def _index_text(self, article_id: int, title: str, text: str) -> None:
        old = self._rows("SELECT title, body FROM search_text WHERE rowid = ?", (article_id,))
        if old:  # a contentless table forgets a row only when given the tokens it was indexed with
            self._execute(
                "INSERT INTO search_pairs (search_pairs, rowid, pairs) VALUES ('delete', ?, ?)",
                (article_id, _pair_tokens(*old[0])),
            )
            self._execute("DELETE FROM search_text WHERE rowid = ?", (article_id,))
        self._execute("INSERT INTO search_text (rowid, title, body) VALUES (?, ?, ?)", (article_id, title, text))
        self._execute("INSERT INTO search_pairs (rowid, pairs) VALUES (?, ?)", (article_id, _pair_tokens(title, text)))

    def _search_ids(self, terms: list[str], *, limit: int, offset: int, source_id: str | None) -> list[int]:
        # Terms of 3+ characters go through the trigram index; without one, terms of two go through the pairs. FTS5
        # returns either index's rows newest first and stops at the page. Other terms are matched by LIKE on the rows
        # the index leaves, newest first (asking the pairs for each of the trigram index's rows costs seconds).
        long_terms = [t for t in terms if len(t) >= 3]
        pairs = [] if long_terms or not self._pairs else [t.lower() for t in terms if len(t) == len(t.lower()) == 2]
        likes = [t for t in terms if len(t) < 3 and t.lower() not in pairs]
        if pairs:  # a store opened read-only before the pairs existed scans instead
            key, tables = "p.rowid", "search_pairs p" + (" JOIN search_text t ON t.rowid = p.rowid" if likes else "")
            clauses = ["p.search_pairs MATCH ?"]
            params: list[object] = [" ".join(_pair_token(pair) for pair in pairs)]
        else:
            key, tables, clauses, params = "t.rowid", "search_text t", [], []
        if long_terms:
            clauses.append("t.search_text MATCH ?")
            params.append(" ".join('"' + t.replace('"', '""') + '"' for t in long_terms))
        for term in likes:
            clauses.append("(t.title LIKE ? ESCAPE '\\' OR t.body LIKE ? ESCAPE '\\')")
            params += [like_pattern(term)] * 2
        if source_id is not None:
            clauses.append(f"{key} IN (SELECT id FROM articles WHERE source_id = ?)")
            params.append(source_id)
        rows = self._rows(
            f"SELECT {key} FROM {tables} WHERE {' AND '.join(clauses)} ORDER BY {key} DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [int(row[0]) for row in rows]

    def _begin(self) -> None:
        # IMMEDIATE takes the write lock up front, so a second process waits (busy_timeout) instead of failing late.
        self._conn.execute("BEGIN IMMEDIATE")


def schema_script(blob: str, serial: str) -> str:
    """Return the shared schema with the backend's type names filled in."""
    text = resources.files("storage").joinpath("schema.sql").read_text(encoding="utf-8")
    return text.replace("{blob}", blob).replace("{serial}", serial)


def open_sqlite(path: str, read_only: bool = False) -> SqliteStore:
    """Open (creating if needed) the SQLite database at `path`; raise StorageUnavailableError if it cannot.

    `read_only` opens an existing database for reading only: it never creates the file or its folder, and any write
    fails; a missing file raises StorageUnavailableError.
    """
    if read_only:
        return _open_read_only(path)
    if path != ":memory:":
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailableError(f"cannot create the folder for {path}: {exc.strerror}") from exc
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StorageUnavailableError(f"cannot open {path}: {exc}") from exc
    store = SqliteStore(conn, path)
    with store.translate_errors():
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode survives a killed process (kill -9); only an OS crash can lose the last commit.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.executescript(schema_script("BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"))
        columns = {row[1] for row in conn.execute("PRAGMA table_info(deliveries)")}
        for statement in missing_lease_columns(columns):
            conn.execute(statement)
        _add_columns(conn)
        _check_version(conn)
    with store.transaction(), store.translate_errors():
        _ensure_search(conn)
    return store


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _add_columns(conn: sqlite3.Connection) -> None:
    """Add the columns schema 1 gained after it shipped to an older database (idempotent)."""
    for table, column, kind in ADDED_COLUMNS:
        if column not in _columns(conn, table):
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _open_read_only(path: str) -> SqliteStore:
    if path == ":memory:" or not Path(path).is_file():
        raise StorageUnavailableError(
            f"no database at {path} yet: nothing has been checked (run `monitor check` or `monitor run` first)"
        )
    try:
        conn = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=30)
    except sqlite3.Error as exc:
        raise StorageUnavailableError(f"cannot open {path}: {exc}") from exc
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        raise SchemaError(f"{path} is not a ministry-monitor database ({exc})") from exc
    if row is None or row[0] != SCHEMA_VERSION:
        conn.close()
        raise SchemaError(f"database schema version {row and row[0]} is not {SCHEMA_VERSION}; upgrade ministry-monitor")
    missing = {f"{t}.{c}" for t, c, _kind in ADDED_COLUMNS if c not in _columns(conn, t)}
    search = conn.execute("SELECT value FROM meta WHERE key = 'search_index'").fetchone()
    if search is None or search[0] != SEARCH_VERSION:
        missing.add("search_pairs")  # the next read-write open builds it; until then two-character terms scan
    return SqliteStore(conn, missing=frozenset(missing))


def _ensure_search(conn: sqlite3.Connection) -> None:
    """Create the search index, filling it from the stored articles once (a store made before search existed), and
    the pairs index from it (a store made before the pairs existed)."""
    conn.execute(SEARCH_SCHEMA)
    row = conn.execute("SELECT value FROM meta WHERE key = 'search_index'").fetchone()
    if row is None:
        conn.execute("DELETE FROM search_text")
        conn.execute(BACKFILL_SQL)
    if row is None or row[0] != SEARCH_VERSION:
        conn.execute("DROP TABLE IF EXISTS search_pairs")
        conn.execute(PAIRS_SCHEMA)
        rows = conn.execute("SELECT rowid, title, body FROM search_text")
        conn.executemany(
            "INSERT INTO search_pairs (rowid, pairs) VALUES (?, ?)",
            ((rowid, _pair_tokens(title, body)) for rowid, title, body in rows),
        )
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('search_index', ?) ON CONFLICT (key) DO UPDATE SET value = ?",
            (SEARCH_VERSION, SEARCH_VERSION),
        )


def _check_version(conn: sqlite3.Connection) -> None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    elif row[0] != SCHEMA_VERSION:
        raise SchemaError(f"database schema version {row[0]} is not {SCHEMA_VERSION}; upgrade ministry-monitor")
