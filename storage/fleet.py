"""The fleet's coordination tables on PostgreSQL: its members, when each source is next due, its config and reloads.

Used only by `monitor run` on a `postgresql://` database, beside procrastinate's own tables (whose schema the caller
passes to `migrate`, so that this package imports nothing of procrastinate's or monitor's).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import LiteralString

import psycopg
from psycopg import sql

from storage.errors import StorageError, StorageUnavailableError
from storage.postgres import advisory_key, connect

__all__ = ["FLEET_SCHEMA", "FleetStore", "Member"]

FLEET_SCHEMA = """
CREATE TABLE IF NOT EXISTS fleet_members (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    polls BIGINT NOT NULL DEFAULT 0,
    config_hash TEXT NOT NULL,
    heartbeat_s DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS fleet_schedule (
    source_id TEXT PRIMARY KEY,
    due TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS fleet_schedule_due ON fleet_schedule (due);
CREATE TABLE IF NOT EXISTS fleet_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
_MIGRATION_LOCK = 707071
_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Member:
    """One `monitor run` process of the fleet, as it last reported itself."""

    id: str
    host: str
    pid: int
    started: datetime
    last_seen: datetime
    polls: int
    config_hash: str
    heartbeat_s: float


class FleetStore:
    """A connection of its own to the fleet's tables; a lost connection is re-opened on the next call."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._connection = connect(url)
        self._slots_held: dict[str, psycopg.Connection[tuple[object, ...]]] = {}

    def close(self) -> None:
        """Release the connection."""
        with _translate():
            self._connection.close()

    @property
    def _conn(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._connection.closed:
            self._connection = connect(self._url)
        return self._connection

    def migrate(self, queue_schema: LiteralString, queue_table: str) -> None:
        """Create the fleet's tables, and the queue's from `queue_schema` unless `queue_table` exists; idempotent."""
        with _translate():
            conn = self._conn
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                conn.execute(FLEET_SCHEMA)
                row = conn.execute("SELECT to_regclass(%s)", (queue_table,)).fetchone()
                if row is None or row[0] is None:
                    conn.execute(queue_schema)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))

    # -- batches in flight -----------------------------------------------------------------------------------
    def hold_slot(self, slot: str) -> bool:
        """Take the fleet-wide guard of a host slot's batch; return False if another member's session holds it.

        A session-level advisory lock on this store's connection: let go by `release_slot`, or by PostgreSQL when the
        connection ends (the member died, or lost its database), so a dead member never keeps a slot from others.
        It does not count re-entry from this member: the caller keeps one batch of a slot running at a time.
        """
        with _translate():
            connection = self._conn
            row = connection.execute("SELECT pg_try_advisory_lock(%s)", (_slot_key(slot),)).fetchone()
        held = bool(row is not None and row[0])
        if held:
            self._slots_held[slot] = connection
        return held

    def release_slot(self, slot: str) -> None:
        """Let go of a slot's guard taken by `hold_slot` (nothing to do if its connection has ended since)."""
        connection = self._slots_held.pop(slot, None)
        if connection is None or connection is not self._connection or connection.closed:
            return
        with contextlib.suppress(StorageUnavailableError), _translate():  # a lost connection took the guard with it
            connection.execute("SELECT pg_advisory_unlock(%s)", (_slot_key(slot),))

    # -- members --------------------------------------------------------------------------------------------
    def join(self, member: Member) -> None:
        """Record a process joining the fleet."""
        with _translate():
            self._conn.execute(
                "INSERT INTO fleet_members (id, host, pid, started, last_seen, polls, config_hash, heartbeat_s)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                dataclasses.astuple(member),
            )

    def heartbeat(self, member_id: str, now: datetime, polls: int, config_hash: str) -> None:
        """Record that a member is alive, how many polls it has done, and the config it runs."""
        with _translate():
            self._conn.execute(
                "UPDATE fleet_members SET last_seen = %s, polls = %s, config_hash = %s WHERE id = %s",
                (now, polls, config_hash, member_id),
            )

    def leave(self, member_id: str) -> None:
        """Remove a member that stopped cleanly."""
        with _translate():
            self._conn.execute("DELETE FROM fleet_members WHERE id = %s", (member_id,))

    def members(self, now: datetime) -> list[Member]:
        """Return the live members (seen within three of their heartbeats), oldest first; forget any silent a day."""
        with _translate():
            self._conn.execute("DELETE FROM fleet_members WHERE last_seen < now() - interval '1 day'")
            rows = self._conn.execute(
                "SELECT id, host, pid, started, last_seen, polls, config_hash, heartbeat_s FROM fleet_members"
                " WHERE last_seen >= %s - make_interval(secs => 3 * heartbeat_s) ORDER BY started, id",
                (now,),
            ).fetchall()
        return [Member(*row) for row in rows]  # type: ignore[arg-type]

    # -- the schedule ---------------------------------------------------------------------------------------
    def put_due(self, dues: Iterable[tuple[str, datetime]], *, replace: bool) -> None:
        """Set when sources are next due; with `replace=False` only for sources not scheduled yet."""
        action = "UPDATE SET due = EXCLUDED.due" if replace else "NOTHING"
        sql = f"INSERT INTO fleet_schedule (source_id, due) VALUES (%s, %s) ON CONFLICT (source_id) DO {action}"
        with _translate(), self._conn.transaction():
            self._conn.cursor().executemany(sql, list(dues))

    def remove(self, source_ids: Iterable[str]) -> None:
        """Stop scheduling sources."""
        ids = list(source_ids)
        with _translate():
            for start in range(0, len(ids), _CHUNK):
                self._conn.execute(
                    "DELETE FROM fleet_schedule WHERE source_id = ANY(%s)", (ids[start : start + _CHUNK],)
                )

    def keep_only(self, source_ids: Iterable[str]) -> None:
        """Stop scheduling every source not in `source_ids`."""
        with _translate():
            self._conn.execute("DELETE FROM fleet_schedule WHERE NOT (source_id = ANY(%s))", (list(source_ids),))

    def due_at(self, source_id: str) -> datetime | None:
        """Return when a source is next due, or None if it is not scheduled."""
        with _translate():
            row = self._conn.execute("SELECT due FROM fleet_schedule WHERE source_id = %s", (source_id,)).fetchone()
        return row[0] if row is not None else None  # type: ignore[return-value]

    def due(self, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        """Return up to `limit` sources due by `now` and their due times, earliest first."""
        with _translate():
            rows = self._conn.execute(
                "SELECT source_id, due FROM fleet_schedule WHERE due <= %s ORDER BY due LIMIT %s", (now, limit)
            ).fetchall()
        return [(str(source_id), due) for source_id, due in rows]  # type: ignore[misc]

    def queued_locks(self, queue_table: str) -> set[str]:
        """Return the queueing locks of the jobs waiting in `queue_table` (procrastinate's jobs table)."""
        query = sql.SQL("SELECT queueing_lock FROM {} WHERE status = 'todo' AND queueing_lock IS NOT NULL")
        with _translate():
            rows = self._conn.execute(query.format(sql.Identifier(queue_table))).fetchall()
        return {str(lock) for (lock,) in rows}

    # -- the fleet's config ---------------------------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        """Return the fleet's settings (its config's hash, the reload generation)."""
        with _translate():
            rows = self._conn.execute("SELECT key, value FROM fleet_settings").fetchall()
        return {str(key): str(value) for key, value in rows}

    def set_default(self, key: str, value: str) -> str:
        """Set a setting unless it is set; return its value."""
        with _translate():
            self._conn.execute(
                "INSERT INTO fleet_settings (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING", (key, value)
            )
        return self.settings()[key]

    def announce_config(self, config_hash: str) -> int:
        """Make `config_hash` the fleet's config and bump the reload generation; return the new generation."""
        with _translate(), self._conn.transaction():
            self._conn.execute(
                "INSERT INTO fleet_settings (key, value) VALUES ('config_hash', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (config_hash,),
            )
            row = self._conn.execute(
                "INSERT INTO fleet_settings (key, value) VALUES ('generation', '1') ON CONFLICT (key)"
                " DO UPDATE SET value = (fleet_settings.value::bigint + 1)::text RETURNING value"
            ).fetchone()
        return int(str(row[0])) if row is not None else 0


def _slot_key(slot: str) -> int:
    """Return the bigint advisory-lock key of a slot's batch (see FleetStore.hold_slot)."""
    return advisory_key(f"ministry-monitor slot\0{slot}", 8)


@contextmanager
def _translate() -> Iterator[None]:
    try:
        yield
    except psycopg.OperationalError as exc:
        raise StorageUnavailableError(f"postgresql: {str(exc).strip()}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"postgresql: {str(exc).strip()}") from exc
