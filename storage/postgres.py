"""PostgreSQL backend for larger deployments: the same schema and SQL as SQLite, through psycopg 3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from storage.errors import IntegrityError, SchemaError, StorageError, StorageUnavailableError
from storage.sql import SqlStore
from storage.sqlite import SCHEMA_VERSION, schema_script

__all__ = ["PostgresStore", "open_postgres"]


class PostgresStore(SqlStore):
    """The Store protocol on a PostgreSQL database."""

    placeholder = "%s"

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


def open_postgres(url: str) -> PostgresStore:
    """Connect to PostgreSQL at `url` and create the schema if needed; raise StorageUnavailableError if unreachable."""
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise StorageUnavailableError(f"cannot connect to PostgreSQL: {str(exc).strip()}") from exc
    store = PostgresStore(conn)
    with store.translate_errors():
        conn.execute("SELECT pg_advisory_lock(707070)")
        try:
            conn.execute(schema_script("BYTEA", "BIGSERIAL PRIMARY KEY"))
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', %s)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise SchemaError(f"database schema version {row[0]} is not {SCHEMA_VERSION}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(707070)")
    return store
