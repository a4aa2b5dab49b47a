"""Persistence for ministry-monitor: sources, articles, versions, events and the webhook outbox.

`open_store(url)` picks a backend by URL scheme: `sqlite:///path/to.db` (default) or `postgresql://...`.
This package imports nothing from `monitor`.
"""

from __future__ import annotations

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
from storage.errors import IntegrityError, SchemaError, StorageError, StorageUnavailableError
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
    "Store",
    "VersionRecord",
    "compress_raw",
    "describe_url",
    "open_store",
]


def _open_sqlite(url: str) -> Store:
    from storage.sqlite import open_sqlite

    path = url.split(":", 1)[1]
    path = path[3:] if path.startswith("///") else path.lstrip("/")
    return open_sqlite(path or ":memory:")


def _open_postgres(url: str) -> Store:
    from storage.postgres import open_postgres

    return open_postgres(url)


BACKENDS: dict[str, Callable[[str], Store]] = {
    "sqlite": _open_sqlite,
    "postgresql": _open_postgres,
    "postgres": _open_postgres,
}


def open_store(url: str) -> Store:
    """Open the store named by `url`; raise StorageUnavailableError for an unknown scheme or unreachable database."""
    scheme = urlsplit(url).scheme
    opener = BACKENDS.get(scheme)
    if opener is None:
        raise StorageUnavailableError(f"unknown database URL scheme {scheme!r}; use sqlite:/// or postgresql://")
    return opener(url)


def describe_url(url: str) -> str:
    """Return the database URL with any password masked, safe to print and log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
