"""Benchmark of the PostgreSQL fleet: polls per second and CPU per poll with 1, 2 and 3 members, next to the
one-process SQLite service in the same run (with --baseline, another checkout's members too, in turn); and failover,
the time from SIGKILL of a member until every source has been polled again by the others.

Every member is a real `monitor run` process; CPU is read from /proc for the members and for the PostgreSQL backends
serving the benchmark's database (its share is part of the fleet's cost; the server's other databases are not).
Sources are imported into PostgreSQL once; every configuration starts from a copy of that database. The window
starts once every process has logged that it runs, so start-up (reading 10,000 sources) is not counted.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg

from bench.daemon_runner import Daemon
from bench.monitor_runner import Monitor, compile_checkout, current_checkout, use_checkout
from bench.options import Options
from bench.pg import PG_ADMIN, fresh_database
from bench.simproc import SimProcess
from bench.site import Layout

__all__ = ["run_fleet"]

WARMUP_S = 20.0
STARTUP_TIMEOUT_S = 600.0
WINDOW_S = 30.0
# Short enough that every configuration is saturated: the figure is how many polls it can do, not how many it is asked.
INTERVAL = "5s"
FAILOVER_SOURCES = 200
FAILOVER_INTERVAL_S = 5
FAILOVER_HEARTBEAT_S = 1.0
_TICKS = os.sysconf("SC_CLK_TCK")


def _log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def _cpu_s(pids: list[int]) -> dict[int, float]:
    """Return the CPU seconds used so far by each of these processes that still runs."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / _TICKS
    return used


def _every_postgres_cpu_s() -> float:
    """Return the CPU seconds of every process named postgres, other databases' included (for comparison only)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        try:
            name = (entry / "comm").read_text().strip() if entry.name.isdigit() else ""
        except OSError:
            continue
        if name.startswith("postgres"):
            total += sum(_cpu_s([int(entry.name)]).values())
    return total


def _backends(database: str) -> list[int]:
    """Return the pids of the PostgreSQL backends serving `database` (the server's other databases are not ours)."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)).fetchall()
    return [int(pid) for (pid,) in rows]


def _postgres_cpu_s(database: str, before: dict[int, float] | None = None) -> dict[int, float]:
    """Return the CPU seconds of the database's backends, since `before` (a backend opened since: all of its CPU)."""
    now = _cpu_s(_backends(database) + list(before or {}))
    return {pid: used - (before or {}).get(pid, 0.0) for pid, used in now.items()}


def _wait_running(daemons: list[Daemon]) -> None:
    """Wait until every daemon has logged that it runs (it has read its sources and scheduled them)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    for daemon in daemons:
        while b"running:" not in (daemon.workdir / "daemon.log").read_bytes():
            daemon.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"a daemon did not start within {STARTUP_TIMEOUT_S:.0f}s")
            time.sleep(0.5)


def _on_postgres(monitor: Monitor, url: str) -> None:
    text = monitor.config.read_text(encoding="utf-8")
    monitor.config.write_text(text.replace(f"sqlite:///{monitor.database}", url), encoding="utf-8")


def _member(monitor: Monitor, n: int, *args: str) -> Daemon:
    workdir = monitor.workdir / f"member-{n}"
    workdir.mkdir(exist_ok=True)
    return Daemon(monitor.config, workdir, args=args)


def _measure(sim: SimProcess, members: list[Daemon], database: str | None) -> dict[str, Any]:
    _wait_running(members)
    time.sleep(WARMUP_S)
    for member in members:
        member.check_alive()
    sim.stats(clear=True)
    cpu_before = sum(member.cpu_s() for member in members)
    db_before = _postgres_cpu_s(database) if database else {}
    every_before = _every_postgres_cpu_s()
    started = time.monotonic()
    time.sleep(WINDOW_S)
    polls = int(sim.stats(clear=True)["not_modified"])
    elapsed = time.monotonic() - started
    cpu = sum(member.cpu_s() for member in members) - cpu_before
    db = sum(_postgres_cpu_s(database, db_before).values()) if database else 0.0
    every = _every_postgres_cpu_s() - every_before
    return {
        "members": len(members),
        "polls": polls,
        "polls_per_s": polls / elapsed,
        "member_cpu_ms_per_poll": cpu / max(polls, 1) * 1000,
        "database_cpu_ms_per_poll": db / max(polls, 1) * 1000,
        "cpu_ms_per_poll": (cpu + db) / max(polls, 1) * 1000,
        "every_postgres_cpu_ms_per_poll": every / max(polls, 1) * 1000,
        "load_average": os.getloadavg()[0],
        "peak_rss_mb": max(member.memory_mb()["peak_rss_mb"] for member in members),
    }


def _members(sim: SimProcess, fleet: Monitor, count: int, checkout: Path | None) -> dict[str, Any]:
    """Measure `count` members of `checkout` (None: the one the benchmark runs) on the fleet's database."""
    previous = current_checkout()
    use_checkout(checkout or previous)
    compile_checkout()
    try:
        with ExitStack() as stack:
            members = [stack.enter_context(_member(fleet, n)) for n in range(count)]
            return _measure(sim, members, _database_name(fleet))
    finally:
        use_checkout(previous)


def _database_name(monitor: Monitor) -> str:
    for line in monitor.config.read_text(encoding="utf-8").splitlines():
        if line.startswith("database = ") and "postgresql://" in line:
            return line.rsplit("/", 1)[1].strip('"')
    raise RuntimeError(f"{monitor.config}: no PostgreSQL database")


def _throughput(opts: Options, sim: SimProcess, layout: Layout) -> dict[str, Any]:
    source = {"interval": INTERVAL, "revisit": "0"}
    one = Monitor(opts.workdir / "fleet-sqlite", layout, sim.bases, source=source)
    one.reset()
    _log(f"fleet: first import of {layout.sources} sources into SQLite (baseline, not measured)")
    one.check()
    with Daemon(one.config, one.workdir) as daemon:
        _log("fleet: one-process SQLite service")
        results: dict[str, Any] = {"sqlite": _measure(sim, [daemon], None)}
    with fresh_database() as template_url:
        imported = Monitor(opts.workdir / "fleet-pg-import", layout, sim.bases, source=source)
        _on_postgres(imported, template_url)
        _log("fleet: first import into PostgreSQL (once; every configuration starts from a copy)")
        imported.check()
        template = template_url.rsplit("/", 1)[1]
        checkouts: list[tuple[str, Path | None]] = [("", None)]
        if opts.baseline is not None:
            checkouts.insert(0, ("baseline_", opts.baseline))
        for count in (1, 2, 3):
            for label, checkout in checkouts:
                with fresh_database(template=template) as url:
                    fleet = Monitor(opts.workdir / f"fleet-pg-{label}{count}", layout, sim.bases, source=source)
                    _on_postgres(fleet, url)
                    _log(f"fleet: {count} {label}member(s)")
                    results[f"postgres_{label}{count}"] = _members(sim, fleet, count, checkout)
    return results


def _failover_once(sim: SimProcess, members: list[Daemon], layout: Layout, victim: int) -> float:
    """Kill one member; return the seconds until every source has been polled again after the kill."""
    time.sleep(FAILOVER_INTERVAL_S * 1.5)
    sim.stats(clear=True)
    killed = time.monotonic()
    os.kill(members[victim].pid, signal.SIGKILL)
    paths = {layout.listing_path(i) for i in range(layout.sources)}
    seen: dict[str, float] = {}
    deadline = killed + FAILOVER_INTERVAL_S * 6
    while time.monotonic() < deadline and not paths <= seen.keys():
        time.sleep(0.25)
        for path, started in sim.stats(clear=True)["first_started"].items():
            if path in paths:
                seen.setdefault(path, started)
    missing = paths - set(seen)
    if missing:
        raise RuntimeError(f"failover: {len(missing)} sources not polled within {deadline - killed:.0f}s")
    return max(seen[path] for path in paths) - killed


def _failover(opts: Options, sim: SimProcess, layout: Layout) -> dict[str, Any]:
    runs = 10 if not opts.quick else 3
    samples: list[float] = []
    with fresh_database() as url:
        fleet = Monitor(
            opts.workdir / "fleet-failover", layout, sim.bases, source={"interval": f"{FAILOVER_INTERVAL_S}s"}
        )
        _on_postgres(fleet, url)
        fleet.check()
        heartbeat = ("--heartbeat", str(FAILOVER_HEARTBEAT_S))
        with ExitStack() as stack:
            members = [stack.enter_context(_member(fleet, n, *heartbeat)) for n in range(3)]
            for run in range(runs):
                victim = run % 3
                samples.append(_failover_once(sim, members, layout, victim))
                _log(f"fleet: failover {run + 1}/{runs}: every source polled again {samples[-1]:.1f}s after the kill")
                replacement = stack.enter_context(_member(fleet, 10 + run, *heartbeat))
                members[victim] = replacement
    return {
        "interval_s": FAILOVER_INTERVAL_S,
        "heartbeat_s": FAILOVER_HEARTBEAT_S,
        "sources": layout.sources,
        "samples_s": samples,
        "median_s": statistics.median(samples),
        "max_s": max(samples),
    }


def run_fleet(opts: Options) -> dict[str, Any]:
    """Return the fleet's throughput with 1-3 members beside the one-process service, and its failover times."""
    sources = 2_000 if opts.quick else opts.rss_sources
    layout = Layout(sources, 1, opts.hosts)
    with SimProcess(layout) as sim:
        throughput = _throughput(opts, sim, layout)
    small = Layout(FAILOVER_SOURCES, 1, opts.hosts)
    with SimProcess(small) as sim:
        failover = _failover(opts, sim, small)
    return {"sources": sources, "throughput": throughput, "failover": failover}
