"""APScheduler behind the service: the triggers against tables of fixed datetimes, then a real AsyncIOScheduler."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from conftest import write_config
from test_schedule import BUSINESS, LONDON, NOW, SHANGHAI, TEN_MIN, source, utc

from monitor.config import Source, load_config
from monitor.service import (
    CRON_JITTER,
    PhasedCronTrigger,
    SortedJobStore,
    SourceScheduler,
    first_run,
    schedule_for,
    trigger_for,
)

__all__ = ["source"]  # the shared fixture, used here by name


INTERVAL_CASES = [
    # (previous fire time, now, expected next): the first due time fixes the phase for good
    (None, NOW - timedelta(seconds=1), NOW + timedelta(seconds=17)),
    (NOW + timedelta(seconds=17), NOW + timedelta(seconds=18), NOW + TEN_MIN + timedelta(seconds=17)),
    (
        NOW + timedelta(hours=8, seconds=17),
        NOW + timedelta(hours=8, minutes=3),
        NOW + timedelta(hours=8, minutes=10, seconds=17),
    ),
    (None, NOW + timedelta(hours=1, minutes=1), NOW + timedelta(hours=1, minutes=10, seconds=17)),  # back from a sleep
]


@pytest.mark.parametrize(("previous", "now", "expected"), INTERVAL_CASES)
def test_an_interval_trigger_keeps_the_phase_of_the_first_due_time(
    source: Source, previous: datetime | None, now: datetime, expected: datetime
) -> None:
    schedule = schedule_for(replace(source, interval=TEN_MIN, cron=None))
    trigger = trigger_for(schedule, NOW + timedelta(seconds=17), 0.3)

    assert isinstance(trigger, IntervalTrigger)
    assert trigger.get_next_fire_time(previous, now) == expected


CRON_CASES = [
    # (zone, spread, previous fire time, now, expected next fire time in UTC)
    (SHANGHAI, 0.5, None, utc(2024, 5, 3, 15, 0), utc(2024, 5, 5, 23, 0) + CRON_JITTER / 2),  # Fri 23:00 -> Mon 07:00
    (SHANGHAI, 0.5, utc(2024, 5, 5, 23, 0) + CRON_JITTER / 2, utc(2024, 5, 5, 23, 0, 20), utc(2024, 5, 5, 23, 10, 15)),
    (SHANGHAI, 0.0, utc(2024, 5, 6, 14, 50), utc(2024, 5, 6, 14, 51), utc(2024, 5, 6, 23, 0)),  # 22:50 -> 07:00
    (LONDON, 0.0, None, utc(2024, 7, 10, 5, 59), utc(2024, 7, 10, 6, 0)),  # 07:00 BST is 06:00Z
    (LONDON, 0.0, None, utc(2024, 1, 10, 6, 59), utc(2024, 1, 10, 7, 0)),  # 07:00 GMT is 07:00Z
    (LONDON, 1.0, None, utc(2024, 1, 10, 7, 0, 10), utc(2024, 1, 10, 7, 0, 30)),  # 07:00's run with its offset is ahead
]


@pytest.mark.parametrize(("zone", "spread", "previous", "now", "expected"), CRON_CASES)
def test_a_cron_trigger_fires_at_its_zones_times_plus_a_fixed_offset(
    source: Source, zone: ZoneInfo, spread: float, previous: datetime | None, now: datetime, expected: datetime
) -> None:
    schedule = schedule_for(replace(source, cron=BUSINESS, timezone=zone))
    trigger = trigger_for(schedule, NOW, spread)

    assert isinstance(trigger, PhasedCronTrigger)
    assert trigger.get_next_fire_time(previous, now) == expected


def test_the_first_cron_run_agrees_with_the_trigger(source: Source) -> None:
    schedule = schedule_for(replace(source, cron=BUSINESS, timezone=SHANGHAI))
    now = utc(2024, 5, 3, 15, 0)
    first = first_run(schedule, now=now, last_attempt=None, spread=0.25)

    assert trigger_for(schedule, first, 0.25).get_next_fire_time(None, now) == first


async def _run_for(scheduler: SourceScheduler, seconds: float) -> None:
    if not scheduler.running:
        scheduler.start()
    try:
        await asyncio.sleep(seconds)
    finally:
        scheduler.shutdown()


def test_jobs_are_added_replaced_and_removed_and_missed_runs_coalesce(source: Source) -> None:
    fired: Counter[str] = Counter()
    scheduler = SourceScheduler(lambda source_id: fired.update([source_id]))
    every_second = schedule_for(replace(source, interval=timedelta(seconds=1), cron=None))
    hourly = schedule_for(replace(source, interval=timedelta(hours=1), cron=None))

    async def go() -> None:
        scheduler.start()  # as on a reload: jobs change on a running scheduler
        now = datetime.now(UTC)
        scheduler.put("late", every_second, now - timedelta(seconds=30), 0.0)  # thirty missed runs
        scheduler.put("moved", every_second, now + timedelta(hours=2), 0.0)
        scheduler.put("gone", every_second, now, 0.0)
        scheduler.remove("gone")
        scheduler.remove("never-there")
        scheduler.put("moved", hourly, now + timedelta(milliseconds=200), 0.0)  # replaced: due soon, then hourly
        assert sorted(scheduler.job_ids()) == ["late", "moved"]
        await _run_for(scheduler, 0.7)
        late_next = scheduler.due_at("late")
        assert late_next is not None and late_next > now
        assert round((late_next - (now - timedelta(seconds=30))).total_seconds(), 3) % 1 == 0  # phase kept
        moved_next = scheduler.due_at("moved")
        assert moved_next is not None
        assert abs(moved_next - (now + timedelta(hours=1, milliseconds=200))) < timedelta(milliseconds=1)

    asyncio.run(asyncio.wait_for(go(), 10.0))

    assert fired == Counter({"late": 1, "moved": 1})  # thirty missed runs are one; "gone" never ran
    assert scheduler.due_at("gone") is None


def test_jobs_fire_on_time_on_the_event_loop(source: Source) -> None:
    fired: list[tuple[str, float]] = []
    scheduler = SourceScheduler(lambda source_id: fired.append((source_id, asyncio.get_running_loop().time())))
    schedule = schedule_for(replace(source, interval=timedelta(seconds=0.3), cron=None))

    async def go() -> None:
        loop_start = asyncio.get_running_loop().time()
        scheduler.put("s", schedule, datetime.now(UTC) + timedelta(seconds=0.2), 0.0)
        await _run_for(scheduler, 1.1)
        offsets = [at - loop_start for _, at in fired]
        # Runs at 0.2, 0.5, 0.8 s (wide margins: these check the schedule, not the machine's speed).
        assert len(offsets) >= 3 and offsets[0] >= 0.19
        assert all(0.2 < later - earlier < 0.45 for earlier, later in zip(offsets, offsets[1:], strict=False))

    asyncio.run(asyncio.wait_for(go(), 10.0))


def test_apschedulers_per_run_info_lines_are_silenced(source: Source, caplog: pytest.LogCaptureFixture) -> None:
    scheduler = SourceScheduler(lambda source_id: None)
    schedule = schedule_for(replace(source, interval=timedelta(seconds=0.1), cron=None))

    async def go() -> None:
        scheduler.put("s", schedule, datetime.now(UTC), 0.0)
        await _run_for(scheduler, 0.35)

    with caplog.at_level("DEBUG", logger="monitor"):
        asyncio.run(asyncio.wait_for(go(), 10.0))

    assert not [record for record in caplog.records if record.name.startswith("apscheduler")]


def test_every_source_of_a_config_gets_one_job(tmp_path_factory: pytest.TempPathFactory) -> None:
    config = load_config(write_config(tmp_path_factory.mktemp("jobs"), "http://127.0.0.1:9"))
    scheduler = SourceScheduler(lambda source_id: None)
    for each in config.sources:
        scheduler.put(each.id, schedule_for(each), NOW, 0.5)

    assert sorted(scheduler.job_ids()) == sorted(each.id for each in config.sources)


def _job(scheduler: AsyncIOScheduler, job_id: str, at: datetime | None) -> Job:
    return Job(
        scheduler,
        id=job_id,
        func=print,
        args=(),
        kwargs={},
        trigger=IntervalTrigger(seconds=60),
        executor="default",
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
        next_run_time=at,
    )


@pytest.mark.parametrize("seed", range(5))
def test_the_sorted_job_store_keeps_memoryjobstores_order_through_any_changes(seed: int) -> None:
    rng = random.Random(seed)
    scheduler = AsyncIOScheduler(timezone=UTC)
    ours, reference = SortedJobStore(), MemoryJobStore()
    ids = [f"s{n:03d}" for n in range(60)]
    times = [NOW + timedelta(seconds=rng.randrange(20)) for _ in range(8)] + [None]  # ties and paused jobs

    def apply(operation: str, job_id: str, at: datetime | None) -> None:
        for store in (ours, reference):
            try:
                if operation == "add":
                    store.add_job(_job(scheduler, job_id, at))
                elif operation == "update":
                    store.update_job(_job(scheduler, job_id, at))
                else:
                    store.remove_job(job_id)
            except Exception as error:  # both stores must refuse the same changes
                refused = type(error).__name__
            else:
                refused = ""
            if store is ours:
                ours_refused = refused
        assert ours_refused == refused, (operation, job_id)

    for _ in range(2000):
        apply(rng.choice(["add", "add", "update", "update", "remove"]), rng.choice(ids), rng.choice(times))
        assert [(job.id, job.next_run_time) for job in ours.get_all_jobs()] == [
            (job.id, job.next_run_time) for job in reference.get_all_jobs()
        ]
    now = NOW + timedelta(seconds=10)
    assert [job.id for job in ours.get_due_jobs(now)] == [job.id for job in reference.get_due_jobs(now)]
    assert ours.get_next_run_time() == reference.get_next_run_time()


def test_a_job_runs_inline_on_the_loop_and_a_failing_one_is_logged_and_runs_again(
    source: Source, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[str, bool]] = []

    def on_due(source_id: str) -> None:
        # Inline: called from the scheduler's own wake-up on the loop's thread, with no task of its own.
        calls.append((source_id, asyncio.current_task() is None))
        if source_id == "bad":
            raise RuntimeError("boom")

    scheduler = SourceScheduler(on_due)
    schedule = schedule_for(replace(source, interval=timedelta(seconds=0.2), cron=None))

    async def go() -> None:
        scheduler.put("bad", schedule, datetime.now(UTC), 0.0)
        scheduler.put("good", schedule, datetime.now(UTC) + timedelta(seconds=0.1), 0.0)
        await _run_for(scheduler, 0.65)

    with caplog.at_level("ERROR", logger="apscheduler"):
        asyncio.run(asyncio.wait_for(go(), 10.0))

    assert Counter(source_id for source_id, _ in calls)["bad"] >= 3  # the error did not stop its schedule
    assert Counter(source_id for source_id, _ in calls)["good"] >= 3
    assert all(inline for _, inline in calls)
    assert any("boom" in (record.exc_text or "") or record.exc_info for record in caplog.records)
