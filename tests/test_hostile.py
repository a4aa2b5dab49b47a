"""Hostile servers through the real `monitor check`: bounded memory and time, honest failures, healthy sources kept.

Peak memory and wall time are safety bounds with wide margins, not benchmarks.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, RunCli

from monitor.config import load_config
from monitor.errors import FetchDeadlineError, FetchError, FetchProtocolError, FetchTooLargeError
from monitor.http import Fetcher, Page, build_transport
from monitor.sim.hostile import (
    Behaviour,
    Handler,
    bomb,
    endless_continue,
    healthy,
    hostile_server,
    huge_header,
    listing,
    many_headers,
    on_listing,
    response,
    slow_body,
    slow_headers,
    source_toml,
)
from storage import ArticleState, StorageUnavailableError
from storage.sql import SqlStore

MAX_RSS_MB = 400
MAX_WALL_S = 90
# Run the command in a child and print that child's peak RSS (kB on Linux) on the last line of stderr.
MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def hostile_config(tmp_path: Path, sources: str, **monitor: str) -> Path:
    """Write a config with short deadlines, no reader processes and the store in `tmp_path`."""
    settings = {
        "database": f'"sqlite:///{tmp_path}/monitor.db"',
        "host_delay": '"0s"',
        "retry_backoff": '"0.01s"',
        "retries": "1",
        "timeout": '"2s"',
        "request_deadline": '"3s"',
        "poll_deadline": '"20s"',
        "read_workers": "0",
        "check_delivery_timeout": '"5s"',
        **monitor,
    }
    path = tmp_path / "sources.toml"
    path.write_text("[monitor]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()) + "\n" + sources)
    return path


def measured_check(config: Path) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run `monitor check` as a subprocess; return it, its peak RSS in MB and its wall time in seconds."""
    command = [sys.executable, "-c", MEASURE, sys.executable, "-m", "monitor", "check", "--config", str(config)]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=MAX_WALL_S * 2)
    wall = time.monotonic() - started
    *_, rss_kb = done.stderr.strip().splitlines()
    return done, int(rss_kb) / 1024, wall


def lines_by_source(stdout: str) -> dict[str, str]:
    return {line.split(":", 1)[0]: line for line in stdout.splitlines() if ":" in line}


async def endless_chunks(writer: asyncio.StreamWriter) -> None:
    """A chunked body that never ends, as fast as the client reads."""
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (65536, b"<" * 65536)
    while True:
        writer.write(chunk)
        await writer.drain()


async def bad_chunking(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n<html\r\nzz\r\n")


async def hang_up(writer: asyncio.StreamWriter) -> None:
    writer.close()  # reads the request, answers nothing


HOSTILE_LISTINGS = {
    "bomb": bomb(),
    "slow-body": slow_body,
    "slow-headers": slow_headers,
    "continue": endless_continue,
    "huge-header": huge_header,
    "many-headers": many_headers,
    "endless-body": endless_chunks,
    "bad-chunking": bad_chunking,
    "hangs-up": hang_up,
}


def test_hostile_listings_fail_alone_within_bounds_and_the_healthy_source_is_stored(tmp_path: Path) -> None:
    behaviours = [Behaviour("healthy", healthy())]
    behaviours += [Behaviour(name, on_listing(answer)) for name, answer in HOSTILE_LISTINGS.items()]
    with hostile_server(behaviours):
        sources = "".join(source_toml(b.name, b.base + "/news/", failing_after="2") for b in behaviours)
        config = hostile_config(tmp_path, sources)
        first, rss_mb, wall_s = measured_check(config)
        second, _rss, _wall = measured_check(config)

    assert first.returncode == 1, (
        first.stderr
    )  # a source failed: check exits 1 (cron sees it); the others were still checked
    assert rss_mb < MAX_RSS_MB and wall_s < MAX_WALL_S, (rss_mb, wall_s)
    lines = lines_by_source(first.stdout)
    assert "healthy: 3 links, 3 new, 3 fetched" in lines["healthy"]
    expected = {
        "bomb": "over the 10485760-byte cap",
        "slow-body": "3s request deadline",
        "slow-headers": "3s request deadline",
        "continue": "informational (1xx) answers",
        "huge-header": "RemoteProtocolError",
        "many-headers": "header fields (at most 100 accepted)",
        "endless-body": "over the 10485760-byte cap",
        "bad-chunking": "RemoteProtocolError",
        "hangs-up": "RemoteProtocolError: server disconnected",
    }
    for name, reason in expected.items():
        assert lines[name].startswith(f"{name}: FAILED (error): "), lines[name]
        assert reason in lines[name], lines[name]
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        stored = db.execute("SELECT count(*) FROM articles WHERE source_id = 'healthy'").fetchone()[0]
        failures = dict(db.execute("SELECT source_id, consecutive_failures FROM sources").fetchall())
        failing = {row[0] for row in db.execute("SELECT source_id FROM events WHERE type = 'source.failing'")}
    assert stored == 3
    assert failures == {name: 2 for name in expected} | {"healthy": 0}
    assert failing == set(expected)
    assert "source.failing" in lines_by_source(second.stdout)["bomb"]


@pytest.mark.parametrize("transport_name", ["ours", "httpx"])
def test_both_transports_honour_the_bounds(tmp_path: Path, transport_name: str) -> None:
    answers = {"bomb": bomb(64), "slow-body": slow_body, "continue": endless_continue, "many-headers": many_headers}
    behaviours = [Behaviour(name, on_listing(answer)) for name, answer in answers.items()]
    with hostile_server(behaviours):
        sources = "".join(source_toml(b.name, b.base + "/news/", robots="false") for b in behaviours)
        config = load_config(hostile_config(tmp_path, sources, request_deadline='"1s"', max_body_bytes="100000"))

        async def fetch_all() -> list[BaseException | Page]:
            transport = build_transport(config.http) if transport_name == "ours" else httpx.AsyncHTTPTransport()
            async with transport:
                fetcher = Fetcher(transport, config.http)
                fetches = (fetcher.fetch(s, s.url, kind="listing") for s in config.sources)
                return await asyncio.gather(*fetches, return_exceptions=True)

        outcomes = dict(zip((s.id for s in config.sources), asyncio.run(fetch_all()), strict=True))

    assert isinstance(outcomes["bomb"], FetchTooLargeError)
    assert isinstance(outcomes["slow-body"], FetchDeadlineError)
    # Our transport counts 1xx answers; httpx's reads them without end, and the request deadline ends them.
    endless = outcomes["continue"]
    assert isinstance(endless, FetchError)
    assert "informational (1xx)" in endless.reason or isinstance(endless, FetchDeadlineError)
    assert isinstance(outcomes["many-headers"], FetchProtocolError)


def slow_articles() -> Handler:
    """A listing of three links whose article pages trickle one byte a second."""
    listing_page = response(200, listing([f"/news/{n}.html" for n in range(3)]))

    async def handle(target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if target == "/news/":
            writer.write(listing_page)
        elif target.startswith("/news/"):
            await slow_body(writer)
        else:
            writer.write(response(404, b"not here"))

    return handle


def test_a_poll_past_its_deadline_is_a_counted_failure_and_the_others_go_on(tmp_path: Path, run_cli: RunCli) -> None:
    behaviours = [Behaviour("healthy", healthy()), Behaviour("slow", slow_articles())]
    with hostile_server(behaviours) as server:
        sources = "".join(source_toml(b.name, server[b.name].base + "/news/") for b in behaviours)
        config = hostile_config(tmp_path, sources, request_deadline='"60s"', poll_deadline='"2s"')
        code, out, err = run_cli("check", "--config", str(config))
        _code, status, _err = run_cli("status", "--config", str(config))
    assert code == 1, err  # a source failed: check exits 1 (cron sees it); the others were still checked
    lines = lines_by_source(out)
    assert lines["slow"] == "slow: FAILED (error): poll not finished within the 2s poll deadline"
    assert "healthy: 3 links, 3 new, 3 fetched" in lines["healthy"]
    assert "poll not finished within the 2s poll deadline" in status


def test_a_store_error_in_one_poll_is_that_source_s_failure(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = SqlStore.save_article

    def failing_save(self: SqlStore, article: ArticleState) -> int:
        if article.source_id == "broken":
            raise StorageUnavailableError("sqlite: disk I/O error")
        return real_save(self, article)

    monkeypatch.setattr(SqlStore, "save_article", failing_save)
    behaviours = [Behaviour("healthy", healthy()), Behaviour("broken", healthy())]
    with hostile_server(behaviours) as server:
        sources = "".join(source_toml(b.name, server[b.name].base + "/news/") for b in behaviours)
        config = hostile_config(tmp_path, sources)
        code, out, err = run_cli("check", "--config", str(config))
    assert code == 1, err  # a source failed: check exits 1 (cron sees it); the others were still checked
    lines = lines_by_source(out)
    assert lines["broken"] == "broken: FAILED (store): StorageUnavailableError: sqlite: disk I/O error"
    assert "healthy: 3 links, 3 new, 3 fetched" in lines["healthy"]


def test_a_store_error_before_the_state_is_read_keeps_the_baseline(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the fleet's connection-cut test: a failed poll must not save a blank state over the stored one, or
    # the next check takes the new articles for a first check's baseline and announces none of them.
    size = [3]
    real_state = SqlStore.source_state
    with hostile_server([Behaviour("site", healthy(size))]) as server:
        config = hostile_config(tmp_path, source_toml("site", server["site"].base + "/news/"))
        assert run_cli("check", "--config", str(config))[0] == 0  # the baseline: three articles, no events

        def lost(self: SqlStore, source_id: str) -> object:
            raise StorageUnavailableError("sqlite: disk I/O error")

        monkeypatch.setattr(SqlStore, "source_state", lost)
        code, out, _err = run_cli("check", "--config", str(config))
        monkeypatch.setattr(SqlStore, "source_state", real_state)
        size[0] = 4
        again, out_again, err = run_cli("check", "--config", str(config))

    assert code == 1 and "site: FAILED (store)" in out
    assert again == 0, err
    assert "1 new" in out_again and "events: 1 article.published" in out_again
