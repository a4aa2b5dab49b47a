"""The web view's own store connection, used from one worker thread so queries never block the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from storage import Store, open_store

__all__ = ["StoreReader"]

T = TypeVar("T")


class StoreReader:
    """Runs read functions against a store opened lazily on its single thread (SQLite and psycopg connections are
    each used by one thread); the web view never writes."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._store: Store | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="web-store")

    def _run(self, read: Callable[[Store], T]) -> T:
        if self._store is None:
            self._store = open_store(self._url)
        return read(self._store)

    async def call(self, read: Callable[[Store], T]) -> T:
        """Return `read(store)`, run on the reader's thread; raise StorageError as the store does."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, read)

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    async def close(self) -> None:
        """Close the connection and stop the thread."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)
