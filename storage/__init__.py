"""Persistence for ministry-monitor: sources, articles, versions, events and the webhook outbox.

`open_store(url)` picks a backend by URL scheme: `sqlite:///path/to.db` (default) or `postgresql://...`.
This package imports nothing from `monitor`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from urllib.parse import urlsplit

from storage.base import (
    ArticleState,
    ArticleSummary,
    DeliveryRecord,
    EventRecord,
    SearchHit,
    SourceState,
    Store,
    VersionRecord,
)
from storage.errors import IntegrityError, SchemaError, StorageError, StorageUnavailableError, StoreBusyError
from storage.sql import compress_raw

__all__ = [
    "ArticleState",
    "ArticleSummary",
    "DeliveryRecord",
    "EventRecord",
    "IntegrityError",
    "SchemaError",
    "SearchHit",
    "SourceState",
    "StorageError",
    "StorageUnavailableError",
    "StoreBusyError",
    "Store",
    "VersionRecord",
    "check_url",
    "compress_raw",
    "describe_url",
    "open_store",
    "sqlite_path",
]


def _open_sqlite(url: str, read_only: bool) -> Store:
    from storage.sqlite import open_sqlite

    return open_sqlite(sqlite_path(url) or ":memory:", read_only)


def _open_postgres(url: str, read_only: bool) -> Store:
    _require_psycopg()
    from storage.postgres import open_postgres

    return open_postgres(url)  # read_only: PostgreSQL has no file to leave uncreated; reads go as usual


def _require_psycopg() -> None:
    try:
        importlib.import_module("psycopg")
    except ImportError as exc:
        raise StorageUnavailableError(
            "a postgresql:// database needs psycopg: install the postgres extra from the checkout, "
            "pip install -e '.[postgres]'"
        ) from exc


BACKENDS: dict[str, Callable[[str, bool], Store]] = {
    "sqlite": _open_sqlite,
    "postgresql": _open_postgres,
    "postgres": _open_postgres,
}
DRIVER_CHECKS: dict[str, Callable[[], None]] = {"postgresql": _require_psycopg, "postgres": _require_psycopg}
"""Per scheme, a check that the backend's driver is installed (without connecting)."""


def sqlite_path(url: str) -> str | None:
    """Return the file path of a `sqlite:` URL (None for another scheme; "" for an in-memory database)."""
    scheme, _, rest = url.partition(":")
    if scheme != "sqlite":
        return None
    return rest[3:] if rest.startswith("///") else rest.lstrip("/")


def check_url(url: str) -> None:
    """Raise StorageUnavailableError if `url`'s scheme is unknown or its driver is not installed; never connects."""
    scheme = urlsplit(url).scheme
    if scheme not in BACKENDS:
        raise StorageUnavailableError(f"unknown database URL scheme {scheme!r}; use sqlite:/// or postgresql://")
    check = DRIVER_CHECKS.get(scheme)
    if check is not None:
        check()


def open_store(url: str, *, read_only: bool = False) -> Store:
    """Open the store named by `url`; raise StorageUnavailableError for an unknown scheme or unreachable database.

    `read_only` (the read-only commands): a SQLite file is opened for reading and never created.
    """
    check_url(url)
    return BACKENDS[urlsplit(url).scheme](url, read_only)


def describe_url(url: str) -> str:
    """Return the database URL with any password masked, safe to print and log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
