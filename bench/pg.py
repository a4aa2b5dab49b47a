"""A fresh PostgreSQL database for one benchmark, on the machine's server at 127.0.0.1:5432, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

__all__ = ["PG_ADMIN", "fresh_database"]

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_database(prefix: str = "mm_bench", template: str | None = None) -> Iterator[str]:
    """Create a database of its own (a copy of database `template`, if given); yield its URL; drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    copy = f" TEMPLATE {template}" if template is not None else ""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}{copy}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
