"""Worker processes that run one function for the event loop, over a pair of widened pipes, without threads.

The event loop writes each job (pickled arguments) to the worker's job pipe through a write-pipe transport and
reads every answer that has arrived with add_reader; the worker reads a job, calls the function, writes the answer.
A worker that dies fails its waiting jobs with WorkerLost; `stop()` tells it to finish (or kills it) and reaps it.
Used by monitor.pages.readers, which decides what runs where.
"""

from __future__ import annotations

import asyncio
import fcntl
import io
import itertools
import os
import pickle
import signal
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

__all__ = ["PIPE_BYTES", "Worker", "WorkerLost"]

STOP_WAIT_S = 5.0
PIPE_BYTES = 1 << 20

# multiprocessing.Connection's framing, which the worker side uses: a signed 4-byte big-endian length, or -1 and
# an 8-byte length for a frame of 2 GiB or more.
_LENGTH = struct.Struct("!i")
_LONG_LENGTH = struct.Struct("!Q")


def _header(size: int) -> bytes:
    return _LENGTH.pack(size) if size < 0x7FFFFFFF else _LENGTH.pack(-1) + _LONG_LENGTH.pack(size)


def _answer(function: Callable[..., Any], job: int, args: tuple[Any, ...]) -> bytes:
    try:
        return pickle.dumps((job, function(*args), None), pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # the caller gets it raised, as it would calling the function itself
        try:
            return pickle.dumps((job, None, exc), pickle.HIGHEST_PROTOCOL)
        except Exception:
            return pickle.dumps((job, None, RuntimeError(f"{type(exc).__name__}: {exc}")), pickle.HIGHEST_PROTOCOL)


def _serve(function: Callable[..., Any], jobs: Connection, answers: Connection) -> None:
    """A worker process: answer each job frame read from `jobs` with `function`'s result, until told to stop."""
    # Ctrl-C in a terminal reaches the whole process group: the parent decides what stops, not its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            frame = jobs.recv_bytes()
        except (EOFError, OSError):
            return
        if not frame:  # the parent's stop frame
            return
        job, args = pickle.loads(frame)
        try:
            answers.send_bytes(_answer(function, job, args))
        except OSError:  # the parent stopped listening (closed with jobs in flight, or gone): nothing to tell
            return


def _widen(conn: Connection) -> None:
    # A pipe holds 64 KiB by default, about one article page. The event loop moves frames only between its other
    # work, so a worker's pipes must hold many or the worker idles waiting for the loop (first import: ~490
    # pages/s with 64 KiB pipes, ~700 with 1 MiB, which is what Linux lets an unprivileged process ask for).
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        try:
            fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass  # the system's limit is lower: the default size still works, only slower


def _take_end(conn: Connection) -> int:
    """Return our end of a pipe as a file descriptor of our own (the Connection is closed)."""
    fd = os.dup(conn.fileno())
    conn.close()
    return fd


class WorkerLost(Exception):
    """The worker process died (or was stopped) before answering."""


class _Answers:
    """The event loop's end of a worker's answer pipe: reads all that has arrived, splits it into frames.

    Read with add_reader rather than a transport: a transport reads at most 256 KiB (~10 article answers) per
    turn of the event loop, and a busy loop's turns are long enough for a worker to answer more than that, then
    idle.
    """

    def __init__(self, worker: Worker, fd: int) -> None:
        self._worker = worker
        self._fd = fd
        self._buffer = bytearray()
        os.set_blocking(fd, False)
        asyncio.get_running_loop().add_reader(fd, self._readable)

    def _readable(self) -> None:
        lost: BaseException | None = None
        try:
            while chunk := os.read(self._fd, PIPE_BYTES):
                self._buffer += chunk
                if len(chunk) < PIPE_BYTES:
                    break
            else:
                lost = EOFError("the worker's answer pipe closed")
        except BlockingIOError:
            pass
        except OSError as exc:
            lost = exc
        self._split()
        if lost is not None:
            self.close()
            self._worker.lose(lost)

    def _split(self) -> None:
        buffer = self._buffer
        while len(buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(buffer)
            start = _LENGTH.size
            if size == -1:
                if len(buffer) < start + _LONG_LENGTH.size:
                    return
                (size,) = _LONG_LENGTH.unpack_from(buffer, start)
                start += _LONG_LENGTH.size
            end = start + size
            if len(buffer) < end:
                return
            with memoryview(buffer) as view:
                answer = pickle.loads(view[start:end])
            del buffer[:end]
            self._worker.answered(*answer)

    def close(self) -> None:
        if self._fd >= 0:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1


class Worker:
    """One worker process running one function, and the event loop's ends of its two pipes: jobs out, answers back.

    `await worker.call(*args)` returns `function(*args)` computed in the worker (or raises what it raised, or
    WorkerLost if the process died first). Arguments and results cross pickled, framed as Connection frames.
    """

    def __init__(self, process: BaseProcess) -> None:
        self.process = process
        self._jobs = itertools.count()
        self._out: asyncio.WriteTransport | None = None
        self._in: _Answers | None = None
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.lost = False

    @classmethod
    async def start(cls, function: Callable[..., Any]) -> Worker:
        """Start a worker process for `function` (a module-level function: it is pickled by name)."""
        # spawn: a fresh interpreter per worker, safe beside the event loop's threads (fork is not).
        import multiprocessing  # on the first worker: a warm check that reads no page never needs it

        context = multiprocessing.get_context("spawn")
        jobs_theirs, jobs_ours = context.Pipe(duplex=False)
        answers_ours, answers_theirs = context.Pipe(duplex=False)
        _widen(jobs_ours)
        _widen(answers_ours)
        process = context.Process(
            target=_serve, args=(function, jobs_theirs, answers_theirs), name="monitor-worker", daemon=True
        )
        try:
            process.start()
        finally:
            jobs_theirs.close()
            answers_theirs.close()
        worker = cls(process)
        loop = asyncio.get_running_loop()
        try:
            worker._out, _ = await loop.connect_write_pipe(asyncio.Protocol, io.FileIO(_take_end(jobs_ours), "w"))
            worker._in = _Answers(worker, _take_end(answers_ours))
        except BaseException:  # cancelled (the caller closed meanwhile) or out of descriptors
            worker.stop()
            raise
        return worker

    async def call(self, *args: Any) -> Any:
        """Return the function's result for `args`, computed in the worker."""
        if self.lost or self._out is None or self._out.is_closing():
            raise WorkerLost("not running")
        job = next(self._jobs)
        frame = pickle.dumps((job, args), pickle.HIGHEST_PROTOCOL)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[job] = future
        # No flow control here: the caller bounds how many jobs wait on a worker (len(waiting)).
        self._out.writelines((_header(len(frame)), frame))
        return await future

    def answered(self, job: int, result: Any, error: BaseException | None) -> None:
        future = self.waiting.pop(job, None)
        if future is None or future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def lose(self, exc: BaseException) -> None:
        """Fail every job waiting on this worker with WorkerLost."""
        self.lost = True
        waiting, self.waiting = self.waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(WorkerLost(str(exc)))

    def stop(self) -> None:
        """Tell the worker to stop and wait for it to exit, killing a stuck one; fail what waits on it."""
        out, told = self._out, False
        if out is not None and not out.is_closing():
            told = not out.get_write_buffer_size()
            if told:
                out.write(_LENGTH.pack(0))  # written at once: nothing is buffered before it
            out.abort()
        if self._in is not None:
            self._in.close()
        # A worker that could not be told (jobs still queued for it: the run is being cut short) is killed.
        self.process.join(STOP_WAIT_S if told else 0)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
        self.process.close()
        self.lose(EOFError("stopped"))
