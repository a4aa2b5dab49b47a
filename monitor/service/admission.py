"""Which due polls may start now: a few per host at once; the others wait their turn, in the order they fell due.

A poll waiting here costs a queue entry, not a running task holding its source's state and a place in the fetcher's
queues: with thousands of sources due together, that is most of the daemon's memory. Pure bookkeeping, no loop.
"""

from __future__ import annotations

from collections import deque

__all__ = ["POLLS_PER_HOST_SLOT", "Admission"]

# Polls of one host that may run at once, per request slot the host allows (`host_concurrency`): one more poll than
# slots keeps the host's slots busy while another poll parses or writes, and its requests already queue in the
# fetcher behind the host's limit and delay.
POLLS_PER_HOST_SLOT = 2


class Admission:
    """Counts the running polls per host and queues the source ids that must wait (never one source twice)."""

    def __init__(self) -> None:
        self._running: dict[str, int] = {}
        self._waiting: dict[str, deque[str]] = {}
        self._queued: set[str] = set()

    def __contains__(self, source_id: object) -> bool:
        """Return whether the source is waiting for a slot."""
        return source_id in self._queued

    @property
    def waiting(self) -> int:
        """Return how many polls are waiting."""
        return len(self._queued)

    def admit(self, source_id: str, host: str, limit: int) -> bool:
        """Return True if the poll may start now (it then counts as running), else queue it behind the host's others."""
        running = self._running.get(host, 0)
        if running < limit and host not in self._waiting:
            self._running[host] = running + 1
            return True
        self._waiting.setdefault(host, deque()).append(source_id)
        self._queued.add(source_id)
        return False

    def release(self, host: str) -> str | None:
        """Note that a poll of `host` ended; return the waiting source that takes its slot (now running), or None."""
        queue = self._waiting.get(host)
        if queue:
            source_id = queue.popleft()
            self._queued.discard(source_id)
            if not queue:
                del self._waiting[host]
            return source_id
        running = self._running.get(host, 0) - 1
        if running > 0:
            self._running[host] = running
        else:
            self._running.pop(host, None)
        return None

    def clear(self) -> int:
        """Forget every waiting poll (at shutdown); return how many there were."""
        dropped = len(self._queued)
        self._waiting.clear()
        self._queued.clear()
        return dropped
