"""PostgreSQL backend for larger deployments: the same schema and SQL as SQLite, through psycopg 3."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from storage.errors import IntegrityError, SchemaError, StorageError, StorageUnavailableError, StoreBusyError
from storage.lease import missing_lease_columns
from storage.sql import SqlStore
from storage.sqlite import SCHEMA_VERSION, schema_script

__all__ = ["PostgresStore", "open_postgres"]

SERVICE_LOCKS = 707071  # the advisory-lock class of running services (707070 guards schema creation)


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
        finally:
            conn.execute("SELECT pg_advisory_unlock(707070)")
    return store
