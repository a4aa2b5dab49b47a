"""Processes sharing a store. Outbox leases: a delivery is sent only by the process that claimed it, until the
lease runs out; and the polling-writer claim (a no-op here: SQLite's backend overrides it with a file lock).

`monitor check`, `monitor redeliver` and the service may share one outbox; each claims a due row (an atomic
UPDATE that succeeds for one claimant) before sending it, and recording the outcome clears the claim. A process
that dies mid-send leaves a lease that expires, after which another process takes the row (at once, if the dead
process ran on the same host: the outbox checks the owner's pid).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = ["LEASE_COLUMNS", "LeaseMixin", "missing_lease_columns"]

LEASE_COLUMNS = ("claimed_by", "lease_until")


def missing_lease_columns(existing: set[str]) -> list[str]:
    """Return the ALTER TABLE statements that add the lease columns a deliveries table lacks (idempotent)."""
    return [f"ALTER TABLE deliveries ADD COLUMN {column} TEXT" for column in LEASE_COLUMNS if column not in existing]


class LeaseMixin:
    """claim_delivery and claim_writer for SqlStore (kept apart so the rules between processes live in one place)."""

    _execute: Callable[..., Any]

    def claim_delivery(self, delivery_id: int, owner: str, now: datetime, until: datetime) -> bool:
        """Claim a pending delivery for `owner` until `until`; return False if another holds a live lease on it."""
        from storage.sql import to_db_time

        cursor = self._execute(
            "UPDATE deliveries SET claimed_by = ?, lease_until = ? WHERE id = ? AND state = 'pending'"
            " AND (lease_until IS NULL OR lease_until <= ?)",
            (owner, to_db_time(until), delivery_id, to_db_time(now)),
        )
        return int(cursor.rowcount) == 1

    def lease_holders(self) -> set[str]:
        """Return the owners holding claims on pending deliveries (live or expired)."""
        rows = self._execute(
            "SELECT DISTINCT claimed_by FROM deliveries WHERE state = 'pending' AND claimed_by IS NOT NULL"
        ).fetchall()
        return {str(row[0]) for row in rows}

    def release_leases(self, owner: str) -> int:
        """Drop every claim `owner` holds (it is known to be dead); return how many."""
        cursor = self._execute(
            "UPDATE deliveries SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = ?", (owner,)
        )
        return int(cursor.rowcount)

    def expire_deliveries(self, webhook_id: str, created_before: datetime, now: datetime, reason: str) -> int:
        """Dead-letter the webhook's unclaimed pending deliveries created before `created_before`; return how many."""
        from storage.sql import to_db_time

        cursor = self._execute(
            "UPDATE deliveries SET state = 'failed', last_error = ? WHERE state = 'pending' AND webhook_id = ?"
            " AND created_at < ? AND (lease_until IS NULL OR lease_until <= ?)",
            (reason, webhook_id, to_db_time(created_before), to_db_time(now)),
        )
        return int(cursor.rowcount)

    def claim_writer(self, wait_s: float) -> None:
        """Become the store's one polling writer (the database arbitrates writers unless a backend says otherwise)."""

    def claim_service(self, config_id: str) -> None:
        """Register a running service of the config `config_id`; raise StoreBusyError if one of another config runs.

        A no-op here: SQLite's polling-writer lock already admits one service per file.
        """
