"""PostgreSQL backend for larger deployments: the same schema and SQL as SQLite, through psycopg 3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from storage.errors import IntegrityError, SchemaError, StorageError, StorageUnavailableError
from storage.sql import ADDED_COLUMNS, SqlStore
from storage.sqlite import SCHEMA_VERSION, schema_script

__all__ = ["PostgresStore", "open_postgres"]


class PostgresStore(SqlStore):
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
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', %s)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise SchemaError(f"database schema version {row[0]} is not {SCHEMA_VERSION}")
            for table, column, kind in ADDED_COLUMNS:  # schema 1's later columns, added to an older database
                conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(707070)")
    return store
