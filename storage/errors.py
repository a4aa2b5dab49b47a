"""The storage error tree; both backends raise these, never sqlite3 or psycopg errors.

StorageError
├── StorageUnavailableError   the database cannot be opened or reached
├── IntegrityError            a write broke a constraint (a bug, or two writers racing)
├── StoreBusyError            another process polls into the store (SQLite: one polling writer at a time)
└── SchemaError               the database was written by an incompatible version
"""

from __future__ import annotations

__all__ = ["IntegrityError", "SchemaError", "StorageError", "StorageUnavailableError", "StoreBusyError"]


class StorageError(Exception):
    """Base class of every storage failure."""


class StorageUnavailableError(StorageError):
    """The database cannot be opened or reached."""


class IntegrityError(StorageError):
    """A write broke a constraint."""


class StoreBusyError(StorageError):
    """Another process holds the store's polling-writer lock."""


class SchemaError(StorageError):
    """The database schema is newer than this program understands."""
