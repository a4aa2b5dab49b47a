"""`python -m bench scheduler`: CPU per fired job of the service's scheduler, in one process, no polling at all.

10,000 interval jobs spread evenly over a 5 s interval (2,000 fires a second), each fire only counting. Three
schedulers, run in turn, each in a child process of its own: APScheduler 3 as it comes (AsyncIOExecutor, a coroutine
job, MemoryJobStore), the service's SourceScheduler (InlineExecutor, SortedJobStore), and a bare heap of due times
woken by one asyncio timer (the floor: roughly what the service's own timetable did before APScheduler came back).
This isolates what scheduling costs per poll; the daemon benchmark (`rss`) sees it only inside a warm poll's whole
cost, where the run-to-run spread on a shared machine is larger than the difference.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench.options import Options

__all__ = ["render_scheduler", "run_scheduler"]

JOBS = 10_000
INTERVAL_S = 5.0
LEAD_S = 5.0  # the first fire comes this long after the start, so adding 10,000 jobs never makes a backlog
WINDOW_S = 8.0
VARIANTS = ("apscheduler-default", "service", "heap-floor")


def run_scheduler(opts: Options) -> dict[str, Any]:
    """Return each variant's CPU per fire, over `runs` turns of all three."""
    turns = 3 if opts.runs is None else opts.runs
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    fires: dict[str, list[int]] = {name: [] for name in VARIANTS}
    for _ in range(turns):
        for name in VARIANTS:
            out = subprocess.run(
                [sys.executable, "-m", "bench.scheduler", name], capture_output=True, text=True, check=True
            )
            child = json.loads(out.stdout.strip().splitlines()[-1])
            samples[name].append(child["us_per_fire"])
            fires[name].append(child["fires"])
    return {"jobs": JOBS, "interval_s": INTERVAL_S, "window_s": WINDOW_S, "us_per_fire": samples, "fires": fires}


def render_scheduler(result: dict[str, Any]) -> list[str]:
    """Return the Markdown table of one scheduler run."""
    lines = [
        f"### Scheduler: CPU per fire, {result['jobs']:,} jobs every {result['interval_s']:g} s",
        "",
        f"| scheduler | median us per fire | runs | fires per {result['window_s']:g} s window |",
        "| --- | --- | --- | --- |",
    ]
    for name, values in result["us_per_fire"].items():
        runs = ", ".join(f"{v:.1f}" for v in values)
        lines.append(f"| {name} | {statistics.median(values):.1f} | {runs} | {result['fires'][name]} |")
    return [*lines, ""]


async def _measure(start: datetime, count: Callable[[], int]) -> dict[str, float]:
    await asyncio.sleep((start - datetime.now(UTC)).total_seconds() + LEAD_S + 1.0)
    cpu, fired = time.process_time(), count()
    await asyncio.sleep(WINDOW_S)
    fires = count() - fired
    return {"fires": fires, "us_per_fire": (time.process_time() - cpu) / max(fires, 1) * 1e6}


def _first_due(index: int, start: datetime) -> datetime:
    return start + timedelta(seconds=LEAD_S + INTERVAL_S * index / JOBS)


async def _apscheduler(service: bool) -> dict[str, float]:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    from monitor.service import JOB_DEFAULTS, Schedule, SourceScheduler

    fired = [0]
    now = datetime.now(UTC)
    if service:
        ours = SourceScheduler(lambda _source_id: fired.__setitem__(0, fired[0] + 1))
        every = Schedule(timedelta(seconds=INTERVAL_S), None, ZoneInfo("UTC"), timedelta(0))
        for n in range(JOBS):
            ours.put(f"s{n:05d}", every, _first_due(n, now), 0.0)
        ours.start()
        result = await _measure(now, lambda: fired[0])
        ours.shutdown()
        return result

    async def fire() -> None:
        fired[0] += 1

    plain = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
    for n in range(JOBS):
        first = _first_due(n, now)
        trigger = IntervalTrigger(seconds=INTERVAL_S, start_date=first, timezone=UTC)
        plain.add_job(fire, trigger, id=f"s{n:05d}", next_run_time=first)
    plain.start()
    result = await _measure(now, lambda: fired[0])
    plain.shutdown(wait=False)
    return result


async def _heap_floor() -> dict[str, float]:
    fired = [0]
    now = datetime.now(UTC)
    heap = [(_first_due(n, now), f"s{n:05d}") for n in range(JOBS)]
    heapq.heapify(heap)
    step = timedelta(seconds=INTERVAL_S)

    async def run() -> None:
        while True:
            now = datetime.now(UTC)
            while heap[0][0] <= now:
                due, source_id = heapq.heappop(heap)
                fired[0] += 1
                heapq.heappush(heap, (due + step, source_id))
            await asyncio.sleep((heap[0][0] - now).total_seconds())

    task = asyncio.create_task(run())
    result = await _measure(now, lambda: fired[0])
    task.cancel()
    return result


def _child(name: str) -> None:
    work = {"apscheduler-default": lambda: _apscheduler(False), "service": lambda: _apscheduler(True)}
    result = asyncio.run(work.get(name, _heap_floor)())
    print(json.dumps({"variant": name, **result}))


if __name__ == "__main__":
    _child(sys.argv[1])
