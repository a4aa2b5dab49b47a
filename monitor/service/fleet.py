"""The fleet: every `monitor run` on one PostgreSQL database shares the work through procrastinate's job queue.

A periodic `tick`, deferred once cluster-wide every TICK_S, takes the sources that fell due (storage.fleet's schedule
table), groups them by host slot (`host_concurrency` slots per host) and defers one `poll` job per slot with the
batch: the job's lock is the slot (one batch of a slot runs at a time, cluster-wide, so never two polls of one
source), its queueing lock too (at most one batch waits per slot; sources that do not fit stay due for the next
tick). The job polls its sources in turn, holding the lock for `host_delay` after each, so the gap between two
requests to a host holds across processes as the server sees it. One job per slot rather than per source keeps the
queue small: at 10,000 sources, per-source jobs made every member's fetch query and wake-up the bottleneck.
Webhook delivery is a `deliver` job with a lock of its own (one process at a time). The eldest live member
re-queues the jobs of a member whose heartbeat stopped (killed, machine lost), so its sources are polled by the
others. Members report themselves in storage.fleet's members table, and a reload on any member is announced there
for every other to follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import procrastinate
from procrastinate import exceptions as queue_errors
from procrastinate.jobs import Status
from procrastinate.schema import SchemaManager
from procrastinate.types import JSONValue

from monitor.app import App
from monitor.config import Config, Source
from monitor.delivery import Outbox
from monitor.errors import ConfigError
from monitor.service.schedule import Schedule, check_schedules
from monitor.service.scheduler import trigger_for
from storage import StorageError
from storage.fleet import FleetStore, Member

__all__ = [
    "TICK_S",
    "FleetOptions",
    "FleetScheduling",
    "announce",
    "config_hash",
    "live_members",
    "migrate",
    "stable_spread",
]

logger = logging.getLogger(__name__)

TICK_S = 2
DUE_PER_TICK = 5000
DELIVER_TIMEOUT_S = 30.0
QUEUE_TABLE = "procrastinate_jobs"
# A worker is told of new jobs at once (LISTEN/NOTIFY), but not of a lock released by another member's job: the
# next poll of that host waits for this look at the queue.
FETCH_POLL_S = 0.5
CLEANUP_S = 2.0

logging.getLogger("procrastinate").setLevel(logging.WARNING)


def config_hash(path: str) -> str:
    """Return a short hash of a config file's bytes: members running the same file agree on it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def stable_spread(source_id: str) -> float:
    """Return the source's jitter phase in [0, 1): the same on every member, unlike a random draw."""
    return int.from_bytes(hashlib.sha256(source_id.encode()).digest()[:8], "big") / 2**64


@dataclass(frozen=True, slots=True)
class FleetOptions:
    """How often members report (a member silent for three heartbeats is taken as gone) and the stop bound."""

    heartbeat_s: float
    stop_timeout_s: float


def _host_slot(source: Source) -> str:
    host = (urlsplit(source.url).hostname or "").lower()
    slot = int(stable_spread(source.id) * source.host_concurrency)
    return f"host:{host}:{slot}"


class FleetScheduling:
    """The scheduling of one fleet member, in the shape of scheduler.SourceScheduler, for the daemon to drive."""

    local_delivery = False

    def __init__(
        self,
        app: App,
        poll: Callable[[str], Awaitable[None]],
        reload: Callable[[], Awaitable[None]],
        options: FleetOptions,
    ) -> None:
        self._app, self._poll, self._reload, self._options = app, poll, reload, options
        self._store = FleetStore(app.config.database)
        self._queue = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=app.config.database, min_size=1, max_size=8)
        )
        self._store.migrate(SchemaManager.get_schema(), QUEUE_TABLE)
        self._define_tasks()
        self._hash = config_hash(app.config.path)
        self._generation = 0
        self._following = False
        self._polls = 0
        self._member = Member(
            id=uuid.uuid4().hex[:12],
            host=socket.gethostname(),
            pid=os.getpid(),
            started=app.clock(),
            last_seen=app.clock(),
            polls=0,
            config_hash=self._hash,
            heartbeat_s=options.heartbeat_s,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._running_polls: set[asyncio.Task[Any]] = set()
        self._slots_running: set[str] = set()  # slots whose batch runs in this member (see _hold)
        self._schedules_of: Config | None = None
        self._schedule_cache: dict[str, Schedule] = {}
        # Due times put but not yet written (start and reload put every source: one round trip, not 10,000), and
        # the next due times of the sources in this member's running batches (the tick sends them with the batch).
        self._unsaved: dict[str, datetime] = {}
        self._next_due: dict[str, datetime] = {}

    # -- the Scheduling shape -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Return whether the worker and the heartbeat run."""
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    def spread(self, source_id: str) -> float:
        """Return the source's jitter phase, the same on every member."""
        return stable_spread(source_id)

    def put(self, source_id: str, schedule: Schedule, first_due: datetime, spread: float) -> None:
        """Schedule a source to be next due at `first_due` (replacing its due time); written at start or reload."""
        self._unsaved[source_id] = first_due

    def remove(self, source_id: str) -> None:
        """Stop scheduling a source."""
        self._unsaved.pop(source_id, None)
        self._store.remove([source_id])

    def due_at(self, source_id: str) -> datetime | None:
        """Return when the source is next due in the fleet (known here while its batch runs or before it is written)."""
        known = self._next_due.get(source_id) or self._unsaved.get(source_id)
        if known is not None:
            return known
        try:
            return self._store.due_at(source_id)
        except StorageError:
            return None

    def wake(self) -> None:
        """Nothing to do: the queue's own timers and notifications drive the member."""

    def start(self) -> None:
        """Join the fleet and start the queue worker and the heartbeat."""
        fleet_hash = self._store.set_default("config_hash", self._hash)
        self._generation = int(self._store.set_default("generation", "0"))
        if fleet_hash != self._hash:
            logger.error(
                "CONFIG MISMATCH: %s (hash %s) is not the config the fleet runs (hash %s); run `monitor reload` with "
                "the intended file to make it the fleet's",
                self._app.config.path,
                self._hash,
                fleet_hash,
            )
        else:
            self._store.keep_only(source.id for source in self._app.config.sources)
        self._save_unsaved()
        self._store.join(self._member)
        worker = self._queue.run_worker_async(
            name=f"monitor-{self._member.id}",
            concurrency=max(self._app.config.http.concurrency, 2),
            install_signal_handlers=False,
            delete_jobs="always",
            update_heartbeat_interval=self._options.heartbeat_s,
            stalled_worker_timeout=self._options.heartbeat_s * 3,
            shutdown_graceful_timeout=self._options.stop_timeout_s,
            fetch_job_polling_interval=FETCH_POLL_S,
        )
        self._tasks = [
            asyncio.create_task(self._run_worker(worker), name="fleet-worker"),
            asyncio.create_task(self._heartbeat(), name="fleet-heartbeat"),
        ]
        logger.info("joined the fleet as member %s (config %s)", self._member.id, self._hash)

    def shutdown(self) -> None:
        """Stop taking jobs: the worker lets running polls finish within the stop bound."""
        for task in self._tasks[1:]:
            task.cancel()
        if self._tasks:
            self._tasks[0].cancel()  # run_worker_async stops its worker gracefully when cancelled

    async def close(self) -> None:
        """Wait for running polls (within the stop bound), leave the fleet and release the connections.

        The worker's own clean-up (unregistering, closing its pool) gets CLEANUP_S: with the database gone it would
        wait for connections that never come.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._options.stop_timeout_s
        worker = self._tasks[0] if self._tasks else None
        while worker is not None and not worker.done() and loop.time() < deadline:
            if not self._running_polls:
                await asyncio.wait([worker], timeout=CLEANUP_S)
                break
            await asyncio.wait([worker], timeout=0.1)
        if worker is not None and not worker.done():
            worker.cancel()
            await asyncio.wait([worker], timeout=CLEANUP_S)
        with contextlib.suppress(StorageError):
            self._store.leave(self._member.id)
        with contextlib.suppress(TimeoutError, queue_errors.ProcrastinateException):
            async with asyncio.timeout(CLEANUP_S):
                await self._queue.close_async()
        self._store.close()

    def reloaded(self) -> None:
        """After a reload here: announce the new config to the fleet, unless this member was following one."""
        self._save_unsaved()
        self._hash = config_hash(self._app.config.path)
        if not self._following:
            self._generation = self._store.announce_config(self._hash)
            logger.info("announced config %s to the fleet (generation %d)", self._hash, self._generation)

    def _save_unsaved(self) -> None:
        self._store.put_due(self._unsaved.items(), replace=True)
        self._unsaved = {}

    # -- the member's own tasks -----------------------------------------------------------------------------
    async def _run_worker(self, worker: Awaitable[None]) -> None:
        await self._queue.open_async()
        await worker

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._options.heartbeat_s)
            try:
                self._store.heartbeat(self._member.id, self._app.clock(), self._polls, self._hash)
                generation = int(self._store.settings().get("generation", "0"))
            except StorageError as exc:
                logger.warning("fleet heartbeat failed: %s", exc)
                continue
            if generation > self._generation:
                self._generation = generation
                await self._follow_reload()
            await self._recover_if_eldest()

    async def _recover_if_eldest(self) -> None:
        """The eldest live member re-queues the jobs of members gone silent (not the tick: a dead member may hold
        the tick's own lock)."""
        try:
            members = self._store.members(self._app.clock())
            if members and members[0].id == self._member.id:
                await self._requeue_stalled()
        except (StorageError, queue_errors.ProcrastinateException) as exc:
            logger.warning("fleet: could not look for the jobs of silent members: %s", exc)

    async def _follow_reload(self) -> None:
        logger.info("the fleet's config changed: re-reading %s", self._app.config.path)
        self._following = True
        try:
            await self._reload()
        finally:
            self._following = False

    # -- the jobs -------------------------------------------------------------------------------------------
    def _define_tasks(self) -> None:
        queue = self._queue

        @queue.periodic(cron=f"* * * * * */{TICK_S}", periodic_id="tick")
        @queue.task(name="tick", lock="tick", retry=False, pass_context=False)
        async def tick(timestamp: int) -> None:
            await self._tick()

        @queue.task(name="poll", retry=False, pass_context=False)
        async def poll(source_ids: list[str], next_due: list[str] | None = None) -> None:
            await self._run_polls(source_ids, next_due or [])

        @queue.task(name="deliver", lock="deliver", queueing_lock="deliver", retry=False, pass_context=False)
        async def deliver() -> None:
            await self._deliver()

        self._poll_task, self._deliver_task = poll, deliver

    async def _tick(self) -> None:
        config = self._app.config
        now = self._app.clock()
        schedules = self._schedules(config)
        batches: dict[str, list[tuple[str, datetime]]] = {}
        for source_id, due in self._store.due(now, DUE_PER_TICK):
            schedule = schedules.get(source_id)
            if schedule is None:
                continue  # not in this member's config: the member that runs it moves it on
            following = trigger_for(schedule, due, stable_spread(source_id)).get_next_fire_time(None, now)
            batches.setdefault(_host_slot(config.source(source_id)), []).append((source_id, following))
        moved = await self._defer_batches(batches)
        self._store.put_due(moved, replace=True)
        await self._defer(self._deliver_task)

    async def _defer_batches(self, batches: dict[str, list[tuple[str, datetime]]]) -> list[tuple[str, datetime]]:
        """Defer one poll job per slot whose previous batch has started, all in one statement (one wake-up of each
        member, not one per slot); return the sources deferred. A slot whose batch still waits keeps its sources due
        for the next tick."""
        waiting = self._store.queued_locks(QUEUE_TABLE)
        jobs, moved = [], []
        for slot, batch in batches.items():
            if f"batch:{slot}" in waiting:
                continue
            task = self._poll_task.configure(lock=slot, queueing_lock=f"batch:{slot}")
            ids, dues = [source_id for source_id, _ in batch], [due.isoformat() for _, due in batch]
            jobs.append(task.make_new_job(source_ids=list[JSONValue](ids), next_due=list[JSONValue](dues)))
            moved += batch
        if not jobs:
            return []
        try:
            await self._queue.job_manager.batch_defer_jobs_async(jobs)
        except queue_errors.AlreadyEnqueued:
            return []  # a batch was queued since the look (a re-queued job): every source stays due for the next tick
        return moved

    def _schedules(self, config: Config) -> dict[str, Schedule]:
        """Return the sources' schedules, computed once per config (a tick every TICK_S must not redo 10^4)."""
        if self._schedules_of is not config:
            self._schedules_of, self._schedule_cache = config, check_schedules(config)
        return self._schedule_cache

    async def _defer(self, task: Any) -> None:
        with contextlib.suppress(queue_errors.AlreadyEnqueued):
            await task.defer_async()

    async def _requeue_stalled(self) -> None:
        manager = self._queue.job_manager
        stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=self._options.heartbeat_s * 3))
        for job in stalled:
            logger.warning("re-queueing %s job %s of a member that stopped answering", job.task_name, job.id)
            with contextlib.suppress(queue_errors.ProcrastinateException):  # finished or re-queued meanwhile
                try:
                    await manager.retry_job(job)
                except queue_errors.UniqueViolation:
                    # The slot's next batch already waits (one may wait per slot): end the stalled job instead, or
                    # it would hold the slot's lock for ever. Its sources left unpolled are due again one interval on.
                    await manager.finish_job(job, status=Status.FAILED, delete_job=True)
        if stalled:
            await manager.prune_stalled_workers(self._options.heartbeat_s * 3)

    async def _run_polls(self, source_ids: list[str], next_due: list[str]) -> None:
        """Poll a batch of one host slot's sources in turn, `host_delay` apart and after the last.

        `next_due` holds when each source is next due (the tick moved it there): a poll reads it from here rather
        than from the database."""
        slot = self._slot_of(source_ids)
        if slot is None or not self._hold(slot):
            return
        task = asyncio.current_task()
        if task is not None:
            self._running_polls.add(task)
        try:
            for source_id, due in itertools.zip_longest(source_ids, next_due):
                try:
                    source = self._app.config.source(source_id)
                except ConfigError:
                    continue  # removed by a reload after it fell due
                if due is not None:
                    self._next_due[source_id] = datetime.fromisoformat(due)
                try:
                    await self._poll(source_id)
                finally:
                    self._next_due.pop(source_id, None)
                self._polls += 1
                # Hold the slot's lock past each poll: the next request to this host, from any member, keeps the delay.
                await asyncio.sleep(source.host_delay.total_seconds())
        finally:
            self._running_polls.discard(task)
            self._release(slot)
        await self._defer(self._deliver_task)

    def _slot_of(self, source_ids: list[str]) -> str | None:
        """Return the host slot of a batch (all its sources share one), or None if a reload removed every one."""
        for source_id in source_ids:
            with contextlib.suppress(ConfigError):
                return _host_slot(self._app.config.source(source_id))
        return None

    def _hold(self, slot: str) -> bool:
        """Return whether this member may run a batch of `slot` now: none runs here or in another member.

        The slot's job lock gives one batch at a time, but a member that misses three heartbeats under load has its
        running batch re-queued while it still runs. The slot's guard keeps the re-queued copy (or the slot's next
        batch) from running beside it; the skipped batch's sources are polled by the one running, or are due again
        one interval on.
        """
        if slot in self._slots_running:
            held = False
        else:
            try:
                held = self._store.hold_slot(slot)
            except StorageError:
                held = True  # the database is away: the polls go on and fail in the store, counted as failures
        if not held:
            logger.warning("fleet: a batch of %s skipped: another batch of that slot is still running", slot)
            return False
        self._slots_running.add(slot)
        return True

    def _release(self, slot: str) -> None:
        self._slots_running.discard(slot)
        try:
            self._store.release_slot(slot)
        except StorageError as exc:  # held until this member's store connection ends; its own batches go on
            logger.warning("fleet: could not let go of the guard of %s: %s", slot, exc)

    async def _deliver(self) -> None:
        if not self._app.config.webhooks:
            return
        outbox = Outbox(self._app.config, self._app.store, self._app.client, self._app.clock)
        stats = await outbox.run_until_idle(DELIVER_TIMEOUT_S)
        logger.debug("fleet delivery: %s", stats)


def migrate(database: str) -> None:
    """Create the fleet's tables and procrastinate's in a PostgreSQL database, if missing (idempotent)."""
    store = FleetStore(database)
    try:
        store.migrate(
            procrastinate.App(connector=procrastinate.PsycopgConnector()).schema_manager.get_schema(), QUEUE_TABLE
        )
    finally:
        store.close()


def live_members(database: str, now: datetime) -> list[Member]:
    """Return the fleet members seen within three of their heartbeats before `now` (for `monitor status`)."""
    store = FleetStore(database)
    try:
        return store.members(now)
    finally:
        store.close()


def announce(config: Config) -> int:
    """Make a config file the fleet's and ask every member to re-read it; return the new generation."""
    store = FleetStore(config.database)
    try:
        return store.announce_config(config_hash(config.path))
    finally:
        store.close()
