"""APScheduler behind `monitor run`: one job per source, whose only work is to hand the source to the admission queue.

Interval sources use APScheduler's IntervalTrigger started at the source's first due time, which carries its fixed
phase (APScheduler 3's own `jitter` is positive-only and drawn anew at every run, so it would drift sources together).
Cron sources use `PhasedCronTrigger`, a BaseTrigger over this project's cron maths (schedule.next_cron): APScheduler
3's `CronTrigger.from_crontab` numbers weekdays from Monday and ANDs day-of-month with day-of-week, unlike cron
(agronholm/apscheduler#286, #1102; fixed only in 4.x). Every job runs with `coalesce=True`, `max_instances=1` and
`misfire_grace_time=None`: runs missed during a sleep or a pause become one, however late.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.service.schedule import CronSpec, Schedule, next_cron

__all__ = ["JOB_DEFAULTS", "PhasedCronTrigger", "Scheduling", "SourceScheduler", "trigger_for"]

JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}

# APScheduler logs every job it adds and runs at INFO: thousands of lines an hour with nothing to say.
logging.getLogger("apscheduler").setLevel(logging.WARNING)


class PhasedCronTrigger(BaseTrigger):  # type: ignore[misc]  # apscheduler 3 ships no type information
    """Fire at the cron expression's times in its zone, each moved later by the source's fixed `offset`."""

    def __init__(self, spec: CronSpec, zone: ZoneInfo, offset: timedelta) -> None:
        self.spec, self.zone, self.offset = spec, zone, offset

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        """Return the first fire time after the previous one (or from `now` on, for the first)."""
        after = previous_fire_time if previous_fire_time is not None else now - timedelta(microseconds=1)
        return next_cron(self.spec, after - self.offset, self.zone) + self.offset

    def __str__(self) -> str:
        return f"cron[{self.zone.key}, +{self.offset.total_seconds():.0f}s]"


def trigger_for(schedule: Schedule, first_due: datetime, spread: float) -> BaseTrigger:
    """Return the trigger of a source first due at `first_due`, with the jitter phase that `spread` picked.

    An interval trigger starts at the first due time, which keeps the phase; a cron trigger adds the fixed offset.
    """
    if schedule.cron is None:
        return IntervalTrigger(seconds=schedule.interval.total_seconds(), start_date=first_due, timezone=UTC)
    return PhasedCronTrigger(schedule.cron, schedule.timezone, schedule.jitter * spread)


class Scheduling(Protocol):
    """What the daemon needs of its scheduler: this process's SourceScheduler, or a fleet member's (fleet.py)."""

    local_delivery: bool
    """Whether this process delivers webhooks itself (a fleet delivers them as jobs)."""

    @property
    def running(self) -> bool: ...
    def spread(self, source_id: str) -> float: ...
    def put(self, source_id: str, schedule: Schedule, first_due: datetime, spread: float) -> None: ...
    def remove(self, source_id: str) -> None: ...
    def due_at(self, source_id: str) -> datetime | None: ...
    def start(self) -> None: ...
    def wake(self) -> None: ...
    def shutdown(self) -> None: ...
    async def close(self) -> None: ...
    def reloaded(self) -> None: ...


class SourceScheduler:
    """The service's AsyncIOScheduler: one job per source id, calling `on_due(source_id)` on the loop when due."""

    local_delivery = True

    def __init__(self, on_due: Callable[[str], None]) -> None:
        self._on_due = on_due
        self._scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)

    @property
    def running(self) -> bool:
        """Return whether the scheduler has been started and not shut down."""
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Start scheduling on the running event loop."""
        self._scheduler.start()

    def shutdown(self) -> None:
        """Stop scheduling; jobs already handed over are not affected."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def spread(self, source_id: str) -> float:
        """Return a new random jitter phase for a source."""
        return random.random()

    async def close(self) -> None:
        """Nothing to release: `shutdown` stopped everything."""

    def reloaded(self) -> None:
        """Nothing to tell anyone: this process is the whole service."""

    def put(self, source_id: str, schedule: Schedule, first_due: datetime, spread: float) -> None:
        """Add a source's job, or replace its trigger, so that it is next due at `first_due` (see `first_run`).

        The first run time is given, not derived by the trigger: by the time thousands of jobs are added, a first due
        time of "now" has passed, and IntervalTrigger would then skip a whole interval.
        """
        self._scheduler.add_job(
            self._fire,
            trigger_for(schedule, first_due, spread),
            args=(source_id,),
            id=source_id,
            name=source_id,
            replace_existing=True,
            next_run_time=first_due,
        )

    def remove(self, source_id: str) -> None:
        """Stop scheduling a source (nothing happens if it is not scheduled)."""
        try:
            self._scheduler.remove_job(source_id)
        except JobLookupError:
            pass

    def due_at(self, source_id: str) -> datetime | None:
        """Return when a source's job next runs, or None if it is not scheduled."""
        job = self._scheduler.get_job(source_id)
        next_run: datetime | None = getattr(job, "next_run_time", None)
        return next_run.astimezone(UTC) if next_run is not None else None

    def job_ids(self) -> list[str]:
        """Return the ids of the scheduled sources."""
        return [job.id for job in self._scheduler.get_jobs()]

    def wake(self) -> None:
        """Look at the wall clock now: the loop's timers stand still while the machine sleeps."""
        if self._scheduler.running:
            self._scheduler.wakeup()

    async def _fire(self, source_id: str) -> None:
        # A coroutine, so that AsyncIOExecutor runs it on the loop (a plain function would go to a thread).
        self._on_due(source_id)
        await asyncio.sleep(0)
