"""What every command shares: the Command shape, config loading, output writers, time formatting."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from monitor.config import Config, load_config
from monitor.errors import ConfigError, UsageError
from monitor.events import iso_z
from monitor.pages import check_selectors
from monitor.redact import printable, spreadsheet_safe
from storage import StorageError, Store, check_url, open_store

__all__ = [
    "Command",
    "add_config_argument",
    "check_source_ids",
    "check_webhook_id",
    "fmt_time",
    "iso_time",
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


def load(path: str, *, secrets: bool = True) -> Config:
    """Return the parsed config with its selectors checked; raise ConfigError on any mistake.

    `secrets=False` is for read-only commands: a webhook `${VAR}` that is not set is no mistake there.
    """
    config = load_config(path, secrets=secrets)
    check_selectors(config)
    try:
        check_url(config.database)
    except StorageError as exc:
        raise ConfigError(str(exc), path=config.path, key="database") from exc
    if config.notifications:
        from monitor.delivery.notify import check_notifications  # imports Apprise, only for configs that use it

        check_notifications(config)
    return config


@contextmanager
def opened_store(config: Config) -> Iterator[Store]:
    """Open the config's store read-only for a read-only command and close it afterwards (never creates a file)."""
    store = open_store(config.database, read_only=True)
    try:
        yield store
    finally:
        store.close()


def fmt_time(value: datetime | None) -> str | None:
    """Return a stored time as ISO 8601 UTC, or None."""
    return None if value is None else iso_z(value)


def parse_since(text: str | None) -> datetime | None:
    """Parse an ISO 8601 `--since` value; a value without an offset is UTC. Raise UsageError (exit 2) otherwise."""
    if text is None:
        return None
    try:
        return iso_time(text)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--since: {exc}") from exc


def iso_time(text: str) -> datetime:
    """Parse an ISO 8601 time for argparse (`type=iso_time`); a value without an offset is UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time like 2026-11-01T00:00:00Z") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_source_ids(config: Config, store: Store, source_ids: list[str] | None, option: str = "--source") -> None:
    """Raise UsageError naming the first id that is neither configured nor stored (a typo would print nothing)."""
    configured = {source.id for source in config.sources}
    unknown = [sid for sid in source_ids or () if sid not in configured]
    if unknown:
        stored = {state.source_id for state in store.source_states()}
        for sid in unknown:
            if sid not in stored:
                raise UsageError(f"{option} {sid!r}: no such source in {config.path}")


def check_webhook_id(config: Config, store: Store, webhook_id: str | None) -> None:
    """Raise UsageError if `webhook_id` is neither configured nor has stored deliveries."""
    if webhook_id is None or any(endpoint.id == webhook_id for endpoint in config.webhooks):
        return
    if not store.deliveries(webhook_id=webhook_id):
        raise UsageError(f"--webhook {webhook_id!r}: no such webhook in {config.path}")


def use_colour(stream: TextIO) -> bool:
    """Return whether to colour output: only on a terminal."""
    return stream.isatty()


def write_records(rows: list[dict[str, Any]], fmt: str, columns: list[str], out: TextIO | None = None) -> None:
    """Write records as JSON lines or CSV with a header (to stdout unless `out` is given)."""
    out = out or sys.stdout
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: spreadsheet_safe(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows)
        return
    for row in rows:
        # json.dumps escapes C0 controls but not C1 (U+009B starts an escape sequence too): escape those as well.
        out.write(printable(json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False)) + "\n")
