"""One polling writer per SQLite file: an advisory lock on `<database>.writer.lock`, held for the process's run.

Two processes polling one SQLite store each insert what they found new, and the second's insert collides with
the first's. The lock makes the second wait a bounded time, then refuse with one line. The kernel drops the lock
when the process ends, however it ends, so a killed run never leaves the store locked.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import IO

from storage.errors import StoreBusyError

__all__ = ["WriterLock"]

POLL_S = 0.1


class WriterLock:
    """An exclusive flock on a file beside the database; `release()` (or process exit) gives it up."""

    def __init__(self, database: str) -> None:
        self._path = Path(f"{database}.writer.lock")
        self._file: IO[str] | None = None

    def acquire(self, wait_s: float) -> None:
        """Take the lock, waiting up to `wait_s`; raise StoreBusyError naming the holder's pid if it stays taken."""
        if self._file is not None:
            return
        handle = self._path.open("a+", encoding="ascii")
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(handle)
                    handle.close()
                    raise StoreBusyError(
                        f"another monitor process{holder} is polling into this store; waited {wait_s:g}s"
                    ) from None
                time.sleep(POLL_S)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Give the lock up."""
        if self._file is not None:
            self._file.close()  # closing the descriptor releases the flock
            self._file = None


def _holder(handle: IO[str]) -> str:
    handle.seek(0)
    pid = handle.read(20).strip()
    return f" (pid {pid})" if pid.isdigit() else ""
