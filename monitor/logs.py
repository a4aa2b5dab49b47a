"""Logging for every command: one handler on stderr writing text lines or JSON lines (`--log-format json`).

Log lines carry ids, URLs, statuses and counts; never page bodies or secrets (config objects mask them).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from monitor.redact import printable, redact_urls

__all__ = ["LOG_FORMATS", "JsonFormatter", "configure_logging"]

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Loggers whose INFO lines repeat ours (httpx's request line).
QUIET_LOGGERS = ("httpx", "httpcore")
# The daemon's one line per poll is how operators follow it, so it shows without --verbose.
ALWAYS_INFO_LOGGERS = ("monitor.service.daemon", "monitor.service.fleet")
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message, any `extra=` fields, and a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS and not k.startswith("_")})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time of each record (it may be replaced, as tests do).

    Every message is written with URL passwords masked and control characters escaped (it may quote a server).
    """

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        message = printable(redact_urls(record.getMessage()))
        record = logging.makeLogRecord({**vars(record), "msg": message, "args": None})
        super().emit(record)


def configure_logging(verbose: bool, fmt: str = "text") -> None:
    """Send log records to stderr as text or JSON; INFO (one line per fetch) with `verbose`, else WARNING.

    Calling it again replaces the handler it installed before; handlers installed by others are left alone.
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; use one of {LOG_FORMATS}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ALWAYS_INFO_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
