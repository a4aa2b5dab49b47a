"""Outbox timing: max_age enforced on schedule; backoff counts deferrals since the first attempt, not quick retries."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from daemonkit import wait_until
from receiver import Receiver, Reply
from test_outbox import add_events, hook, make_config

from monitor.app import utc_now
from monitor.delivery import Outbox, RetryPolicy
from monitor.delivery.outbox import deferral_count
from storage import Store, open_store

SLOW_BACKOFF = RetryPolicy(
    quick_retries=2, quick_initial_s=0.01, quick_max_s=0.02, backoff_base_s=60.0, backoff_cap_s=3600.0
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store("sqlite:///" + str(tmp_path / "monitor.db"))
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("elapsed_s", "deferral"),
    [(0.0, 1), (4.9, 1), (5.0, 1), (9.9, 1), (10.0, 2), (19.9, 2), (20.0, 3), (80.0, 5), (1e9, 28)],
)
def test_deferrals_are_counted_by_time_since_the_first_attempt(elapsed_s: float, deferral: int) -> None:
    assert deferral_count(elapsed_s, 5.0) == deferral


def test_quick_retries_do_not_grow_the_backoff(tmp_path: Path, store: Store) -> None:
    with Receiver(default=Reply(503)) as receiver:
        config = make_config(tmp_path, hook("a", receiver.url))
        add_events(store, 1, ["a"])

        async def once() -> None:
            async with httpx.AsyncClient(trust_env=False) as client:
                await Outbox(config, store, client, utc_now, policy=SLOW_BACKOFF).run_until_idle(5.0)

        before = utc_now()
        asyncio.run(once())
    (row,) = store.deliveries()
    assert row.attempts == 3  # one try and two quick retries
    # The first deferral waits base/2..base (60 s), as the first should; counting the 3 tries made it 240 s.
    assert row.next_attempt_at - before <= timedelta(seconds=61)


def test_max_age_is_enforced_on_schedule_not_at_the_next_attempt(tmp_path: Path, store: Store) -> None:
    with Receiver(default=Reply(503)) as receiver:
        config = make_config(tmp_path, hook("a", receiver.url, max_age="1s"))
        add_events(store, 1, ["a"])

        async def serve() -> None:
            stop = asyncio.Event()
            async with httpx.AsyncClient(trust_env=False) as client:
                outbox = Outbox(config, store, client, utc_now, policy=SLOW_BACKOFF)
                task = asyncio.create_task(outbox.run_forever(stop, poll_s=0.1))
                # The next attempt is 30-60 s away; the row must be dead-lettered once it is 1 s old.
                await asyncio.to_thread(wait_until, lambda: store.deliveries(state="failed"), 20, "expiry")
                stop.set()
                await asyncio.wait_for(task, 5.0)

        asyncio.run(serve())
        tries = len(receiver.requests)
    (row,) = store.deliveries()
    assert (row.state, row.last_error) == ("failed", "max age exceeded")
    assert tries == row.attempts == 3
