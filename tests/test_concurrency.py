"""Processes sharing a store: one polling writer per SQLite file, outbox rows claimed so none is sent twice."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import ROOT, fresh_pg_database
from daemonkit import DaemonProcess, wait_until
from receiver import Receiver, Reply
from test_hostile import hostile_config

from monitor.app import utc_now
from monitor.events import encode_event, new_event_id
from monitor.sim.hostile import Behaviour, healthy, hostile_server, on_listing, slow_body, source_toml
from storage import EventRecord, Store, open_store


def monitor(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "monitor", *args]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_second_check_on_one_sqlite_file_waits_then_refuses_in_one_line(tmp_path: Path) -> None:
    with hostile_server([Behaviour("slow", on_listing(slow_body))]) as server:
        source = source_toml("slow", server["slow"].base + "/news/", robots="false")
        config = hostile_config(tmp_path, source, request_deadline='"14s"', poll_deadline='"30s"', retries="0")
        first = monitor("check", "--config", str(config))
        lock = tmp_path / "monitor.db.writer.lock"
        wait_until(lambda: lock.exists() and lock.read_text() == str(first.pid), 20, "the first check's lock")
        second = monitor("check", "--config", str(config))
        second_out, second_err = second.communicate(timeout=60)
        first_out, first_err = first.communicate(timeout=60)

    assert first.returncode == 1, first_err  # its slow source failed (exit 1); it ran to the end
    assert first_out.startswith("slow: FAILED (error): no complete answer within the 14s request deadline")
    assert second.returncode == 1
    assert second_out == ""
    assert second_err == (
        f"monitor: another monitor process (pid {first.pid}) is polling into this store; waited 10s\n"
    )


def add_event(store: Store, n: int) -> str:
    now = utc_now()
    event_id = new_event_id(now)
    body = encode_event({"id": event_id, "type": "article.updated", "timestamp": now.isoformat(), "data": {"n": n}})
    store.add_event(EventRecord(event_id, "article.updated", "src", now, body), ["hook"], f"key-{n % 7}")
    return event_id


def test_three_processes_sharing_an_outbox_send_each_row_once(tmp_path: Path) -> None:
    with Receiver(default=Reply(delay_s=0.02)) as receiver:
        hook = f'[[webhooks]]\nid = "hook"\nurl = "{receiver.url}"\n'
        config = hostile_config(tmp_path, source_toml("src", "http://127.0.0.1:9/news/") + hook)
        store = open_store(f"sqlite:///{tmp_path}/monitor.db")
        try:
            events = [add_event(store, n) for n in range(60)]
        finally:
            store.close()
        # `redeliver --failed` re-queues nothing here (no row failed) and then sends what is due, like check would.
        runs = [monitor("redeliver", "--config", str(config), "--failed") for _ in range(3)]
        for run in runs:
            run.communicate(timeout=60)
        sent = Counter(request.headers["webhook-id"] for request in receiver.requests)

    assert sorted(sent) == sorted(events)
    assert set(sent.values()) == {1}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_claimed_delivery_is_nobody_elses_until_its_lease_ends(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path}/monitor.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = open_store(url)
    try:
        add_event(store, 1)
        (row,) = store.deliveries()
        now = utc_now()
        assert store.claim_delivery(row.id, "a", now, now + timedelta(seconds=30))
        assert not store.claim_delivery(row.id, "b", now, now + timedelta(seconds=30))
        assert store.due_deliveries(now, 10) == []
        assert store.lease_holders() == {"a"}
        later = now + timedelta(seconds=31)
        assert [d.id for d in store.due_deliveries(later, 10)] == [row.id]
        assert store.claim_delivery(row.id, "b", later, later + timedelta(seconds=30))
        assert store.release_leases("b") == 1
        assert store.claim_delivery(row.id, "c", now, now + timedelta(seconds=30))
        store.save_delivery(row)  # recording an outcome ends the claim
        assert store.lease_holders() == set()
    finally:
        store.close()


def test_lease_columns_are_added_to_an_old_sqlite_store_once(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE deliveries DROP COLUMN claimed_by")
        db.execute("ALTER TABLE deliveries DROP COLUMN lease_until")
    for _ in range(2):
        open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(deliveries)")}
    assert {"claimed_by", "lease_until"} <= columns


def test_a_killed_claimant_on_this_host_frees_its_rows(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    owner = f"{socket.gethostname()}:{dead.stdout.strip()}:cafe"
    with Receiver() as receiver:
        hook = f'[[webhooks]]\nid = "hook"\nurl = "{receiver.url}"\n'
        config = hostile_config(tmp_path, source_toml("src", "http://127.0.0.1:9/news/") + hook)
        store = open_store(f"sqlite:///{tmp_path}/monitor.db")
        try:
            event_id = add_event(store, 1)
            (row,) = store.deliveries()
            now = utc_now()
            assert store.claim_delivery(row.id, owner, now, now + timedelta(hours=1))
        finally:
            store.close()
        started = time.monotonic()
        run = monitor("redeliver", "--config", str(config), event_id)
        run.communicate(timeout=60)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [event_id]
    assert time.monotonic() - started < 60


def test_two_services_of_different_configs_on_one_postgresql_database_are_refused(tmp_path: Path, pg_url: str) -> None:
    with hostile_server([Behaviour("site", healthy())]) as server:
        source = source_toml("site", server["site"].base + "/news/", interval='"10s"')
        first_config = hostile_config(tmp_path, source, database=f'"{pg_url}"')
        second_config = first_config.with_name("other.toml")
        second_config.write_text(first_config.read_text())
        with DaemonProcess(first_config) as first:
            first.wait_for_log("poll site", timeout_s=30)
            second = monitor("run", "--config", str(second_config))
            _out, err = second.communicate(timeout=60)
            assert first.process.poll() is None
            again = monitor("run", "--config", str(second_config))  # refused again, not left half-registered
            _again_out, again_err = again.communicate(timeout=60)
    assert second.returncode == again.returncode == 1
    assert err.startswith("monitor: a monitor service with another config already uses this database")
    assert err.count("\n") == 1 and "Traceback" not in err + again_err


@pytest.fixture
def other_pg_url() -> Iterator[str]:
    """A second fresh database in the same PostgreSQL cluster (another deployment's)."""
    with fresh_pg_database() as url:
        yield url


def test_services_of_different_configs_on_two_databases_of_one_cluster_both_run(
    tmp_path: Path, pg_url: str, other_pg_url: str
) -> None:
    with hostile_server([Behaviour("site", healthy())]) as server:
        source = source_toml("site", server["site"].base + "/news/", interval='"10s"')
        first_config = hostile_config(tmp_path, source, database=f'"{pg_url}"')
        second_config = first_config.with_name("other.toml")
        second_config.write_text(first_config.read_text().replace(pg_url, other_pg_url))
        with DaemonProcess(first_config) as first, DaemonProcess(second_config) as second:
            first.wait_for_log("poll site", timeout_s=30)
            second.wait_for_log("poll site", timeout_s=30)  # not refused: the first service's lock is another DB's
            assert first.process.poll() is None and second.process.poll() is None
