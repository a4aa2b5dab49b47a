"""What every command shares: the Command shape, config loading, output writers, time formatting."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from monitor.config import Config, load_config
from monitor.events import iso_z
from monitor.pages import check_selectors
from storage import Store, open_store

__all__ = [
    "Command",
    "add_config_argument",
    "fmt_time",
    "load",
    "opened_store",
    "parse_since",
    "use_colour",
    "write_records",
]


@dataclass(frozen=True, slots=True)
class Command:
    """One `monitor` sub-command: how to declare its arguments, and what to run (its help line is in the registry)."""

    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """Add the `--config FILE` option every command takes."""
    parser.add_argument("--config", "-c", default="config/sources.toml", help="the watch-list (TOML)")


def load(path: str) -> Config:
    """Return the parsed config with its selectors checked; raise ConfigError on any mistake."""
    config = load_config(path)
    check_selectors(config)
    if config.notifications:
        from monitor.delivery.notify import check_notifications  # imports Apprise, only for configs that use it

        check_notifications(config)
    return config


@contextmanager
def opened_store(config: Config) -> Iterator[Store]:
    """Open the config's store for a read-mostly command and close it afterwards."""
    store = open_store(config.database)
    try:
        yield store
    finally:
        store.close()


def fmt_time(value: datetime | None) -> str | None:
    """Return a stored time as ISO 8601 UTC, or None."""
    return None if value is None else iso_z(value)


def parse_since(text: str | None) -> datetime | None:
    """Parse an ISO 8601 `--since` value; a value without an offset is UTC."""
    if text is None:
        return None
    from datetime import UTC

    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SystemExit(f"monitor: --since {text!r} is not an ISO 8601 time") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def use_colour(stream: TextIO) -> bool:
    """Return whether to colour output: only on a terminal."""
    return stream.isatty()


def write_records(rows: list[dict[str, Any]], fmt: str, columns: list[str], out: TextIO | None = None) -> None:
    """Write records as JSON lines or CSV with a header (to stdout unless `out` is given)."""
    out = out or sys.stdout
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    for row in rows:
        out.write(json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) + "\n")
