"""Benchmark 5a: warm-cycle CPU as the store grows (10^3, 10^5, 10^6 versions); it should stay flat.

The sources are the same at every level (N listings, one live article each, all answering 304). The larger stores
add delisted articles with several versions each, written straight into SQLite: their raw HTML is left out (a warm
cycle never reads it) to keep the database a few hundred MB, and none is due for a revisit during the benchmark.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.measure import Run, median
from bench.monitor_runner import Monitor
from bench.options import Options
from bench.simproc import SimProcess
from bench.site import Layout
from storage.sql import to_db_time

__all__ = ["run_growth"]

_TEXT = "Synthetic paragraph of an older article, long enough to look like real body text. " * 4


def _split(extra: int) -> tuple[int, int]:
    """Return (articles, versions each) per source with articles * versions == extra, versions at most 10."""
    versions = max(d for d in range(1, 11) if extra % d == 0)
    return extra // versions, versions


Row = tuple[Any, ...]


def _article_rows(sources: int, per_source: int, versions: int, first_id: int, now: datetime) -> Iterator[Row]:
    next_id = first_id
    for i in range(sources):
        for k in range(per_source):
            first_seen = now - timedelta(days=1 + (k % 25), minutes=i % 60)
            url = f"http://bench.invalid/mfa_eng/s{i:05d}/old{k:05d}.shtml"
            yield (
                next_id, f"s{i:05d}", url, f"t{i:05d}{k:05d}", "live", 0, 1, to_db_time(first_seen),
                to_db_time(now), to_db_time(first_seen), versions, f"{next_id:064x}", None, None, 0, None, 0,
                None, to_db_time(now), to_db_time(now + timedelta(hours=2 + (k % 20))),
            )  # fmt: skip
            next_id += 1


def _version_rows(first_id: int, last_id: int, versions: int, now: datetime) -> Iterator[Row]:
    for article_id in range(first_id, last_id):
        for v in range(1, versions + 1):
            text = f"Version {v} of article {article_id}. {_TEXT}"
            fetched = to_db_time(now - timedelta(hours=v))
            yield (article_id, v, fetched, f"Title {article_id} v{v}", None, text, f"{article_id:056x}{v:08x}")


def _grow(database: Path, sources: int, total: int) -> None:
    extra = total // sources - 1
    if extra <= 0:
        return
    per_source, versions = _split(extra)
    now = datetime.now(UTC)
    with sqlite3.connect(database) as conn:
        first_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM articles").fetchone()[0])
        marks = ", ".join("?" * 20)
        columns = (
            "id, source_id, url, doc_id, status, on_listing, baseline, first_seen, last_seen, last_changed, version,"
            " content_hash, etag, last_modified, miss_count, first_miss_at, fail_count, last_error, last_fetch_at,"
            " next_fetch_at"
        )
        conn.executemany(
            f"INSERT INTO articles ({columns}) VALUES ({marks})",
            _article_rows(sources, per_source, versions, first_id, now),
        )
        last_id = first_id + sources * per_source
        conn.executemany(
            "INSERT INTO versions (article_id, version, fetched_at, title, published, body_text, content_hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            _version_rows(first_id, last_id, versions, now),
        )
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _prepare(opts: Options, layout: Layout, sim: SimProcess) -> dict[int, Monitor]:
    base = Monitor(opts.workdir / "growth" / "base", layout, sim.bases)
    base.reset()
    print("bench: growth setup: first import of the base store", flush=True)
    base.check()
    with sqlite3.connect(base.database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    monitors = {}
    for level in opts.growth_levels:
        monitor = Monitor(opts.workdir / "growth" / f"v{level}", layout, sim.bases)
        monitor.reset()
        shutil.copyfile(base.database, monitor.database)
        print(f"bench: growth setup: store with {level} versions", flush=True)
        _grow(monitor.database, layout.sources, level)
        monitor.check()  # settle: every source answers 304 from here on
        monitors[level] = monitor
    return monitors


def run_growth(opts: Options) -> dict[str, Any]:
    """Return warm-cycle CPU and wall (median of runs) per store size, and each level's ratio to the smallest."""
    layout = Layout(opts.sources, 1, opts.hosts)
    with SimProcess(layout) as sim:
        monitors = _prepare(opts, layout, sim)
        runs: dict[int, list[Run]] = {level: [] for level in monitors}
        counts = {level: m.count_versions() for level, m in monitors.items()}
        for n in range(opts.runs_for("growth")):
            for level, monitor in monitors.items():
                sim.stats(clear=True)
                runs[level].append(monitor.check())
                stats = sim.stats(clear=True)
                if stats["not_modified"] != layout.sources:
                    raise RuntimeError(f"growth: level {level} got {stats['statuses']}, want all 304")
            line = ", ".join(f"{lvl}: {r[-1].cpu_s:.2f}s" for lvl, r in runs.items())
            print(f"bench: growth run {n + 1}: CPU {line}", flush=True)
    smallest = min(runs)
    base_cpu = median([r.cpu_s for r in runs[smallest]])
    levels = {}
    for level, level_runs in runs.items():
        cpu = median([r.cpu_s for r in level_runs])
        levels[str(level)] = {
            "versions": counts[level],
            "db_mb": monitors[level].database.stat().st_size / 1e6,
            "cpu_s": cpu,
            "wall_s": median([r.wall_s for r in level_runs]),
            "maxrss_mb": median([r.maxrss_mb for r in level_runs]),
            "cpu_vs_smallest": cpu / base_cpu,
            "runs": [r.as_dict() for r in level_runs],
        }
    return {"sources": layout.sources, "levels": levels}
