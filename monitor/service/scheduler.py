"""APScheduler behind `monitor run`: one job per source, whose only work is to hand the source to the admission queue.

Interval sources use APScheduler's IntervalTrigger started at the source's first due time, which carries its fixed
phase (APScheduler 3's own `jitter` is positive-only and drawn anew at every run, so it would drift sources together).
Cron sources use `PhasedCronTrigger`, a BaseTrigger over this project's cron maths (schedule.next_cron): APScheduler
3's `CronTrigger.from_crontab` numbers weekdays from Monday and ANDs day-of-month with day-of-week, unlike cron
(agronholm/apscheduler#286, #1102; fixed only in 4.x). Every job runs with `coalesce=True`, `max_instances=1` and
`misfire_grace_time=None`: runs missed during a sleep or a pause become one, however late.
"""

from __future__ import annotations

import bisect
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import datetime_to_utc_timestamp

from monitor.service.schedule import CronSpec, Schedule, next_cron

__all__ = [
    "JOB_DEFAULTS",
    "InlineExecutor",
    "PhasedCronTrigger",
    "Scheduling",
    "SortedJobStore",
    "SourceScheduler",
    "trigger_for",
]

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


class InlineExecutor(BaseExecutor):  # type: ignore[misc]  # apscheduler 3 ships no type information
    """Run a due job's function at once, on the loop, and dispatch its events.

    A job here only hands its source to the admission queue: it needs no task, thread or completion callback, which
    AsyncIOExecutor spends on every run (a task per coroutine run, a thread per plain function). A run cannot overlap
    the next, so `max_instances=1` holds; a function that raises is logged by APScheduler's `run_job`, as elsewhere.
    """

    def submit_job(self, job: Job, run_times: list[datetime]) -> None:
        for event in run_job(job, job._jobstore_alias, run_times, self._logger.name):
            self._scheduler._dispatch_event(event)

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        self.submit_job(job, run_times)


class SortedJobStore(MemoryJobStore):  # type: ignore[misc]  # apscheduler 3 ships no type information
    """APScheduler's MemoryJobStore, finding a job's place with `bisect` over a parallel list of sort keys.

    MemoryJobStore searches its list with a binary search written in Python, twice for every run (about 14 steps
    each at 10,000 jobs). Here `_keys` holds each entry's (timestamp, id) in the same order as `_jobs`, and every
    change to one is made to the other, so the search runs in C.
    """

    def __init__(self) -> None:
        super().__init__()
        self._keys: list[tuple[float, str]] = []

    def add_job(self, job: Job) -> None:
        if job.id in self._jobs_index:
            raise ConflictingIdError(job.id)
        self._insert(job, datetime_to_utc_timestamp(job.next_run_time))

    def update_job(self, job: Job) -> None:
        old, timestamp = self._jobs_index.get(job.id, (None, None))
        if old is None:
            raise JobLookupError(job.id)
        index = self._get_job_index(timestamp, job.id)
        new_timestamp = datetime_to_utc_timestamp(job.next_run_time)
        if new_timestamp == timestamp:
            self._jobs[index] = (job, timestamp)
            self._jobs_index[job.id] = (job, timestamp)
            return
        del self._jobs[index], self._keys[index]
        self._insert(job, new_timestamp)

    def remove_job(self, job_id: str) -> None:
        job, timestamp = self._jobs_index.get(job_id, (None, None))
        if job is None:
            raise JobLookupError(job_id)
        index = self._get_job_index(timestamp, job_id)
        del self._jobs[index], self._keys[index], self._jobs_index[job_id]

    def remove_all_jobs(self) -> None:
        super().remove_all_jobs()
        self._keys = []

    def _insert(self, job: Job, timestamp: float | None) -> None:
        key = self._key(timestamp, job.id)
        index = bisect.bisect_left(self._keys, key)
        self._jobs.insert(index, (job, timestamp))
        self._keys.insert(index, key)
        self._jobs_index[job.id] = (job, timestamp)

    def _get_job_index(self, timestamp: float | None, job_id: str) -> int:
        return bisect.bisect_left(self._keys, self._key(timestamp, job_id))

    @staticmethod
    def _key(timestamp: float | None, job_id: str) -> tuple[float, str]:
        return (float("inf") if timestamp is None else timestamp, job_id)


class _LoopScheduler(AsyncIOScheduler):  # type: ignore[misc]  # apscheduler 3 ships no type information
    """AsyncIOScheduler whose own timer wakes it directly.

    AsyncIOScheduler's `wakeup` may be called from any thread, so it goes through `call_soon_threadsafe`: every timer
    fire would write to the loop's self-pipe and take one more turn of the loop. Its timer already runs on the loop.
    """

    def _start_timer(self, wait_seconds: float | None) -> None:
        self._stop_timer()
        if wait_seconds is not None:
            self._timeout = self._eventloop.call_later(wait_seconds, self._wakeup_on_loop)

    def _wakeup_on_loop(self) -> None:
        self._stop_timer()
        self._start_timer(self._process_jobs())


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
        self._scheduler = _LoopScheduler(
            timezone=UTC,
            job_defaults=JOB_DEFAULTS,
            executors={"default": InlineExecutor()},
            jobstores={"default": SortedJobStore()},
        )

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

    def _fire(self, source_id: str) -> None:
        self._on_due(source_id)
