"""The long-running service: the daemon's loop and signals, scheduling, admission, health and metrics."""

from __future__ import annotations

from monitor.service.admission import POLLS_PER_HOST_SLOT, Admission
from monitor.service.daemon import (
    DEFAULT_FLEET_HEARTBEAT_S,
    DEFAULT_STOP_TIMEOUT_S,
    Daemon,
    DaemonOptions,
    is_fleet,
    open_daemon,
    request_reload,
    run,
    serve,
)
from monitor.service.dispatch import Dispatcher
from monitor.service.health import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    TEXT,
    Response,
    Route,
    parse_address,
)
from monitor.service.metrics import CONTENT_TYPE, FETCH_BUCKETS, Metrics, fetch_outcome, poll_outcome
from monitor.service.reload import ConfigChange, compare_configs
from monitor.service.schedule import (
    CRON_JITTER,
    INTERVAL_JITTER_FRACTION,
    MAX_INTERVAL_JITTER,
    CronSpec,
    Schedule,
    check_schedules,
    first_run,
    next_cron,
    parse_cron,
    schedule_for,
)
from monitor.service.scheduler import (
    JOB_DEFAULTS,
    InlineExecutor,
    PhasedCronTrigger,
    Scheduling,
    SortedJobStore,
    SourceScheduler,
    trigger_for,
)

__all__ = [
    "DEFAULT_FLEET_HEARTBEAT_S",
    "JOB_DEFAULTS",
    "InlineExecutor",
    "PhasedCronTrigger",
    "Scheduling",
    "SortedJobStore",
    "SourceScheduler",
    "trigger_for",
    "Admission",
    "CONTENT_TYPE",
    "CRON_JITTER",
    "ConfigChange",
    "CronSpec",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_STOP_TIMEOUT_S",
    "Daemon",
    "DaemonOptions",
    "is_fleet",
    "Dispatcher",
    "FETCH_BUCKETS",
    "INTERVAL_JITTER_FRACTION",
    "MAX_INTERVAL_JITTER",
    "Metrics",
    "POLLS_PER_HOST_SLOT",
    "Response",
    "Route",
    "Schedule",
    "TEXT",
    "check_schedules",
    "compare_configs",
    "fetch_outcome",
    "first_run",
    "next_cron",
    "open_daemon",
    "parse_address",
    "parse_cron",
    "poll_outcome",
    "request_reload",
    "run",
    "schedule_for",
    "serve",
]
