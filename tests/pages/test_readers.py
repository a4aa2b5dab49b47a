"""Page readers: real worker processes read pages exactly as the event loop would, start late, stop when idle."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import zlib
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import FIXTURES, ROOT, RunCli

from monitor.config import Source, load_config
from monitor.errors import ConfigError
from monitor.http import Page
from monitor.pages import Observation, PageReaders, read_article
from monitor.sim import MFA_EN_PRESS, Newsroom, SimServer, SimSite, packaged_pages, write_sources_config

T = TypeVar("T")
CONFIG = load_config(ROOT / "config" / "sources.toml")
EN = CONFIG.source("mfa-en-press")
ZH = CONFIG.source("mfa-zh-fyrbt")
EN_ARTICLE = "fmprc/en_article_t1793427_regular-press-conference_2020-06-30.html"
ZH_ARTICLE = "fmprc/zh_article_t1793459_fyrbt-statement_2020-06-30.html"
ZH_ERROR = "fmprc/zh_error-page_2020-07-04.html"

# (source, page body, the kind of observation it must give)
PAGES: dict[str, tuple[Source, bytes, str]] = {
    "en article": (EN, (FIXTURES / EN_ARTICLE).read_bytes(), "content"),
    "zh article": (ZH, (FIXTURES / ZH_ARTICLE).read_bytes(), "content"),
    "zh error page": (ZH, (FIXTURES / ZH_ERROR).read_bytes(), "missing"),
    "no body": (EN, b"<html><head><title>x</title></head><body><p>nothing here</p></body></html>", "failed"),
}


def page(body: bytes, name: str = "t1793427") -> Page:
    url = f"https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/{name}.shtml"
    return Page(url, url, 200, body, "text/html", '"etag"', "Tue, 30 Jun 2020 10:00:00 GMT")


def run(body: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(body())


async def until_running(readers: PageReaders, timeout: float = 10.0) -> None:
    """Wait for the worker processes, which start in the background while pages are read in place."""
    for _ in range(int(timeout / 0.01)):
        if readers.running:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the page readers did not start")


async def read_remotely(readers: PageReaders, source: Source, body: bytes) -> Observation:
    """Read one page in a worker process (starting the workers first), failing if it was read in place."""
    if not readers.running:
        await readers.read(source, page(body))  # read in place; asks for the workers
    await until_running(readers)
    pids = set(readers.pids)
    observation = await readers.read(source, page(body))
    # None lost; under load the second of two workers may still have been starting when the first answered.
    assert pids <= set(readers.pids), "a worker was lost"
    return observation


@pytest.mark.parametrize("name", PAGES)
def test_a_worker_process_reads_a_page_exactly_as_the_event_loop_would(name: str) -> None:
    source, body, kind = PAGES[name]
    inline = read_article(source, page(body))
    readers = PageReaders(1, start_after=0)

    async def main() -> Observation:
        try:
            return await read_remotely(readers, source, body)
        finally:
            readers.close()

    remote = run(main)

    assert remote == inline
    assert remote.kind == kind
    if kind == "content":
        assert remote.raw_zlib is not None and zlib.decompress(remote.raw_zlib) == body
        assert remote.content_hash and remote.extracted is not None and remote.extracted.text


def test_workers_start_only_after_the_first_pages_of_a_burst_and_stop_when_idle() -> None:
    source, body, _kind = PAGES["en article"]
    readers = PageReaders(1, start_after=3, idle_s=0.3)
    seen: list[bool] = []

    async def main() -> None:
        try:
            for _ in range(3):
                await readers.read(source, page(body))
                seen.append(readers.running)
            await readers.read(source, page(body))  # the fourth page of the burst starts the workers
            await until_running(readers)
            seen.append(readers.running)
            await asyncio.sleep(1.0)  # idle for longer than idle_s
            seen.append(readers.running)
            for _ in range(3):  # a new burst reads its first pages here again
                await readers.read(source, page(body))
            seen.append(readers.running)
        finally:
            readers.close()

    run(main)

    assert seen == [False, False, False, True, False, False]


def test_no_processes_means_every_page_is_read_in_place() -> None:
    source, body, _kind = PAGES["en article"]
    readers = PageReaders(0, start_after=0)

    async def main() -> list[Observation]:
        return [await readers.read(source, page(body)) for _ in range(5)]

    results = run(main)

    assert not readers.running
    assert all(r == read_article(source, page(body)) for r in results)


def test_a_killed_worker_loses_no_page_and_the_pool_comes_back() -> None:
    source, body, _kind = PAGES["zh article"]
    expected = read_article(source, page(body))
    readers = PageReaders(1, start_after=0)
    results: list[Observation] = []

    async def main() -> None:
        try:
            results.append(await read_remotely(readers, source, body))
            killed = readers.pids
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.5)  # let the event loop see the socket close
            results.append(await readers.read(source, page(body)))  # read in place; another worker starts
            results.append(await read_remotely(readers, source, body))  # read by the new worker
            assert readers.running and not set(readers.pids) & set(killed)
        finally:
            readers.close()

    run(main)

    assert results == [expected, expected, expected]


def test_many_pages_in_flight_at_once_all_come_back_right() -> None:
    pages = [(name, *PAGES[name]) for name in ("en article", "zh article", "zh error page")] * 8
    readers = PageReaders(2, start_after=0)

    async def main() -> list[Observation]:
        try:
            return list(await asyncio.gather(*(readers.read(source, page(body)) for _n, source, body, _k in pages)))
        finally:
            readers.close()

    results = run(main)

    assert [r.kind for r in results] == [kind for _n, _s, _b, kind in pages]
    assert results == [read_article(source, page(body)) for _n, source, body, _k in pages]


@pytest.mark.parametrize(
    ("line", "expected"),
    [("", None), ('read_workers = "auto"', None), ("read_workers = 0", 0), ("read_workers = 3", 3)],
)
def test_read_workers_setting(tmp_path: Path, line: str, expected: int | None) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(f'[monitor]\ndatabase = "sqlite:///{tmp_path}/m.db"\n{line}\n', encoding="utf-8")

    assert load_config(path).read_workers == expected


@pytest.mark.parametrize("value", ["-1", '"two"', "1.5"])
def test_a_bad_read_workers_setting_names_the_key(tmp_path: Path, value: str) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(f"[monitor]\nread_workers = {value}\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert "read_workers" in str(caught.value) and str(path) in str(caught.value)


def test_pages_past_the_bound_are_read_in_place_and_the_rest_by_the_worker() -> None:
    # One worker holding 2 pages, 3 more waiting for it: of 20 pages arriving at once, 15 are read here at once
    # (the bound on fetched pages held in memory) and 5 by the worker, all correct.
    source, body, _kind = PAGES["en article"]
    expected = read_article(source, page(body))
    readers = PageReaders(1, start_after=0, queued=2, waiting=3)

    async def main() -> list[Observation]:
        try:
            await read_remotely(readers, source, body)
            here, remote = readers.read_here, readers.read_by_workers
            results = await asyncio.gather(*(readers.read(source, page(body)) for _ in range(20)))
            assert (readers.read_here - here, readers.read_by_workers - remote) == (15, 5)
            return list(results)
        finally:
            readers.close()

    assert run(main) == [expected] * 20


def test_a_worker_killed_with_pages_in_flight_loses_none_of_them() -> None:
    source, body, _kind = PAGES["zh article"]
    expected = read_article(source, page(body))
    readers = PageReaders(1, start_after=0)

    async def main() -> list[Observation]:
        try:
            await read_remotely(readers, source, body)
            reads = asyncio.gather(*(readers.read(source, page(body)) for _ in range(30)))
            await asyncio.sleep(0)  # the pages are handed over
            for pid in readers.pids:
                os.kill(pid, signal.SIGKILL)
            return list(await reads)
        finally:
            readers.close()

    assert run(main) == [expected] * 30


def test_closing_with_pages_in_flight_reads_them_here_and_starts_no_worker(capfd: pytest.CaptureFixture[str]) -> None:
    source, body, _kind = PAGES["en article"]
    expected = read_article(source, page(body))
    readers = PageReaders(2, start_after=0)

    async def main() -> list[Observation]:
        await read_remotely(readers, source, body)
        reads = asyncio.gather(*(readers.read(source, page(body)) for _ in range(40)))
        await asyncio.sleep(0)
        readers.close()
        results = list(await reads)
        assert not readers.running and not readers.pids
        await asyncio.sleep(0.2)
        assert not readers.running
        return results

    assert run(main) == [expected] * 40
    assert "Traceback" not in capfd.readouterr().err  # the workers, told to stop mid-burst, exit quietly


ARTICLES_PER_LISTING = 20


def many_article_site(listings: int) -> Newsroom:
    """`listings` copies of the real EN listing, each linking 20 distinct copies of the real EN article pages."""
    return Newsroom(SimSite(), listings, ARTICLES_PER_LISTING, random.Random(0), packaged_pages())


def config_for(tmp_path: Path, base: str, newsroom: Newsroom, read_workers: int) -> Path:
    """One source per listing with the shipped mfa-en-press settings, storing in its own SQLite file."""
    sources = [(f"l{i}", f"Listing {i}", base + path) for i, path in enumerate(newsroom.listing_paths())]
    monitor = {"read_workers": read_workers, "host_delay": "0s", "host_concurrency": 4, "timeout": "10s"}
    database = tmp_path / f"w{read_workers}.db"
    path = tmp_path / f"w{read_workers}.toml"
    return write_sources_config(path, sources, database, template=MFA_EN_PRESS, monitor=monitor, source={})


def stored_versions(database: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as conn:
        return conn.execute(
            "SELECT a.source_id, a.url, a.content_hash, v.version, v.title, v.published, v.body_text,"
            " v.content_hash, v.raw FROM versions v JOIN articles a ON a.id = v.article_id ORDER BY a.url"
        ).fetchall()


class _PatientReaders(PageReaders):
    """Page readers that start their workers at once and, after the first page, wait for them to be up.

    Only so that the test knows pages went through the workers: real ones read pages in place while workers start.
    """

    def __init__(self, processes: int) -> None:
        super().__init__(processes, start_after=0)
        self.processes = processes
        instances.append(self)

    async def read(self, source: Source, page: Page, fallback: bool = False, propose: bool = False) -> Observation:
        if self.processes and self.read_here + self.read_by_workers:
            await until_running(self)
        return await super().read(source, page, fallback, propose)


instances: list[_PatientReaders] = []


def test_monitor_check_stores_the_same_with_worker_processes_as_without(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    listings = 3
    monkeypatch.setattr("monitor.app.PageReaders", _PatientReaders)
    instances.clear()
    newsroom = many_article_site(listings)
    with SimServer(newsroom.site) as server:
        for workers in (0, 2):
            code, _out, err = run_cli(
                "check", "--config", str(config_for(tmp_path, server.base_url(), newsroom, workers))
            )
            assert code == 0, err

    in_place, by_workers = instances
    assert (in_place.read_here, in_place.read_by_workers) == (listings * ARTICLES_PER_LISTING, 0)
    assert by_workers.read_by_workers >= listings * ARTICLES_PER_LISTING - 1 and not by_workers.running
    alone, with_workers = stored_versions(tmp_path / "w0.db"), stored_versions(tmp_path / "w2.db")
    assert len(alone) == listings * ARTICLES_PER_LISTING
    assert alone == with_workers
