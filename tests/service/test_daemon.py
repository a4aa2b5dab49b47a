"""`monitor run` as users run it: a real subprocess against the loopback ministry site, real signals."""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from conftest import PG_ADMIN, SHIPPED_CONFIG, Ministry, RunCli
from daemonkit import DaemonProcess, daemon_config, starts, wait_until
from receiver import Receiver
from sitekit import EN_ARTICLES, EN_DIR, EN_LIST, ZH_DIR, en_listing

from monitor.config import Config, load_config
from monitor.pipeline import Pipeline
from monitor.service import CRON_JITTER, POLLS_PER_HOST_SLOT
from monitor.service import daemon as daemon_module
from monitor.sim import RequestRecord
from storage import SourceState, open_store
from storage.sql import SqlStore

FAST = "t1793427"
GOVUK_PUBLICATIONS = "/government/publications"
SLOW = "t1739548"


def list_en(ministry: Ministry, *docs: str) -> None:
    entries = [(f"./{doc}.shtml", doc) for doc in docs]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries))


def listing_requests(ministry: Ministry, path: str = EN_DIR) -> list[RequestRecord]:
    return ministry.site.requests_for(path)


def test_sources_are_polled_on_schedule_and_unchanged_listings_come_back_as_304(
    ministry: Ministry, tmp_path: Path
) -> None:
    list_en(ministry, FAST)
    config = daemon_config(tmp_path, ministry.base, interval="0.8s")

    with DaemonProcess(config) as daemon:
        wait_until(lambda: len(listing_requests(ministry)) >= 4, what="four polls")
        daemon.wait_for_log("poll mfa-en-press", count=4)
        code, seconds = daemon.stop(signal.SIGINT)

    requests = listing_requests(ministry)
    assert [r.status for r in requests[:4]] == [200, 304, 304, 304]
    assert [r.conditional for r in requests[:4]] == [False, True, True, True]
    # Polls keep a fixed phase: the second poll is due one interval after the first was *due*, so the first
    # gap shrinks by however late the first listing request was (start-up and robots.txt come first, and a
    # loaded machine makes them slow); the later gaps are whole intervals.
    gaps = _gaps(starts(requests[:4]))
    assert all(0.78 <= gap <= 1.1 for gap in gaps[1:]) and 0 < gaps[0] <= 1.1, gaps
    polls = daemon.polls("mfa-en-press")
    assert [p["outcome"] for p in polls[:4]] == ["ok", "not_modified", "not_modified", "not_modified"]
    assert polls[0]["links"] == 1 and polls[0]["fetched"] == 1 and polls[0]["duration_ms"] >= 0
    assert code == 0 and seconds < 2.0


def test_a_restart_does_not_poll_again_before_the_interval_is_up(ministry: Ministry, tmp_path: Path) -> None:
    list_en(ministry, FAST)
    config = daemon_config(tmp_path, ministry.base, interval="5s")
    with DaemonProcess(config) as daemon:
        daemon.wait_for_log("poll mfa-en-press")
        assert daemon.stop()[0] == 0

    with DaemonProcess(config) as daemon:
        daemon.wait_for_log("running: ")
        time.sleep(1.0)
        assert daemon.stop()[0] == 0

    assert len(listing_requests(ministry)) == 1


def test_runs_missed_during_a_pause_coalesce_into_one(ministry: Ministry, tmp_path: Path) -> None:
    list_en(ministry, FAST)
    config = daemon_config(tmp_path, ministry.base, interval="0.5s")

    with DaemonProcess(config) as daemon:
        daemon.wait_for_log("poll mfa-en-press", count=2)
        daemon.send(signal.SIGSTOP)
        time.sleep(2.5)
        resumed = time.monotonic()
        daemon.send(signal.SIGCONT)
        time.sleep(0.4)
        after_pause = [r for r in listing_requests(ministry) if r.started >= resumed]
        polls = len(daemon.polls())
        daemon.wait_for_log("poll mfa-en-press", count=polls + 2)
        assert daemon.stop()[0] == 0

    assert len(after_pause) == 1  # not the five the pause skipped
    assert 0.4 <= _gaps(starts(listing_requests(ministry)))[-1] <= 0.7  # then on schedule again


def test_per_host_limits_hold_across_sources(ministry: Ministry, tmp_path: Path) -> None:
    list_en(ministry, FAST, SLOW)
    sources = ("mfa-en-press", "mfa-zh-fyrbt")
    config = daemon_config(tmp_path, ministry.base, sources=sources, interval="3s", monitor={"host_delay": '"0.1s"'})

    with DaemonProcess(config) as daemon:
        daemon.wait_for_log("poll ", count=2, timeout_s=20)
        assert daemon.stop()[0] == 0

    requests = ministry.site.requests
    assert len(requests) > 15  # robots.txt, two listings and their articles
    assert ministry.site.max_concurrency("127.0.0.1") == 1
    # host_delay runs start to start in the client; the first request also opens the connection (up to ~0.1 s in a
    # fresh process), so the server may see it late and the first gap short.
    assert min(_gaps(starts(requests))[1:]) >= 0.09
    assert len(ministry.site.requests_for("/robots.txt")) == 1


def test_robots_txt_is_obeyed_and_block_pages_are_reported_as_blocked(ministry: Ministry, tmp_path: Path) -> None:
    ministry.site.put("/robots.txt", f"User-agent: *\nDisallow: {EN_DIR}\n".encode(), content_type="text/plain")
    challenge = b"<html><body><script>document.cookie='jsl=1';location.reload();</script></body></html>"
    ministry.site.put(ZH_DIR, challenge)
    ministry.site.fault(GOVUK_PUBLICATIONS, "status", status=412)
    sources = ("mfa-en-press", "mfa-zh-fyrbt", "govuk-publications")
    config = daemon_config(tmp_path, ministry.base, sources=sources, interval="0.5s")

    with DaemonProcess(config, "--http", "127.0.0.1:0") as daemon:
        daemon.wait_for_log("poll ", count=6)
        metrics = daemon.get("/metrics")[2].decode()
        assert daemon.stop()[0] == 0

    outcomes = {(p["source_id"], p["outcome"]) for p in daemon.polls()}
    assert outcomes == {("mfa-en-press", "error"), ("mfa-zh-fyrbt", "blocked"), ("govuk-publications", "blocked")}
    assert "robots.txt disallows" in daemon.polls("mfa-en-press")[0]["error"]
    assert listing_requests(ministry) == []
    assert len(ministry.site.requests_for("/robots.txt")) == 1
    assert 'monitor_polls_total{outcome="blocked",source="mfa-zh-fyrbt"}' in metrics
    assert 'monitor_fetches_total{kind="listing",outcome="blocked",source="govuk-publications"}' in metrics


def test_three_failed_polls_raise_one_failing_and_the_next_success_one_recovered(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    list_en(ministry, FAST)
    ministry.site.fault(EN_DIR, "status", times=5, status=503)
    with Receiver() as receiver:
        hook = f'[[webhooks]]\nid = "ops"\nurl = "{receiver.url}"\nevents = ["source.failing", "source.recovered"]\n'
        config = daemon_config(tmp_path, ministry.base, interval="0.5s", monitor={"retries": "0"}, extra=hook)

        with DaemonProcess(config) as daemon:
            daemon.wait_for_log("poll mfa-en-press", count=7, timeout_s=15)
            delivered = receiver.wait_for(2, timeout_s=5)
            assert daemon.stop()[0] == 0

    outcomes = [p["outcome"] for p in daemon.polls("mfa-en-press")]
    assert outcomes[:7] == ["error"] * 5 + ["ok", "not_modified"]
    assert [p["events"] for p in daemon.polls("mfa-en-press")[:7]] == [
        {},
        {},
        {"source.failing": 1},
        {},
        {},
        {"source.recovered": 1},
        {},
    ]
    assert [r.json()["type"] for r in delivered] == ["source.failing", "source.recovered"]
    assert len(receiver.requests) == 2
    assert delivered[0].json()["data"]["consecutive_failures"] == 3
    code, out, _ = run_cli("events", "--config", str(config), "--type", "source.failing")
    assert code == 0 and len(out.splitlines()) == 1


def test_sighup_adds_and_removes_sources_live_and_a_bad_config_is_refused(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    list_en(ministry, FAST)
    config = daemon_config(tmp_path, ministry.base, interval="0.5s")

    with DaemonProcess(config) as daemon:
        daemon.wait_for_log("poll mfa-en-press")
        daemon_config(tmp_path, ministry.base, sources=("mfa-zh-fyrbt",), interval="0.5s")
        daemon.send(signal.SIGHUP)
        reloaded = daemon.wait_for_log("config reloaded")[0]
        switched = time.monotonic()
        wait_until(lambda: len(listing_requests(ministry, ZH_DIR)) >= 2, what="the added source's polls")

        config.write_text(re.sub(r"(?m)^interval = .*$", 'interval = "soon"', config.read_text()))
        refused_by_cli = run_cli("reload", "--config", str(config))
        daemon.send(signal.SIGHUP)
        refused = daemon.wait_for_log("reload refused")[0]
        polled = len(listing_requests(ministry, ZH_DIR))
        wait_until(lambda: len(listing_requests(ministry, ZH_DIR)) >= polled + 2, what="polls after a refusal")

        daemon_config(tmp_path, ministry.base, sources=("mfa-zh-fyrbt", "mfa-en-press"), interval="0.5s")
        back = time.monotonic()
        code, out, err = run_cli("reload", "--config", str(config))
        assert code == 0, err
        daemon.wait_for_log("config reloaded", count=2)
        wait_until(lambda: any(r.started > back for r in listing_requests(ministry)), what="the re-added source")
        assert daemon.stop()[0] == 0

    assert "added mfa-zh-fyrbt; removed mfa-en-press" in reloaded["message"]
    en_between = [r for r in listing_requests(ministry) if switched + 0.1 < r.started < back]
    assert en_between == []
    assert refused["level"] == "ERROR" and "key 'interval'" in refused["message"]
    assert refused_by_cli[0] == 2 and "key 'interval'" in refused_by_cli[2]
    assert f"(pid {daemon.pid})" in out


def test_sigterm_during_a_poll_exits_0_within_the_bound_and_leaves_the_store_consistent(
    ministry: Ministry, tmp_path: Path
) -> None:
    list_en(ministry, FAST, SLOW)
    slow_path = ministry.path_of(EN_ARTICLES[SLOW])
    ministry.site.fault(slow_path, "delay", seconds=30)
    config = daemon_config(tmp_path, ministry.base, interval="10s")

    with DaemonProcess(config, "--stop-timeout", "1") as daemon:
        wait_until(lambda: ministry.site.requests_for(ministry.path_of(EN_ARTICLES[FAST])), what="the fast article")
        time.sleep(0.3)  # the slow article is now in flight
        code, seconds = daemon.stop(signal.SIGTERM)

    assert code == 0
    assert 1.0 <= seconds < 2.5, seconds
    assert daemon.messages("poll mfa-en-press abandoned at shutdown")
    assert not (tmp_path / "monitor.pid").exists()
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        articles = dict(db.execute("SELECT url, version FROM articles"))
        version_rows = dict(
            db.execute(
                "SELECT a.url, COUNT(v.version) FROM articles a"
                " LEFT JOIN versions v ON v.article_id = a.id GROUP BY a.url"
            )
        )
    db.close()
    assert articles == {ministry.url(f"{EN_DIR}{FAST}.shtml"): 1, ministry.url(f"{EN_DIR}{SLOW}.shtml"): 0}
    assert version_rows == articles  # every version number has its stored version, nothing half-written


def test_a_second_stop_signal_abandons_running_polls_at_once(ministry: Ministry, tmp_path: Path) -> None:
    list_en(ministry, FAST)
    ministry.site.fault(EN_DIR, "delay", seconds=30)
    config = daemon_config(tmp_path, ministry.base, interval="10s")

    with DaemonProcess(config, "--stop-timeout", "20") as daemon:
        wait_until(lambda: ministry.site.max_concurrency() == 1, what="the listing request")
        daemon.send(signal.SIGTERM)
        daemon.wait_for_log("stopping: giving 1 running polls")
        code, seconds = daemon.stop(signal.SIGINT)

    assert code == 0 and seconds < 1.5
    assert daemon.messages("second stop signal")


def test_a_database_that_stays_unreachable_ends_the_daemon_with_exit_1(
    ministry: Ministry, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-process, to shorten the wait. The store re-opens a lost connection, so the database is dropped outright:
    # it stays unreachable, and a supervisor restart is the way back.
    monkeypatch.setattr(daemon_module, "WAKE_S", 0.1)
    list_en(ministry, FAST)
    path = daemon_config(tmp_path, ministry.base, interval="10s")
    path.write_text(path.read_text().replace(f"sqlite:///{tmp_path}/monitor.db", pg_url))

    def cut_the_connection() -> None:
        wait_until(lambda: ministry.site.requests_for(EN_DIR), what="the first poll")
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {pg_url.rsplit('/', 1)[1]} WITH (FORCE)")

    cutter = threading.Thread(target=cut_the_connection)
    cutter.start()
    started = time.monotonic()
    code = daemon_module.run(load_config(path), daemon_module.DaemonOptions(store_down_exit_s=0.5))
    cutter.join()

    assert code == 1
    assert time.monotonic() - started < 10


def test_a_poll_that_stores_events_wakes_the_outbox(
    ministry: Ministry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-process, with the outbox's periodic look an hour apart: only the wake can deliver within the test.
    monkeypatch.setattr(daemon_module, "OUTBOX_POLL_S", 3600.0)
    list_en(ministry, FAST)
    fast_article = ministry.path_of(EN_ARTICLES[FAST])
    with Receiver() as receiver:
        hook = f'[[webhooks]]\nid = "ops"\nurl = "{receiver.url}"\nevents = ["article.published"]\n'
        config = load_config(daemon_config(tmp_path, ministry.base, interval="0.5s", extra=hook))

        async def go() -> None:
            async with daemon_module.open_daemon(config, daemon_module.DaemonOptions(), asyncio.Event()):
                await asyncio.to_thread(wait_until, lambda: ministry.site.requests_for(fast_article), 10.0)
                list_en(ministry, SLOW, FAST)  # the baseline poll has read the listing: this one is news
                await asyncio.to_thread(receiver.wait_for, 1, 10.0)

        asyncio.run(go())

    event = receiver.requests[0].json()
    assert event["type"] == "article.published" and event["data"]["article"]["url"].endswith(f"{SLOW}.shtml")


def yearly_config(ministry: Ministry, tmp_path: Path) -> Config:
    """The EN source, due only at the new year: the test starts its polls itself."""
    path = daemon_config(tmp_path, ministry.base, interval="1h")
    path.write_text(re.sub(r'(?m)^interval = "1h"$', 'interval = "1h"\ncron = "0 0 1 1 *"', path.read_text()))
    return load_config(path)


def stored_state(config: Config, source_id: str) -> SourceState:
    store = open_store(config.database)
    try:
        state = store.source_state(source_id)
    finally:
        store.close()
    assert state is not None
    return state


def assert_due_at_new_year(state: SourceState, zone: ZoneInfo) -> None:
    new_year = datetime(datetime.now(zone).year + 1, 1, 1, tzinfo=zone)
    assert state.next_due is not None and new_year <= state.next_due <= new_year + CRON_JITTER


def counting(calls: Counter[str], name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return method(*args, **kwargs)

    return counted


def test_a_poll_reads_and_writes_its_source_state_once_recording_the_next_due_time(
    ministry: Ministry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    list_en(ministry, FAST)
    config = yearly_config(ministry, tmp_path)
    calls: Counter[str] = Counter()
    for name in ("source_state", "save_source_state"):
        monkeypatch.setattr(SqlStore, name, counting(calls, name, getattr(SqlStore, name)))

    async def go() -> None:
        async with daemon_module.open_daemon(config, daemon_module.DaemonOptions(), asyncio.Event()) as daemon:
            await daemon.run_source("mfa-en-press")  # the baseline
            calls.clear()
            await daemon.run_source("mfa-en-press")
            assert calls == {"source_state": 1, "save_source_state": 1}

    asyncio.run(asyncio.wait_for(go(), 30.0))

    assert [r.status for r in listing_requests(ministry)] == [200, 304]
    state = stored_state(config, "mfa-en-press")
    assert state.last_outcome == "not_modified"
    assert_due_at_new_year(state, config.source("mfa-en-press").timezone)


def test_a_poll_that_crashes_still_records_the_next_due_time(
    ministry: Ministry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = yearly_config(ministry, tmp_path)

    async def crash(self: Pipeline, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Pipeline, "check_source", crash)

    async def go() -> None:
        async with daemon_module.open_daemon(config, daemon_module.DaemonOptions(), asyncio.Event()) as daemon:
            store = open_store(config.database)  # start-up recorded it: forget it, as if due long ago
            store.save_source_state(SourceState("mfa-en-press", next_due=datetime.now(UTC) - timedelta(hours=1)))
            store.close()
            await daemon.run_source("mfa-en-press")

    asyncio.run(asyncio.wait_for(go(), 30.0))

    assert_due_at_new_year(stored_state(config, "mfa-en-press"), config.source("mfa-en-press").timezone)


def test_due_polls_of_one_host_take_turns_and_none_is_lost(ministry: Ministry, tmp_path: Path) -> None:
    sources = _all_source_ids()
    config = load_config(daemon_config(tmp_path, ministry.base, sources=sources, interval="30s"))
    running: set[str] = set()
    most = 0
    polled: list[str] = []

    async def go() -> None:
        async with daemon_module.open_daemon(config, daemon_module.DaemonOptions(), asyncio.Event()) as daemon:
            poll = daemon.run_source

            async def counted(source_id: str) -> None:
                nonlocal most
                running.add(source_id)
                most = max(most, len(running))
                try:
                    await poll(source_id)
                finally:
                    running.discard(source_id)
                    polled.append(source_id)

            daemon.run_source = counted  # type: ignore[method-assign]
            while len(polled) < len(sources):
                await asyncio.sleep(0.05)

    asyncio.run(asyncio.wait_for(go(), 30.0))

    assert sorted(polled) == sorted(sources)  # every one polled once, though most waited for their turn
    assert 1 <= most <= POLLS_PER_HOST_SLOT * config.source(sources[0]).host_concurrency < len(sources)


def _all_source_ids() -> tuple[str, ...]:
    text = SHIPPED_CONFIG.read_text(encoding="utf-8")
    return tuple(re.findall(r'(?m)^id = "([^"]+)"$', text))


def test_a_second_daemon_on_the_same_database_is_refused(ministry: Ministry, tmp_path: Path) -> None:
    config = daemon_config(tmp_path, ministry.base, interval="10s")

    with DaemonProcess(config) as first:
        first.wait_for_log("running: ")
        with DaemonProcess(config) as second:
            assert second.process.wait(10) == 1
        assert first.stop()[0] == 0

    assert f"another `monitor run` (pid {first.pid}) holds" in second.log_path.read_text()


def test_an_unusable_cron_expression_stops_the_start_with_exit_2(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    config = daemon_config(tmp_path, ministry.base)
    config.write_text(config.read_text().replace('interval = "2s"', 'cron = "*/10 7-25 * * 1-5"'))

    code, _, err = run_cli("run", "--config", str(config))

    assert code == 2
    assert "source 'mfa-en-press': key 'cron': cron hour field '7-25' is out of range 0-23" in err


@pytest.mark.parametrize("argument", ["--http=8787x", "--stop-timeout=0"])
def test_bad_run_options_are_usage_errors(tmp_path: Path, run_cli: RunCli, argument: str) -> None:
    code, out, err = run_cli("run", "--config", str(tmp_path / "none.toml"), argument)

    assert code == 2, "main() returns argparse's exit code rather than raising SystemExit"
    assert out == "" and "usage: monitor run" in err


def _gaps(values: list[float]) -> list[float]:
    return [b - a for a, b in zip(values, values[1:], strict=False)]
