"""The long-running service behind `monitor run`: poll every source on its schedule, deliver webhooks, serve probes.

The only module that touches signals and owns the loop's tasks. Startup and shutdown are one async context manager
(`open_daemon`); APScheduler (`scheduler.py`, one job per source) hands each due source to the dispatcher
(`dispatch.py`), which starts its poll, a few per host at once; each poll is the thin `Daemon.run_source(source_id)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from monitor.app import App, open_app
from monitor.config import Config, Source, load_config
from monitor.delivery import Outbox, check_notifications
from monitor.errors import ConfigError
from monitor.pages import check_selectors
from monitor.pipeline import SourceReport
from monitor.service.dispatch import Dispatcher
from monitor.service.health import TEXT, Response
from monitor.service.metrics import CONTENT_TYPE, Metrics, poll_outcome
from monitor.service.reload import compare_configs
from monitor.service.schedule import Schedule, check_schedules, first_run
from monitor.service.scheduler import Scheduling, SourceScheduler
from monitor.web import check_bind, serve_beside
from storage import SourceState, StorageError, describe_url

__all__ = [
    "DEFAULT_FLEET_HEARTBEAT_S",
    "DEFAULT_STOP_TIMEOUT_S",
    "Daemon",
    "DaemonOptions",
    "is_fleet",
    "open_daemon",
    "request_reload",
    "run",
    "serve",
]

logger = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT_S = 10.0
# The store does not reconnect by itself: after this long unreachable the daemon exits 1 for its supervisor.
DEFAULT_STORE_DOWN_EXIT_S = 120.0
# The outbox is woken as soon as a poll stores events; this periodic look catches the rest (deliveries requeued by
# `monitor redeliver` or written by `monitor check` in another process).
OUTBOX_POLL_S = 1.0
OUTBOX_RESTART_S = 5.0
CANCEL_GRACE_S = 2.0
# Fleet members report this often; one silent for three heartbeats is taken as gone and its polls re-queued.
DEFAULT_FLEET_HEARTBEAT_S = 5.0
# The loop's timers stand still while the machine sleeps: the scheduler looks at the wall clock at least this often.
WAKE_S = 30.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_REPORT_FIELDS = tuple(field.name for field in dataclasses.fields(SourceReport))


def _read_config(path: str) -> tuple[Config, dict[str, Schedule]]:
    """Load and check the config file (selectors, schedules); raise ConfigError on any mistake."""
    config = load_config(path)
    check_selectors(config)
    check_notifications(config)
    return config, check_schedules(config)


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    """How `monitor run` was asked to run: the probe server's address (None: no server) and the stop bound."""

    http: tuple[str, int] | None = None
    stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S
    store_down_exit_s: float = DEFAULT_STORE_DOWN_EXIT_S
    fleet_heartbeat_s: float = DEFAULT_FLEET_HEARTBEAT_S


def is_fleet(database: str) -> bool:
    """Return whether a database URL makes `monitor run` a member of a fleet (PostgreSQL does)."""
    return urlsplit(database).scheme in {"postgresql", "postgres"}


def request_reload(pid: int) -> None:
    """Ask the daemon with this pid to re-read its config (SIGHUP); raise ProcessLookupError if it is gone."""
    os.kill(pid, signal.SIGHUP)


class Daemon:
    """Polls the configured sources on schedule and delivers webhooks until it is stopped."""

    def __init__(self, app: App, metrics: Metrics, options: DaemonOptions) -> None:
        self._app = app
        self._metrics = metrics
        self._options = options
        # `run_source` is looked up at each poll, not bound here, so that it can be wrapped on a running daemon.
        self._dispatcher = Dispatcher(app, lambda source_id: self.run_source(source_id))
        self._scheduler: Scheduling
        if is_fleet(app.config.database):
            # Imported here: procrastinate comes with the `postgres` extra, which a SQLite install may lack.
            from monitor.service.fleet import FleetOptions, FleetScheduling

            fleet = FleetOptions(heartbeat_s=options.fleet_heartbeat_s, stop_timeout_s=options.stop_timeout_s)
            self._scheduler = FleetScheduling(app, lambda source_id: self.run_source(source_id), self.reload, fleet)
        else:
            self._scheduler = SourceScheduler(self._dispatcher.dispatch)
        self._stopping = False
        self._outbox: Outbox | None = None
        self._outbox_stop = asyncio.Event()
        self._outbox_task: asyncio.Task[None] | None = None
        self._store_down_since: float | None = None

    @property
    def clock(self) -> Callable[[], datetime]:
        """The clock the daemon reads (tests inject theirs)."""
        return self._app.clock

    @property
    def config(self) -> Config:
        """Return the config in force (it changes on reload)."""
        return self._app.config

    def start(self) -> None:
        """Start the scheduler with a job per source, and the webhook delivery task."""
        schedules = check_schedules(self.config)
        states = {state.source_id: state for state in self._app.store.source_states()}
        self._schedule(self.config.sources, schedules, states)
        del states  # thousands of records, not needed past start-up
        self._metrics.track_sources(source.id for source in self.config.sources)
        self._scheduler.start()
        if self._scheduler.local_delivery:
            self._outbox_task = asyncio.create_task(self._deliver(), name="monitor-outbox")
            self._outbox_task.add_done_callback(_report_end("webhook delivery"))
        sizes = (len(self.config.sources), len(self.config.webhooks), describe_url(self.config.database), os.getpid())
        logger.info("running: %d sources, %d webhooks, database %s, pid %d", *sizes)

    def _schedule(
        self, sources: Sequence[Source], schedules: Mapping[str, Schedule], states: Mapping[str, SourceState]
    ) -> None:
        """Add or replace the sources' jobs (a restart keeps the last attempt's spacing) and record their next due."""
        now = self._app.clock()
        for source in sources:
            state, schedule = states.get(source.id), schedules[source.id]
            last = state.last_attempt if state is not None else None
            spread = self._scheduler.spread(source.id)
            due = first_run(schedule, now=now, last_attempt=last, spread=spread)
            self._scheduler.put(source.id, schedule, due, spread)
        try:
            with self._app.store.transaction():
                for source in sources:
                    self._save_next_due(source, states.get(source.id))
        except StorageError as exc:
            logger.warning("could not record when %d sources are next due: %s", len(sources), exc)

    def _save_next_due(self, source: Source, state: SourceState | None) -> None:
        """Record when the source is next due, for `monitor status`."""
        state = state or SourceState(source.id, name=source.name, url=source.url)
        state.next_due = self._scheduler.due_at(source.id)
        self._app.store.save_source_state(state)

    def _note_next_due(self, source: Source) -> None:
        """Record the next due time of a source whose poll ended early (best effort: a store error is logged)."""
        try:
            self._save_next_due(source, self._app.store.source_state(source.id))
        except StorageError as exc:
            logger.warning("source %s: could not record the next due time: %s", source.id, exc)

    async def run_source(self, source_id: str) -> None:
        """Poll one source once: log one line, count it, wake the outbox if it stored events; never raise."""
        try:
            source = self.config.source(source_id)
        except ConfigError:
            return  # removed by a reload after this run fell due
        started = time.perf_counter()
        recorded = False
        try:
            report = await self._app.pipeline.check_source(source, next_due=self._scheduler.due_at(source.id))
            recorded = True
            if report.events and self._outbox is not None:
                self._outbox.wake()
            self._finish_poll(source, report, time.perf_counter() - started)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Every article already checked was committed on its own; the rest is checked next time.
            logger.warning("poll %s abandoned at shutdown after %.1fs", source_id, time.perf_counter() - started)
        except StorageError as exc:
            logger.error("poll %s: store error: %s", source_id, exc, extra={"source_id": source_id, "outcome": "crash"})
            self._metrics.observe_crash(source_id)
        except Exception:  # the daemon's one broad catch: a crash in one source must not stop the others
            logger.exception("poll %s crashed", source_id, extra={"source_id": source_id, "outcome": "crash"})
            self._metrics.observe_crash(source_id)
        finally:
            if not recorded:  # the pipeline saves the next due time with the source's state, unless it ended early
                self._note_next_due(source)

    def _finish_poll(self, source: Source, report: SourceReport, seconds: float) -> None:
        self._metrics.observe_poll(report)
        outcome = poll_outcome(report)
        fields = {name: getattr(report, name) for name in _REPORT_FIELDS}
        fields["outcome"], fields["duration_ms"] = outcome, round(seconds * 1000)
        # The one line of a poll; a failed poll is the same line at WARNING (the pipeline logs no line of its own).
        logger.log(
            logging.WARNING if report.error else logging.INFO,
            "poll %s %s links=%d new=%d fetched=%d not_modified=%d failed=%d events=%s %.0fms%s",
            *(source.id, outcome, report.links, report.new, report.fetched, report.not_modified, report.failed),
            ",".join(f"{kind}:{n}" for kind, n in sorted(report.events.items())) or "-",
            seconds * 1000,
            f" error={report.error}" if report.error else "",
            extra=fields,
        )

    async def _deliver(self) -> None:
        """Run the outbox until shutdown; a reload that changes the webhooks restarts it with the new ones."""
        store = self._metrics.counting_deliveries(self._app.store)
        while not self._stopping:
            stop = self._outbox_stop = asyncio.Event()
            pause_s: float | None = None  # with no webhooks there is nothing to do until a reload
            outbox = self._outbox = Outbox(self.config, store, self._app.client, self._app.clock)
            try:
                await outbox.run_forever(stop, OUTBOX_POLL_S)
            except StorageError as exc:
                logger.error("webhook delivery paused by a store error, retrying in %.0fs: %s", OUTBOX_RESTART_S, exc)
                pause_s = OUTBOX_RESTART_S
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause_s):
                    await stop.wait()

    async def reload(self) -> None:
        """Re-read the config file and apply added, removed and changed sources and webhooks; or keep the old one.
        The file is read in a thread (10,000 sources: ~0.85 s) while polls go on under the old config."""
        old = self.config
        try:
            new, schedules = await asyncio.to_thread(_read_config, old.path)
            change = compare_configs(old, new)
            states = {state.source_id: state for state in self._app.store.source_states()}
        except (ConfigError, StorageError) as exc:
            logger.error("reload refused, still running the previous config: %s", exc)
            self._metrics.observe_reload(False)
            return
        self._app.config = self._app.pipeline.config = new
        for source_id in change.removed:
            self._scheduler.remove(source_id)
        self._schedule([new.source(source_id) for source_id in change.rescheduled], schedules, states)
        self._metrics.track_sources(source.id for source in new.sources)
        if change.webhooks_changed:
            self._outbox_stop.set()
        self._metrics.observe_reload(True)
        self._scheduler.reloaded()
        # A reload that worked is routine (INFO), whether or not it changed anything; what needs a restart warns.
        logger.info(
            "config reloaded: %d sources, %d webhooks; %s", len(new.sources), len(new.webhooks), change.describe()
        )
        if change.restart_needed:
            logger.warning("reload: %s take effect at the next restart", " and ".join(change.restart_needed))

    def wake(self) -> None:
        """Make the scheduler look at the wall clock now (after a system sleep its timers are late)."""
        self._scheduler.wake()

    def store_lost(self) -> bool:
        """Return whether the store has failed every check for `store_down_exit_s` (logging when it goes)."""
        if self._app.store.ping():
            if self._store_down_since is not None:
                logger.warning("store reachable again")
            self._store_down_since = None
            return False
        now = time.monotonic()
        if self._store_down_since is None:
            self._store_down_since = now
            logger.error("store unreachable; exiting if it stays so for %.0fs", self._options.store_down_exit_s)
        if now - self._store_down_since < self._options.store_down_exit_s:
            return False
        logger.error(
            "store unreachable for %.0fs: exiting for the service manager to restart us", now - self._store_down_since
        )
        return True

    def alive(self) -> Response:
        """The /healthz answer: the process is up and its loop answers."""
        return 200, TEXT, b"ok\n"

    def ready(self) -> Response:
        """The /readyz answer: 200 when the store answers, the scheduler runs and webhook delivery runs."""
        problems = []
        if self._stopping or not self._scheduler.running:
            problems.append("scheduler not running")
        if not self._app.store.ping():
            problems.append("store unreachable")
        if self._scheduler.local_delivery and (self._outbox_task is None or self._outbox_task.done()):
            problems.append("webhook delivery stopped")
        if problems:
            return 503, TEXT, ("not ready: " + ", ".join(problems) + "\n").encode()
        return 200, TEXT, b"ready\n"

    def metrics_page(self) -> Response:
        """The /metrics answer, with the outbox and per-source gauges read from the store at scrape time."""
        states: list[SourceState] | None = None
        try:
            self._metrics.set_outbox(*self._app.store.outbox_summary(self._app.clock()))
            states = self._app.store.source_states()
        except StorageError as exc:
            logger.warning("metrics: the store's figures are unavailable: %s", exc)
        return 200, CONTENT_TYPE, self._metrics.render(states)

    async def stop(self, force: asyncio.Event) -> None:
        """Stop scheduling; give running polls and deliveries until the stop timeout, then abandon what is left."""
        self._stopping = True
        loop = asyncio.get_running_loop()
        began = loop.time()
        deadline = began + self._options.stop_timeout_s
        self._scheduler.shutdown()
        dropped = self._dispatcher.stop()
        if dropped:
            logger.info("stopping: %d due polls waiting for their host are not started", dropped)
        self._outbox_stop.set()
        polls = self._dispatcher.polls
        work = polls | {t for t in (self._outbox_task,) if t is not None}
        if polls:
            logger.info("stopping: giving %d running polls up to %.1fs", len(polls), deadline - loop.time())
        left = await _wait_until(work, deadline, force)
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left, timeout=CANCEL_GRACE_S)
        await self._scheduler.close()
        logger.info("stopped in %.1fs (%d running tasks abandoned)", loop.time() - began, len(left))


def _report_end(what: str) -> Callable[[asyncio.Task[None]], None]:
    """Return a done-callback that logs a task ended by an error (the probes then report it as not running)."""

    def report(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s stopped by an error", what, exc_info=task.exception())

    return report


async def _wait_until(tasks: set[asyncio.Task[Any]], deadline: float, force: asyncio.Event) -> set[asyncio.Task[Any]]:
    """Wait for the tasks until the deadline or until `force` is set; return those still running."""
    loop = asyncio.get_running_loop()
    pending = {task for task in tasks if not task.done()}
    forced = asyncio.ensure_future(force.wait())
    try:
        while pending and not force.is_set() and loop.time() < deadline:
            waited: set[asyncio.Future[Any]] = {*pending, forced}
            await asyncio.wait(waited, timeout=deadline - loop.time(), return_when=asyncio.FIRST_COMPLETED)
            pending = {task for task in pending if not task.done()}
    finally:
        forced.cancel()
    return pending


@asynccontextmanager
async def open_daemon(config: Config, options: DaemonOptions, force: asyncio.Event) -> AsyncIterator[Daemon]:
    """Open the store and client, start the probe server, scheduler and outbox; on exit stop and close in reverse.

    Raises ConfigError for an unusable schedule, MonitorError if the probe address is taken, StorageError.
    """
    check_schedules(config)
    if options.http is not None:
        check_bind(config, options.http[0])
    metrics = Metrics()
    async with open_app(config, observer=metrics.observe_fetch, poller=True) as app:
        # Services of two configs on one database would poll and deliver for each other: refused (StoreBusyError).
        app.store.claim_service(os.path.realpath(config.path))
        daemon = Daemon(app, metrics, options)
        async with contextlib.AsyncExitStack() as web:
            if options.http is not None:
                probes = {"/healthz": daemon.alive, "/readyz": daemon.ready, "/metrics": daemon.metrics_page}
                server = await web.enter_async_context(
                    serve_beside(config, options.http, probes, daemon.clock, lambda: daemon.config)
                )
                host, port = server.address
                shown = f"[{host}]" if ":" in host else host
                logger.info("listening on http://%s:%d (web view, feeds, /healthz /readyz /metrics)", shown, port)
            try:
                daemon.start()
                yield daemon
            finally:
                await daemon.stop(force)


class _Signals:
    """What the signal handlers asked for; they only set flags, the main loop acts on them."""

    def __init__(self) -> None:
        self.attention = asyncio.Event()
        self.force = asyncio.Event()
        self.stopping = False
        self.reload_wanted = False

    def stop(self) -> None:
        if self.stopping:
            logger.warning("second stop signal: abandoning running work now")
            self.force.set()
        self.stopping = True
        self.attention.set()

    def reload(self) -> None:
        self.reload_wanted = True
        self.attention.set()


async def serve(config: Config, options: DaemonOptions) -> int:
    """Run until SIGTERM or SIGINT (SIGHUP reloads the config); return the exit code after a bounded shutdown.

    The code is 0 after a stop signal, 1 when the store stayed unreachable (so a supervisor restarts us).
    """
    loop = asyncio.get_running_loop()
    signals = _Signals()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, signals.stop)
    loop.add_signal_handler(signal.SIGHUP, signals.reload)
    started, code = time.monotonic(), 0
    try:
        async with open_daemon(config, options, signals.force) as daemon:
            while not signals.stopping:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(WAKE_S):
                        await signals.attention.wait()
                signals.attention.clear()
                if signals.reload_wanted and not signals.stopping:
                    signals.reload_wanted = False
                    await daemon.reload()
                daemon.wake()
                if daemon.store_lost():
                    code, signals.stopping = 1, True
    finally:
        for sig in (*STOP_SIGNALS, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    logger.info("exiting with code %d after %.0fs of running", code, time.monotonic() - started)
    return code


def run(config: Config, options: DaemonOptions) -> int:
    """Run the daemon in a new event loop until it is stopped; return the exit code."""
    return asyncio.run(serve(config, options))
