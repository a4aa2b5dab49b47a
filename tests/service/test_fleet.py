"""A fleet of real `monitor run` processes on one real PostgreSQL database, watching the simulated ministry."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, LiteralString

import psycopg
import pytest
from conftest import PG_ADMIN, ROOT, RunCli
from daemonkit import DaemonProcess, wait_until
from receiver import Receiver

from monitor.sim import MFA_EN_PRESS, Newsroom, SimServer, SimSite, packaged_pages, write_sources_config
from storage import StorageUnavailableError
from storage.fleet import FleetStore

HEARTBEAT_S = "0.5"


class Site:
    """The simulated ministry: `sources` listings on one loopback host, changed by a Newsroom."""

    def __init__(self, sources: int, server: SimServer, site: SimSite) -> None:
        self.site = site
        self.newsroom = Newsroom(self.site, sources, 5, random.Random(16), packaged_pages())
        self.server = server
        self.base = self.server.base_url()
        self.published: list[str] = []
        self._lock = threading.Lock()

    def publish(self) -> str:
        with self._lock:
            path = self.newsroom.publish().path
            self.published.append(self.base + path)
            return path


@pytest.fixture
def site() -> Iterator[Site]:
    sim = SimSite()
    with SimServer(sim) as server:
        yield Site(4, server, sim)


def fleet_config(
    tmp_path: Path, site: Site, pg_url: str, *, host_delay: str, extra: str = "", host_concurrency: int = 1
) -> Path:
    sources = [(f"s{i}", f"Listing {i}", site.base + path) for i, path in enumerate(site.newsroom.listing_paths())]
    path = write_sources_config(
        tmp_path / "fleet.toml",
        sources,
        tmp_path / "unused.db",
        template=MFA_EN_PRESS,
        monitor={"host_delay": host_delay, "timeout": "5s", "host_concurrency": host_concurrency},
        source={"interval": "1s"},
        extra=extra,
    )
    path.write_text(path.read_text().replace(f"sqlite:///{tmp_path / 'unused.db'}", pg_url), encoding="utf-8")
    return path


def member(config: Path) -> DaemonProcess:
    return DaemonProcess(config, "--heartbeat", HEARTBEAT_S, "--stop-timeout", "5")


def rows(pg_url: str, sql: LiteralString) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute(sql).fetchall()


def published_events(pg_url: str) -> Counter[str]:
    found = rows(pg_url, "SELECT article_url FROM events WHERE type = 'article.published'")
    return Counter(str(url) for (url,) in found)


def fleet_workers(config: Path) -> list[dict[str, Any]]:
    """Return the `workers` of the real `monitor status --json`."""
    status = subprocess.run(
        [sys.executable, "-m", "monitor", "status", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    workers: list[dict[str, Any]] = json.loads(status.stdout)["workers"]
    return workers


def polled_every_source(pg_url: str, count: int) -> bool:
    try:
        found = rows(pg_url, "SELECT count(*) FROM sources WHERE last_success IS NOT NULL")
    except psycopg.errors.UndefinedTable:
        return False  # no member has created the schema yet
    return bool(found[0][0] >= count)


def test_three_members_share_the_polls_and_a_killed_one_loses_and_doubles_nothing(
    tmp_path: Path, site: Site, pg_url: str
) -> None:
    with Receiver() as receiver:
        hook = f'[[webhooks]]\nid = "ops"\nurl = "{receiver.url}"\nevents = ["article.published"]\n'
        # Four slots on the one simulated host: four batches at a time, spread over the members.
        config = fleet_config(tmp_path, site, pg_url, host_delay="0s", extra=hook, host_concurrency=4)
        with member(config) as first, member(config) as second, member(config) as third:
            wait_until(lambda: polled_every_source(pg_url, 4), 30, "the baseline of every source")
            for n in range(12):
                site.publish()
                time.sleep(1.0)
                if n == 4:
                    second.process.kill()  # SIGKILL, mid-run
            wait_until(
                lambda: set(published_events(pg_url)) >= set(site.published), 40, "an event per published article"
            )
            wait_until(lambda: len({r.json()["id"] for r in receiver.requests}) >= len(site.published), 20, "webhooks")
            survivors = [first.stop(), third.stop()]
            workers = fleet_workers(config)

    events = published_events(pg_url)
    assert sorted(events) == sorted(site.published)  # every published article, and nothing invented
    assert set(events.values()) == {1}  # none twice
    delivered = Counter(request.json()["id"] for request in receiver.requests)
    assert len(delivered) == len(site.published)
    assert sum(delivered.values()) - len(delivered) <= 1  # only a delivery in flight at the kill may be sent again
    assert [code for code, _ in survivors] == [0, 0]
    pollers = [process for process in (first, second, third) if process.polls()]
    assert len(pollers) >= 2
    assert workers == []  # every member has stopped or is no longer seen


def test_host_delay_holds_across_members_as_the_server_sees_it(tmp_path: Path, site: Site, pg_url: str) -> None:
    config = fleet_config(tmp_path, site, pg_url, host_delay="0.4s")
    with member(config) as first, member(config) as second:
        # One host slot: its batches go to whichever member fetches first; wait until both have polled the host.
        wait_until(lambda: first.polls() and second.polls(), 60, "polls by both members")
        starts = sorted(record.started for record in site.site.requests)
        assert [first.stop()[0], second.stop()[0]] == [0, 0]

    assert len(starts) >= 6
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.4 - 0.05  # a small allowance for the two clocks' reading of one instant


def test_status_lists_the_live_members_and_a_reload_reaches_every_member(
    tmp_path: Path, site: Site, pg_url: str
) -> None:
    config = fleet_config(tmp_path, site, pg_url, host_delay="0s")
    with member(config) as first, member(config) as second:
        wait_until(lambda: polled_every_source(pg_url, 4), 30, "a poll of every source")
        first.wait_for_log("joined the fleet")
        second.wait_for_log("joined the fleet")

        def live_workers() -> list[dict[str, Any]]:
            workers = fleet_workers(config)
            return workers if len(workers) == 2 and all(w["polls"] for w in workers) else []

        workers = wait_until(live_workers, 20, "two members that have polled")
        config.write_text(config.read_text().replace('interval = "1s"', 'interval = "2s"'), encoding="utf-8")
        first.send(signal.SIGHUP)
        second.wait_for_log("the fleet's config changed", timeout_s=10)
        second.wait_for_log("config reloaded", timeout_s=10)
        assert [first.stop()[0], second.stop()[0]] == [0, 0]

    assert sorted(worker["pid"] for worker in workers) == sorted([first.pid, second.pid])
    assert all(worker["config_matches"] for worker in workers)


def test_migrate_creates_every_table_once_and_again_changes_nothing(
    tmp_path: Path, site: Site, pg_url: str, run_cli: RunCli
) -> None:
    config = fleet_config(tmp_path, site, pg_url, host_delay="0s")

    first = run_cli("migrate", "--config", str(config))
    second = run_cli("migrate", "--config", str(config))

    assert first[0] == second[0] == 0
    assert "procrastinate" in first[1]
    tables = {name for (name,) in rows(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"events", "deliveries", "fleet_members", "fleet_schedule", "procrastinate_jobs"} <= tables


def test_members_reconnect_after_their_database_connections_are_cut(tmp_path: Path, site: Site, pg_url: str) -> None:
    config = fleet_config(tmp_path, site, pg_url, host_delay="0s")
    database = pg_url.rsplit("/", 1)[1]
    with member(config) as first, member(config) as second:
        wait_until(lambda: polled_every_source(pg_url, 4), 30, "the baseline of every source")
        for n in range(8):
            site.publish()
            time.sleep(1.0)
            if n in (2, 5):  # every connection of every member, the queue's and the store's, cut at once
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    cut = admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                        "pg_backend_pid()",
                        (database,),
                    ).fetchall()
                assert len(cut) >= 4 and all(ok for (ok,) in cut)  # the queue's pools and the stores' connections
        wait_until(lambda: set(published_events(pg_url)) >= set(site.published), 60, "an event per published article")
        assert first.process.poll() is None and second.process.poll() is None
        assert [first.stop()[0], second.stop()[0]] == [0, 0]

    events = published_events(pg_url)
    assert sorted(events) == sorted(site.published) and set(events.values()) == {1}


def test_a_slot_guard_is_held_by_one_session_and_let_go_by_release_or_by_the_connection_ending(pg_url: str) -> None:
    first, second = FleetStore(pg_url), FleetStore(pg_url)

    def held(store: FleetStore, slot: str) -> bool:
        try:
            return store.hold_slot(slot)
        except StorageUnavailableError:  # the first call on a cut connection fails; the next one connects again
            return False

    a, b, c, d = (f"host:127.0.0.1:{n}" for n in range(4))
    try:
        assert first.hold_slot(a) and not second.hold_slot(a)
        assert second.hold_slot(b) and not first.hold_slot(b)  # one guard per slot
        first.release_slot(a)
        assert second.hold_slot(a) and not first.hold_slot(a)
        assert first.hold_slot(c)
        database = pg_url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:  # every connection to the database cut
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        wait_until(lambda: held(second, c), 30, "the cut connection's guard let go")
        first.release_slot(c)  # its connection is gone, and the guard with it: no error
        wait_until(lambda: held(first, d), 30, "the first store connected again")
        assert not first.hold_slot(c)  # c's guard is the second's now
    finally:
        first.close()
        second.close()


def test_a_member_runs_no_batch_of_a_slot_whose_batch_runs_elsewhere(tmp_path: Path, site: Site, pg_url: str) -> None:
    config = fleet_config(tmp_path, site, pg_url, host_delay="0s")  # one host, host_concurrency 1: one slot
    elsewhere = FleetStore(pg_url)  # stands for a member taken for dead that still runs the slot's batch
    try:
        with member(config) as only:
            wait_until(lambda: polled_every_source(pg_url, 4), 30, "the baseline of every source")
            # Taken between two of the member's batches (a batch holds it while it runs).
            wait_until(lambda: elsewhere.hold_slot(f"host:{site.server.hosts[0]}:0"), 30, "the slot's guard")
            only.wait_for_log("fleet: a batch of host:", timeout_s=30)  # a tick every 2 s defers the slot's batch
            held_at = len(site.site.requests)
            time.sleep(3)
            assert len(site.site.requests) == held_at  # nothing asked of the host while the other batch runs
            elsewhere.release_slot(f"host:{site.server.hosts[0]}:0")
            wait_until(lambda: len(site.site.requests) > held_at, 30, "polls again")
            assert only.stop()[0] == 0
    finally:
        elsewhere.close()
