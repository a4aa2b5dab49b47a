"""`monitor run`, `monitor status` and `monitor reload`: the daemon, a table of its sources, a live config reload.

`run` holds an exclusive lock on a pid file (next to the SQLite database unless `--pid-file` says otherwise);
`reload` and `status` use it to find the daemon.
"""

from __future__ import annotations

import argparse
import fcntl
import json
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
from monitor.service import DEFAULT_STOP_TIMEOUT_S, DaemonOptions, check_schedules, parse_address, request_reload, run
from storage import SourceState

__all__ = ["COMMANDS", "pid_lock", "pid_path", "running_pid", "status_rows"]

ERROR_WIDTH = 60
COLUMNS = ("SOURCE", "STATE", "LAST SUCCESS", "NEXT DUE", "FAILS", "ARTICLES", "LAST ERROR")


def pid_path(config: Config, explicit: str | None = None) -> Path:
    """Return the pid file: `explicit`, else beside the SQLite database, else beside the config file."""
    if explicit:
        return Path(explicit)
    scheme, _, rest = config.database.partition(":")
    database = rest[3:] if rest.startswith("///") else rest.lstrip("/")
    if scheme == "sqlite" and database and database != ":memory:":
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
    _pid_argument(parser)


def _run(args: argparse.Namespace) -> int:
    config = load(args.config)
    check_schedules(config)
    with pid_lock(pid_path(config, args.pid_file)):
        return run(config, DaemonOptions(http=args.http, stop_timeout_s=args.stop_timeout))


def _reload_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    _pid_argument(parser)


def _reload(args: argparse.Namespace) -> int:
    config = load(args.config)  # a bad file is refused here, with the message the daemon would log
    check_schedules(config)
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
        articles = {source_id: len(store.articles(source_id)) for source_id in ids}
    configured = {source.id for source in config.sources}
    return [_row(sid, states.get(sid), articles[sid], sid in configured) for sid in ids]


def _row(source_id: str, state: SourceState | None, articles: int, configured: bool) -> dict[str, Any]:
    state = state or SourceState(source_id)
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
        "articles": articles,
        "last_error": state.last_error,
    }


def _status(args: argparse.Namespace) -> int:
    config = load(args.config)
    rows = status_rows(config)
    pid = running_pid(pid_path(config, args.pid_file))
    if args.json:
        print(json.dumps({"daemon": {"running": pid is not None, "pid": pid}, "sources": rows}, indent=2))
        return 0
    print(f"daemon: running (pid {pid})" if pid is not None else "daemon: not running")
    for line in format_table(rows, utc_now()):
        print(line)
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
            str(row["articles"]),
            _clip(row["last_error"] or "-"),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells]


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


COMMANDS = {
    "run": Command(_run_arguments, _run),
    "status": Command(_status_arguments, _status),
    "reload": Command(_reload_arguments, _reload),
}
