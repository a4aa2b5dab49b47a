"""The long-running service: the daemon's loop and signals, scheduling, admission, health and metrics."""

from __future__ import annotations

from monitor.service.admission import POLLS_PER_HOST_SLOT, Admission
from monitor.service.daemon import (
    DEFAULT_STOP_TIMEOUT_S,
    Daemon,
    DaemonOptions,
    open_daemon,
    request_reload,
    run,
    serve,
)
from monitor.service.dispatch import WAKE_S, Dispatcher
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
    Timetable,
    check_schedules,
    first_run,
    next_cron,
    next_run,
    parse_cron,
    schedule_for,
)

__all__ = [
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
    "Timetable",
    "WAKE_S",
    "check_schedules",
    "compare_configs",
    "fetch_outcome",
    "first_run",
    "next_cron",
    "next_run",
    "open_daemon",
    "parse_address",
    "parse_cron",
    "poll_outcome",
    "request_reload",
    "run",
    "schedule_for",
    "serve",
]
