"""Run `monitor run` (the daemon) as a child process and read its CPU and memory from /proc while it runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from bench.monitor_runner import monitor_env

__all__ = ["Daemon", "Receiver", "daemon_available"]

_TICKS = os.sysconf("SC_CLK_TCK")


def daemon_available() -> bool:
    """Return whether this checkout has `monitor run` (the daemon is being written alongside the benchmarks)."""
    done = subprocess.run([sys.executable, "-m", "monitor", "run", "--help"], capture_output=True, check=False)
    return done.returncode == 0


class Daemon:
    """`monitor run --config CONFIG`, stopped with SIGTERM on exit; logs go to `workdir/daemon.log`."""

    def __init__(self, config: Path, workdir: Path, args: tuple[str, ...] = ()) -> None:
        self.config = config
        self.workdir = workdir
        self.args = args
        self._log: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Daemon:
        self._log = (self.workdir / "daemon.log").open("wb")
        argv = [sys.executable, "-m", "monitor", "run", "--config", str(self.config), *self.args]
        # cwd is the workdir, as for `monitor check`: `python -m` puts the cwd first on sys.path, so started from this
        # checkout the child would import it even when --monitor-root names another.
        self._proc = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, env=monitor_env(self.workdir), cwd=self.workdir
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._log is not None:
            self._log.close()

    def check_alive(self) -> None:
        """Raise RuntimeError (with the end of its log) if the daemon has exited."""
        self._alive_pid()

    @property
    def pid(self) -> int:
        return self._alive_pid()

    def _alive_pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("daemon not started")
        if self._proc.poll() is not None:
            log = (self.workdir / "daemon.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the daemon exited with {self._proc.returncode}:\n{log}")
        return self._proc.pid

    def poll_logged_at(self, source_id: str, text: str) -> float | None:
        """Return when (Unix time, to the ms) the daemon last logged a poll of `source_id` mentioning `text`."""
        found = None
        for line in (self.workdir / "daemon.log").read_text(errors="replace").splitlines():
            if f" poll {source_id} " in line and text in line:
                found = line
        if found is None:
            return None
        # The text log format starts with logging's default asctime, in local time: "2026-11-28 08:52:01,123".
        return datetime.strptime(found[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()

    def cpu_s(self) -> float:
        """Return the user + system CPU seconds the daemon has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS

    def memory_mb(self) -> dict[str, float]:
        """Return the daemon's resident memory now (VmRSS) and at its peak (VmHWM), in MB."""
        values = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) / 1024
        return {"rss_mb": values["VmRSS"], "peak_rss_mb": values["VmHWM"]}


@dataclass
class _Hooks:
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _HookHandler(BaseHTTPRequestHandler):
    server: _HookServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        arrived = time.monotonic()
        with self.server.hooks.lock:
            self.server.hooks.received.append((arrived, json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


class _HookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hooks: _Hooks) -> None:
        self.hooks = hooks
        super().__init__(("127.0.0.1", 0), _HookHandler)


class Receiver:
    """A webhook receiver on loopback that notes when each event arrives (time.monotonic())."""

    def __init__(self) -> None:
        self._hooks = _Hooks()
        self._server = _HookServer(self._hooks)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def wait_for(self, article_path: str, timeout_s: float) -> tuple[float, dict[str, Any]]:
        """Return (arrival time, event) of the first event whose article URL ends with `article_path`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._hooks.lock:
                for arrived, event in self._hooks.received:
                    url = event.get("data", {}).get("article", {}).get("url", "")
                    if url.endswith(article_path):
                        return arrived, event
            time.sleep(0.01)
        raise TimeoutError(f"no webhook for {article_path} within {timeout_s:.0f}s")

    def count(self) -> int:
        with self._hooks.lock:
            return len(self._hooks.received)
