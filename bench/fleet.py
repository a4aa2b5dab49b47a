"""Benchmark of the PostgreSQL fleet: polls per second and CPU per poll with 1, 2 and 3 members, next to the
one-process SQLite service in the same run; and failover, the time from SIGKILL of a member until every source has
been polled again by the others.

Every member is a real `monitor run` process; CPU is read from /proc for the members and for every PostgreSQL
server process (the database's share is part of the fleet's cost).
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.daemon_runner import Daemon
from bench.monitor_runner import Monitor
from bench.options import Options
from bench.pg import fresh_database
from bench.simproc import SimProcess
from bench.site import Layout

__all__ = ["run_fleet"]

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
WARMUP_S = 20.0
WINDOW_S = 30.0
# Short enough that every configuration is saturated: the figure is how many polls it can do, not how many it is asked.
INTERVAL = "5s"
FAILOVER_SOURCES = 200
FAILOVER_INTERVAL_S = 5
FAILOVER_HEARTBEAT_S = 1.0
_TICKS = os.sysconf("SC_CLK_TCK")


def _log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def _postgres_cpu_s() -> float:
    """Return the CPU seconds used so far by every process named postgres (the server and its backends)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        if name.startswith("postgres"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def _on_postgres(monitor: Monitor, url: str) -> None:
    text = monitor.config.read_text(encoding="utf-8")
    monitor.config.write_text(text.replace(f"sqlite:///{monitor.database}", url), encoding="utf-8")


def _member(monitor: Monitor, n: int, *args: str) -> Daemon:
    workdir = monitor.workdir / f"member-{n}"
    workdir.mkdir(exist_ok=True)
    return Daemon(monitor.config, workdir, args=args)


def _measure(sim: SimProcess, members: list[Daemon], postgres: bool) -> dict[str, Any]:
    time.sleep(WARMUP_S)
    for member in members:
        member.check_alive()
    sim.stats(clear=True)
    cpu_before = sum(member.cpu_s() for member in members)
    db_before = _postgres_cpu_s() if postgres else 0.0
    started = time.monotonic()
    time.sleep(WINDOW_S)
    polls = int(sim.stats(clear=True)["not_modified"])
    elapsed = time.monotonic() - started
    cpu = sum(member.cpu_s() for member in members) - cpu_before
    db = (_postgres_cpu_s() - db_before) if postgres else 0.0
    return {
        "members": len(members),
        "polls": polls,
        "polls_per_s": polls / elapsed,
        "member_cpu_ms_per_poll": cpu / max(polls, 1) * 1000,
        "database_cpu_ms_per_poll": db / max(polls, 1) * 1000,
        "cpu_ms_per_poll": (cpu + db) / max(polls, 1) * 1000,
        "peak_rss_mb": max(member.memory_mb()["peak_rss_mb"] for member in members),
    }


def _throughput(opts: Options, sim: SimProcess, layout: Layout) -> dict[str, Any]:
    source = {"interval": INTERVAL, "revisit": "0"}
    one = Monitor(opts.workdir / "fleet-sqlite", layout, sim.bases, source=source)
    one.reset()
    _log(f"fleet: first import of {layout.sources} sources into SQLite (baseline, not measured)")
    one.check()
    with Daemon(one.config, one.workdir) as daemon:
        _log("fleet: one-process SQLite service")
        results: dict[str, Any] = {"sqlite": _measure(sim, [daemon], postgres=False)}
    for count in (1, 2, 3):
        with fresh_database() as url:
            fleet = Monitor(opts.workdir / f"fleet-pg-{count}", layout, sim.bases, source=source)
            _on_postgres(fleet, url)
            _log(f"fleet: first import into PostgreSQL, then {count} member(s)")
            fleet.check()
            with ExitStack() as stack:
                members = [stack.enter_context(_member(fleet, n)) for n in range(count)]
                results[f"postgres_{count}"] = _measure(sim, members, postgres=True)
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
