"""`monitor run`, `monitor status` and `monitor reload`: the daemon, a table of its sources, a live config reload.

`run` on SQLite holds an exclusive lock on a pid file (next to the database unless `--pid-file` says otherwise);
`reload` and `status` use it to find the daemon. On PostgreSQL every `run` is a member of a fleet: no pid file,
`reload` is announced to every member through the database, and `status` lists the live members.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.app import utc_now
from monitor.commands._common import Command, add_config_argument, fmt_time, load, opened_store
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.learned import selector_origins
from monitor.redact import printable
from monitor.service import (
    DEFAULT_FLEET_HEARTBEAT_S,
    DEFAULT_STOP_TIMEOUT_S,
    DaemonOptions,
    check_schedules,
    is_fleet,
    parse_address,
    request_reload,
    run,
)
from storage import ArticleState, SourceState, describe_url, open_store, sqlite_path

__all__ = ["COMMANDS", "fleet_workers", "pid_lock", "pid_path", "running_pid", "status_rows"]

logger = logging.getLogger(__name__)

ERROR_WIDTH = 60
COLUMNS = ("SOURCE", "STATE", "LAST SUCCESS", "NEXT DUE", "FAILS", "ARTICLES", "LAST ERROR")


def pid_path(config: Config, explicit: str | None = None) -> Path:
    """Return the pid file: `explicit`, else beside the SQLite database, else beside the config file."""
    if explicit:
        return Path(explicit)
    database = sqlite_path(config.database)
    if database and database != ":memory:":
        return Path(database).with_suffix(".pid")
    return Path(config.path).with_suffix(".pid")


@contextmanager
def pid_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the pid file (which holds our pid) while the block runs; remove it after.

    Raises MonitorError if another daemon holds it or it cannot be written. The lock dies with the process, so a
    file left behind by a crash never blocks the next start.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+", encoding="ascii")
    except OSError as exc:
        raise MonitorError(f"cannot write the pid file {path}: {exc.strerror or exc}") from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise MonitorError(f"another `monitor run` (pid {_read_pid(path)}) holds {path}") from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def running_pid(path: Path) -> int | None:
    """Return the pid of the daemon holding the pid file, or None when no daemon holds it."""
    try:
        handle = path.open(encoding="ascii")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(path)
        return None


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _listen_address(text: str) -> tuple[str, int]:
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _pid_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pid-file", metavar="PATH", help="the daemon's pid file (default: beside the database)")


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--http",
        type=_listen_address,
        metavar="[HOST:]PORT",
        help="serve the web view, feeds, /healthz, /readyz and /metrics here (a bare port binds 127.0.0.1; another"
        " host needs [monitor] http_token)",
    )
    parser.add_argument(
        "--stop-timeout",
        type=_seconds,
        default=DEFAULT_STOP_TIMEOUT_S,
        metavar="SECONDS",
        help=f"seconds running polls get to finish after SIGTERM/SIGINT (default {DEFAULT_STOP_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--heartbeat",
        type=_seconds,
        default=DEFAULT_FLEET_HEARTBEAT_S,
        metavar="SECONDS",
        help=f"PostgreSQL fleet: how often a member reports; one silent for three heartbeats is taken as gone and its "
        f"polls re-queued (default {DEFAULT_FLEET_HEARTBEAT_S:g})",
    )
    _pid_argument(parser)


def _run(args: argparse.Namespace) -> int:
    config = load(args.config)
    check_schedules(config)
    for warning in config.warnings:
        logger.warning("config %s: %s", config.path, warning)
    options = DaemonOptions(http=args.http, stop_timeout_s=args.stop_timeout, fleet_heartbeat_s=args.heartbeat)
    if is_fleet(config.database):
        return run(config, options)  # a fleet member: as many as you like, on one database
    with pid_lock(pid_path(config, args.pid_file)):
        return run(config, options)


def _reload_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    _pid_argument(parser)


def _reload(args: argparse.Namespace) -> int:
    config = load(args.config)  # a bad file is refused here, with the message the daemon would log
    check_schedules(config)
    if is_fleet(config.database):
        from monitor.service.fleet import announce

        generation = announce(config)
        print(f"every fleet member is re-reading {config.path} (reload {generation})")
        return 0
    path = pid_path(config, args.pid_file)
    pid = running_pid(path)
    if pid is None:
        raise MonitorError(f"no running `monitor run` holds {path}")
    try:
        request_reload(pid)
    except ProcessLookupError as exc:
        raise MonitorError(f"the daemon (pid {pid}) has gone") from exc
    print(f"monitor run (pid {pid}) is re-reading {config.path}")
    return 0


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    _pid_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")


def status_rows(config: Config) -> list[dict[str, Any]]:
    """Return one record per configured source (then per stored source no longer configured), from the store."""
    with opened_store(config) as store:
        states = {state.source_id: state for state in store.source_states()}
        ids = [source.id for source in config.sources] + sorted(states.keys() - {s.id for s in config.sources})
        articles = {source_id: list(store.articles(source_id).values()) for source_id in ids}
    configured = {source.id: source for source in config.sources}
    rows = [_row(sid, states.get(sid), articles[sid], sid in configured) for sid in ids]
    for row in rows:
        source = configured.get(row["source"])
        state = states.get(row["source"])
        row["selectors"] = selector_origins(source, state.selectors if state else None) if source else None
    return rows


def _article_failures(articles: list[ArticleState]) -> tuple[int, str | None]:
    """Return how many articles' last fetch failed, and the reason of the latest such failure."""
    failing = [a for a in articles if a.fail_count > 0]
    latest = max(failing, key=lambda a: a.last_fetch_at or a.first_seen, default=None)
    return len(failing), latest.last_error if latest is not None else None


def _row(source_id: str, state: SourceState | None, articles: list[ArticleState], configured: bool) -> dict[str, Any]:
    state = state or SourceState(source_id)
    failing, article_error = _article_failures(articles)
    if not configured:
        label = "removed"
    elif state.failing:
        label = "failing"
    elif state.last_outcome in (None, "ok", "not_modified"):
        label = "ok" if state.last_outcome else "new"
    else:
        label = state.last_outcome  # error, blocked or layout, not yet reported as failing
    return {
        "source": source_id,
        "state": label,
        "configured": configured,
        "last_success": fmt_time(state.last_success),
        "last_attempt": fmt_time(state.last_attempt),
        "next_due": fmt_time(state.next_due) if configured else None,
        "last_outcome": state.last_outcome,
        "consecutive_failures": state.consecutive_failures,
        "failing": state.failing,
        "articles": len(articles),
        "last_error": state.last_error,
        "failing_articles": failing,
        "article_error": article_error,
    }


def fleet_workers(config: Config) -> list[dict[str, Any]] | None:
    """Return the live members of the config's fleet (None when the database is not a fleet's)."""
    if not is_fleet(config.database):
        return None
    from monitor.service.fleet import config_hash, live_members

    mine = config_hash(config.path)
    return [
        {
            "id": member.id,
            "host": member.host,
            "pid": member.pid,
            "started": fmt_time(member.started),
            "last_seen": fmt_time(member.last_seen),
            "polls": member.polls,
            "config_matches": member.config_hash == mine,
        }
        for member in live_members(config.database, utc_now())
    ]


def _status(args: argparse.Namespace) -> int:
    config = load(args.config, secrets=False)
    rows = status_rows(config)
    workers = fleet_workers(config)
    pid = running_pid(pid_path(config, args.pid_file)) if workers is None else None
    if args.json:
        report: dict[str, Any] = {"daemon": {"running": pid is not None or bool(workers), "pid": pid}}
        if workers is not None:
            report["workers"] = workers
        print(json.dumps({**report, "sources": rows}, indent=2))
        return 0
    if workers is None:
        print(f"daemon: running (pid {pid})" if pid is not None else "daemon: not running")
    else:
        print(f"fleet: {len(workers)} live member(s)")
        for worker in workers:
            note = "" if worker["config_matches"] else "  CONFIG DIFFERS from this file"
            print(f"  {worker['id']} {worker['host']} pid {worker['pid']} polls {worker['polls']}{note}")
    for line in format_table(rows, utc_now()):
        print(printable(line))
    return 0


def format_table(rows: list[dict[str, Any]], now: datetime) -> list[str]:
    """Return the status table as aligned lines, times shown relative to `now`."""
    cells = [COLUMNS] + [
        (
            row["source"],
            row["state"],
            _relative(row["last_success"], now, "never"),
            _relative(row["next_due"], now, "-"),
            str(row["consecutive_failures"]),
            _articles_cell(row),
            _clip(row["last_error"] or _article_error_cell(row) or "-"),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells]


def _articles_cell(row: dict[str, Any]) -> str:
    failing = row.get("failing_articles") or 0
    return f"{row['articles']} ({failing} failing)" if failing else str(row["articles"])


def _article_error_cell(row: dict[str, Any]) -> str | None:
    reason = row.get("article_error")
    return f"article: {reason}" if reason else None


def _relative(stamp: str | None, now: datetime, missing: str) -> str:
    if stamp is None:
        return missing
    seconds = (datetime.fromisoformat(stamp.replace("Z", "+00:00")) - now).total_seconds()
    span = _span(abs(seconds))
    return f"in {span}" if seconds > 0 else f"{span} ago"


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_WIDTH else text[: ERROR_WIDTH - 1] + "…"


def _migrate(args: argparse.Namespace) -> int:
    config = load(args.config, secrets=False)
    open_store(config.database).close()  # opening a store for writing creates or checks its schema
    if is_fleet(config.database):
        from monitor.service.fleet import migrate

        migrate(config.database)
        print(f"schema ready in {describe_url(config.database)}: the store's, the fleet's and procrastinate's tables")
    else:
        print(f"schema ready in {describe_url(config.database)}")
    return 0


COMMANDS = {
    "migrate": Command(add_config_argument, _migrate),
    "run": Command(_run_arguments, _run),
    "status": Command(_status_arguments, _status),
    "reload": Command(_reload_arguments, _reload),
}
