"""Tests for monitor.delivery.outbox and its commands: a real SQLite store, real loopback receivers, real httpx."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from receiver import Receiver, Reply, Request
from standardwebhooks import Webhook

from monitor.app import utc_now
from monitor.commands.outbox_cli import COMMANDS
from monitor.config import Config, parse_config
from monitor.delivery import Outbox, OutboxStats, RetryPolicy
from monitor.events import encode_event, new_event_id
from storage import DeliveryRecord, EventRecord, Store, open_store

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
FAST = RetryPolicy(
    quick_retries=2,
    quick_initial_s=0.01,
    quick_max_s=0.02,
    quick_retry_after_max_s=1.0,
    backoff_base_s=0.05,
    backoff_cap_s=0.1,
)


def make_config(tmp_path: Path, *webhooks: dict[str, Any], monitor: dict[str, Any] | None = None) -> Config:
    data = {
        "monitor": {"database": f"sqlite:///{tmp_path / 'monitor.db'}", **(monitor or {})},
        "sources": [],
        "webhooks": list(webhooks),
    }
    return parse_config(data, path="test.toml", environ={"HOOK_SECRET": SECRET})


def hook(hook_id: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"id": hook_id, "url": url, "secret": "${HOOK_SECRET}", "timeout": "2s", **extra}


def make_event(n: int, key: str = "k", created: datetime | None = None) -> EventRecord:
    now = created or utc_now()
    event_id = new_event_id(now)
    payload = {"id": event_id, "type": "article.updated", "timestamp": now.isoformat(), "data": {"key": key, "n": n}}
    return EventRecord(id=event_id, type="article.updated", source_id="src", created_at=now, body=encode_event(payload))


def add_events(store: Store, count: int, webhook_ids: list[str], key: str = "k") -> list[EventRecord]:
    events = [make_event(n, key) for n in range(1, count + 1)]
    for event in events:
        store.add_event(event, webhook_ids, key)
    return events


def deliver(
    config: Config, store: Store, timeout_s: float = 5.0, policy: RetryPolicy = FAST, **options: Any
) -> OutboxStats:
    async def go() -> OutboxStats:
        async with httpx.AsyncClient(trust_env=False) as client:
            outbox = Outbox(config, store, client, utc_now, policy=policy, **options)
            return await outbox.run_until_idle(timeout_s)

    return asyncio.run(go())


def by_event(store: Store) -> dict[str, DeliveryRecord]:
    return {record.event_id: record for record in store.deliveries()}


def verify_all(requests: list[Request]) -> None:
    """Every request verifies, and any repeat of a webhook-id carries the very same body."""
    bodies: dict[str, bytes] = {}
    for request in requests:
        Webhook(SECRET).verify(request.body, request.headers)
        assert bodies.setdefault(request.headers["webhook-id"], request.body) == request.body
    assert len(set(bodies.values())) == len(bodies)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store("sqlite:///" + str(tmp_path / "monitor.db"))
    yield opened
    opened.close()


# -- delivery and retry --------------------------------------------------------------------------------------------
def test_receiver_down_then_up_gets_everything_once_delivered(tmp_path: Path, store: Store) -> None:
    with Receiver([Reply(503)] * 4) as receiver:
        config = make_config(tmp_path, hook("a", receiver.url))
        events = add_events(store, 3, ["a"])
        stats = deliver(config, store)
        requests = receiver.requests
    assert stats == OutboxStats(delivered=3, retried=1, failed=0)
    assert len(requests) == 7  # 3 quick tries + 1 persisted retry fail, then 4 answers of 200
    verify_all(requests)
    assert [r.headers["webhook-id"] for r in requests] == [events[0].id] * 5 + [events[1].id, events[2].id]
    records = by_event(store)
    assert {r.state for r in records.values()} == {"delivered"}
    first = records[events[0].id]
    assert (first.attempts, first.last_status, first.last_error, first.last_response) == (5, 200, None, "ok")
    assert first.delivered_at is not None and first.delivered_at >= first.created_at


def test_gone_is_dead_lettered_and_not_retried(tmp_path: Path, store: Store) -> None:
    with Receiver(default=Reply(410, body=b"no such hook")) as receiver:
        config = make_config(tmp_path, hook("a", receiver.url))
        (event,) = add_events(store, 1, ["a"])
        assert deliver(config, store) == OutboxStats(failed=1)
        assert deliver(config, store) == OutboxStats()
        assert len(receiver.requests) == 1
    record = by_event(store)[event.id]
    assert (record.state, record.attempts, record.last_status) == ("failed", 1, 410)
    assert (record.last_error, record.last_response) == ("HTTP 410", "no such hook")


def test_long_retry_after_is_persisted_not_waited_for(tmp_path: Path, store: Store) -> None:
    with Receiver(default=Reply(429, headers={"Retry-After": "30"})) as receiver:
        config = make_config(tmp_path, hook("a", receiver.url))
        (event,) = add_events(store, 1, ["a"])
        before = utc_now()
        started = time.monotonic()
        stats = deliver(config, store, timeout_s=3.0)
        assert time.monotonic() - started < 1.0
        assert len(receiver.requests) == 1  # 30 s is too long for a quick in-run retry
    assert stats == OutboxStats(retried=1)
    record = by_event(store)[event.id]
    assert record.state == "pending" and record.last_status == 429
    assert record.next_attempt_at >= before + timedelta(seconds=30)


def test_short_retry_after_is_honoured_within_the_run(tmp_path: Path, store: Store) -> None:
    with Receiver([Reply(429, headers={"Retry-After": "1"})]) as receiver:
        config = make_config(tmp_path, hook("a", receiver.url))
        add_events(store, 1, ["a"])
        assert deliver(config, store) == OutboxStats(delivered=1)
        first, second = receiver.requests
    assert second.at - first.at >= 0.95


def test_order_is_kept_per_key_under_retries(tmp_path: Path, store: Store) -> None:
    seen: set[str] = set()

    def fail_each_event_twice(request: Request) -> Reply:
        key = request.headers["webhook-id"]
        tries = sum(1 for name in seen if name.startswith(key))
        seen.add(f"{key}#{tries}")
        return Reply(503) if tries < 2 else Reply(200)

    with Receiver(fail_each_event_twice) as receiver:
        config = make_config(tmp_path, hook("a", receiver.url))
        add_events(store, 4, ["a"], key="first")
        add_events(store, 4, ["a"], key="second")
        stats = deliver(config, store)
        requests = receiver.requests
    assert stats == OutboxStats(delivered=8)
    verify_all(requests)
    for key in ("first", "second"):
        sequence = [r.json()["data"]["n"] for r in requests if r.json()["data"]["key"] == key]
        assert sequence == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]


def test_a_hanging_endpoint_does_not_hold_up_another(tmp_path: Path, store: Store) -> None:
    with Receiver(default=Reply(hang=True)) as dead, Receiver() as alive:
        config = make_config(tmp_path, hook("dead", dead.url, timeout="1s"), hook("alive", alive.url))
        add_events(store, 1, ["dead", "alive"])
        started = time.monotonic()
        stats = deliver(config, store, timeout_s=1.5)
        elapsed = time.monotonic() - started
        assert alive.requests[0].at - started < 0.5
        assert len(dead.requests) >= 1
    assert elapsed < 2.5
    assert (stats.delivered, stats.retried) == (1, 1)
    dead_record = store.deliveries(webhook_id="dead")[0]
    assert dead_record.state == "pending" and dead_record.last_status is None
    assert dead_record.last_error in ("timed out after 1s", "cut off by the delivery run's time limit")


def test_different_keys_go_in_parallel_within_one_webhook(tmp_path: Path, store: Store) -> None:
    with Receiver(default=Reply(delay_s=0.4)) as receiver:
        config = make_config(tmp_path, hook("a", receiver.url))
        for key in ("k1", "k2", "k3"):
            add_events(store, 1, ["a"], key=key)
        started = time.monotonic()
        assert deliver(config, store, key_concurrency=3) == OutboxStats(delivered=3)
    assert time.monotonic() - started < 1.0


def test_too_old_delivery_is_dead_lettered_unsent(tmp_path: Path, store: Store) -> None:
    with Receiver() as receiver:
        config = make_config(tmp_path, hook("a", receiver.url, max_age="1h"))
        old = make_event(1, created=utc_now() - timedelta(hours=2))
        store.add_event(old, ["a"], "k")
        assert deliver(config, store) == OutboxStats(failed=1)
        assert receiver.requests == []
    record = by_event(store)[old.id]
    assert (record.state, record.last_error, record.attempts) == ("failed", "max age exceeded", 0)


def test_delivery_to_a_removed_webhook_fails(tmp_path: Path, store: Store) -> None:
    with Receiver() as receiver:
        config = make_config(tmp_path, hook("kept", receiver.url))
        (event,) = add_events(store, 1, ["gone", "kept"])
        assert deliver(config, store) == OutboxStats(delivered=1, failed=1)
    gone = store.deliveries(webhook_id="gone")[0]
    assert (gone.state, gone.last_error) == ("failed", "webhook no longer configured")
    assert store.deliveries(webhook_id="kept")[0].state == "delivered"


def test_requeued_failure_is_sent_again_with_the_same_id(tmp_path: Path, store: Store) -> None:
    with Receiver([Reply(400)]) as receiver:
        config = make_config(tmp_path, hook("a", receiver.url))
        (event,) = add_events(store, 1, ["a"])
        assert deliver(config, store) == OutboxStats(failed=1)
        assert store.requeue(event_ids=None, failed=True, webhook_id=None, now=utc_now()) == 1
        assert deliver(config, store) == OutboxStats(delivered=1)
        requests = receiver.requests
    assert [r.headers["webhook-id"] for r in requests] == [event.id, event.id]
    verify_all(requests)
    assert by_event(store)[event.id].state == "delivered"


def test_run_forever_delivers_new_events_until_stopped(tmp_path: Path, store: Store) -> None:
    with Receiver() as receiver:
        config = make_config(tmp_path, hook("a", receiver.url))

        async def go() -> OutboxStats:
            stop = asyncio.Event()
            async with httpx.AsyncClient(trust_env=False) as client:
                task = asyncio.create_task(Outbox(config, store, client, utc_now, policy=FAST).run_forever(stop, 0.05))
                await asyncio.sleep(0.1)
                add_events(store, 2, ["a"])
                await asyncio.to_thread(receiver.wait_for, 2)
                stop.set()
                return await asyncio.wait_for(task, 2.0)

        assert asyncio.run(go()) == OutboxStats(delivered=2)
    assert {r.state for r in store.deliveries()} == {"delivered"}


class _WatchedStore:
    """The store, noting each time the outbox asks when a webhook is next due: the end of a look, before a pause."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.looked = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def next_due(self, webhook_id: str | None = None) -> datetime | None:
        self.looked.set()
        return self._store.next_due(webhook_id)


def test_wake_makes_run_forever_deliver_new_events_now_not_at_its_next_look(tmp_path: Path, store: Store) -> None:
    watched = _WatchedStore(store)
    with Receiver() as receiver:
        config = make_config(tmp_path, hook("a", receiver.url))

        async def go() -> OutboxStats:
            stop = asyncio.Event()
            async with httpx.AsyncClient(trust_env=False) as client:
                outbox = Outbox(config, cast(Store, watched), client, utc_now, policy=FAST)
                task = asyncio.create_task(outbox.run_forever(stop, poll_s=3600.0))
                await watched.looked.wait()  # nothing was due: it now pauses for an hour, unless woken
                add_events(store, 2, ["a"])
                outbox.wake()
                await asyncio.to_thread(receiver.wait_for, 2)
                stop.set()
                return await asyncio.wait_for(task, 5.0)

        assert asyncio.run(go()) == OutboxStats(delivered=2)
    assert {r.state for r in store.deliveries()} == {"delivered"}


def test_backoff_grows_is_capped_and_respects_retry_after() -> None:
    policy = RetryPolicy(backoff_base_s=5.0, backoff_cap_s=3600.0)
    for attempts, full in [(1, 5.0), (2, 10.0), (4, 40.0), (20, 3600.0), (10_000, 3600.0)]:
        assert full / 2 <= policy.backoff_s(attempts, None) <= full
    assert policy.backoff_s(1, 120.0) == 120.0


# -- commands ------------------------------------------------------------------------------------------------------
def write_config_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(
        f'[monitor]\ndatabase = "sqlite:///{tmp_path / "monitor.db"}"\ncheck_delivery_timeout = "3s"\n\n'
        f'[[webhooks]]\nid = "a"\nurl = "{url}"\nsecret = "{SECRET}"\ntimeout = "2s"\n',
        encoding="utf-8",
    )
    return path


def command(name: str, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog=f"monitor {name}")
    COMMANDS[name].arguments(parser)
    run: Callable[[argparse.Namespace], int] = COMMANDS[name].run
    return run(parser.parse_args(list(argv)))


def test_deliveries_lists_table_and_json(tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    with Receiver([Reply(410)]) as receiver:
        path = write_config_file(tmp_path, receiver.url)
        config = make_config(tmp_path, hook("a", receiver.url))
        failed, delivered = add_events(store, 1, ["a"], key="x") + add_events(store, 1, ["a"], key="y")
        deliver(config, store, key_concurrency=1)
    assert command("deliveries", "--config", str(path)) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "ID",
        "EVENT",
        "WEBHOOK",
        "STATE",
        "ATTEMPTS",
        "STATUS",
        "NEXT",
        "ATTEMPT",
        "LAST",
        "ERROR",
    ]
    assert lines[0].split() == ["1", failed.id, "a", "failed", "1", "410", "-", "HTTP", "410"]
    assert lines[1].split() == ["2", delivered.id, "a", "delivered", "1", "200", "-"]
    assert command("deliveries", "--config", str(path), "--state", "failed", "--json") == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["event_id"], row["state"], row["last_status"], row["last_error"]) == (
        failed.id,
        "failed",
        410,
        "HTTP 410",
    )


def test_redeliver_command_requeues_and_reports(
    tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    with Receiver([Reply(500)] * 3 + [Reply(422)]) as receiver:
        path = write_config_file(tmp_path, receiver.url)
        config = make_config(tmp_path, hook("a", receiver.url))
        (event,) = add_events(store, 1, ["a"])
        deliver(config, store, timeout_s=5.0)
        assert by_event(store)[event.id].state == "failed"
        assert command("redeliver", "--config", str(path), "--failed") == 0
        assert capsys.readouterr().out == "re-queued 1 deliveries: 1 delivered, 0 pending (will retry), 0 failed\n"
        assert command("redeliver", "--config", str(path), event.id, "evt_NOPE") == 1
        out, err = capsys.readouterr()
        assert len(receiver.requests) == 6
    assert out == "re-queued 1 deliveries: 1 delivered, 0 pending (will retry), 0 failed\n"
    assert err == "monitor: no such event evt_NOPE\n"
    assert command("redeliver", "--config", str(path)) == 2


@pytest.mark.parametrize(
    ("reply", "code", "line"),
    [(Reply(202, body=b"thanks\nmore"), 0, "a: HTTP 202: thanks"), (Reply(500, body=b""), 1, "a: HTTP 500")],
)
def test_webhook_test_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reply: Reply, code: int, line: str
) -> None:
    with Receiver(default=reply) as receiver:
        assert (
            command("webhook-test", "--config", str(write_config_file(tmp_path, receiver.url)), "--webhook", "a")
            == code
        )
        (request,) = receiver.requests
    assert capsys.readouterr().out == line + "\n"
    assert Webhook(SECRET).verify(request.body, request.headers)["type"] == "test"
