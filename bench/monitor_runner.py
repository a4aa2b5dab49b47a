"""Run `python -m monitor check` as a measured child process against the benchmark site, and read its store."""

from __future__ import annotations

import compileall
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

from bench.measure import Run, run_measured
from bench.rivals import clean_env
from bench.site import ROOT, Layout, write_monitor_config

__all__ = ["BENCH_MONITOR", "BENCH_SOURCE", "Monitor", "current_checkout", "use_checkout"]

# The production defaults (host_concurrency = 1, host_delay = "1s") are politeness toward a real ministry's
# server, not a speed limit; against the loopback simulator the benchmark lifts them.
BENCH_MONITOR: dict[str, Any] = {"concurrency": 32, "host_concurrency": 8, "host_delay": "0s", "timeout": "30s"}
# A one-day interval keeps revisits (due no earlier than one interval after an article is first seen) out of
# the cycles measured here: a warm cycle is "nothing changed and nothing due".
BENCH_SOURCE: dict[str, Any] = {"interval": "1d"}


_checkout: Path | None = None


def use_checkout(root: Path | None) -> None:
    """Run `python -m monitor` from another checkout (e.g. an export of the code before a change), or this one."""
    global _checkout
    _checkout = root


def current_checkout() -> Path | None:
    """Return the checkout that `python -m monitor` children run from (None: this one)."""
    return _checkout


def compile_checkout(root: Path | None = None) -> None:
    """Write the bytecode of `monitor` and `storage` in a checkout, as `pip install` does for an installed copy.

    An editable checkout run with PYTHONDONTWRITEBYTECODE=1 (as on our machines) would otherwise compile every
    module from source on each start, ~0.1 s of CPU that no installed program pays (urlwatch's venv has its
    bytecode). Stale .pyc files are rewritten (compileall checks the source's mtime).
    """
    base = root or _checkout or ROOT
    for package in ("monitor", "storage"):
        compileall.compile_dir(base / package, quiet=1)


def monitor_env(workdir: Path, checkout: Path | None = None) -> dict[str, str]:
    """Return the environment for a `python -m monitor` child, importing from `checkout` (or use_checkout's)."""
    env = clean_env(workdir)
    root = checkout or _checkout
    if root is not None:
        env["PYTHONPATH"] = str(root)
    return env


class Monitor:
    """ministry-monitor with its config and SQLite store in `workdir`."""

    def __init__(
        self,
        workdir: Path,
        layout: Layout,
        bases: dict[str, str],
        *,
        monitor: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        extra: str = "",
        checkout: Path | None = None,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        compile_checkout(checkout)
        self.workdir = workdir
        self.checkout = checkout
        self.database = workdir / "monitor.db"
        settings = {**BENCH_MONITOR, **(monitor or {})}
        self.config = write_monitor_config(
            workdir / "sources.toml",
            layout,
            bases,
            self.database,
            monitor=settings,
            source={**BENCH_SOURCE, **(source or {})},
            extra=extra,
        )

    def argv(self, command: str = "check") -> list[str]:
        return [sys.executable, "-m", "monitor", command, "--config", str(self.config)]

    def check(self) -> Run:
        """Poll every source once; return the measurements."""
        return run_measured(self.argv(), env=monitor_env(self.workdir, self.checkout), cwd=self.workdir)

    def startup(self) -> Run:
        """Start the program and load the config without polling (`monitor validate`): the fixed cost of a run."""
        return run_measured(self.argv("validate"), env=monitor_env(self.workdir, self.checkout), cwd=self.workdir)

    def reset(self) -> None:
        """Delete the store (a first import starts from nothing)."""
        for path in self.workdir.glob("monitor.db*"):
            path.unlink()

    def use_store(self, source: Path) -> None:
        """Replace the store with a copy of `source`."""
        self.reset()
        shutil.copyfile(source, self.database)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.database) as conn:
            return conn.execute(sql, params).fetchall()

    def last_event_seq(self) -> int:
        return int(self.query("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])

    def events_after(self, seq: int) -> list[tuple[str, str, str | None]]:
        """Return (type, source id, article URL) of every event stored after `seq`."""
        rows = self.query("SELECT type, source_id, article_url FROM events WHERE seq > ? ORDER BY seq", (seq,))
        return [(str(t), str(s), u) for t, s, u in rows]

    def count_versions(self) -> int:
        return int(self.query("SELECT COUNT(*) FROM versions")[0][0])
