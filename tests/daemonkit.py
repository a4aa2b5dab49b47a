"""Run the real `monitor run` as a subprocess for tests: configs with short intervals, JSON logs, real signals."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from conftest import ROOT, write_config

Log = dict[str, Any]


def daemon_config(
    tmp_path: Path,
    base_url: str,
    *,
    sources: Sequence[str] = ("mfa-en-press",),
    interval: str = "2s",
    monitor: dict[str, str] | None = None,
    extra: str = "",
    name: str = "sources.toml",
) -> Path:
    """Write the shipped config pointed at `base_url`, keeping only `sources`, each polled every `interval`."""
    text = write_config(tmp_path, base_url, monitor=monitor).read_text(encoding="utf-8")
    head, *blocks = text.split("\n[[sources]]\n")
    kept = [block for block in blocks if _source_id(block) in sources]
    text = "\n[[sources]]\n".join([head, *kept]) + "\n" + extra
    text = re.sub(r'(?m)^interval = ".*"$', f'interval = "{interval}"', text)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _source_id(block: str) -> str:
    match = re.search(r'(?m)^id = "([^"]+)"$', block)
    return match.group(1) if match else ""


def wait_until(condition: Callable[[], Any], timeout_s: float = 10.0, what: str = "condition") -> Any:
    """Poll `condition` every 20 ms; return its first truthy value, or raise TimeoutError."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError(f"waited {timeout_s}s for {what}")


class DaemonProcess:
    """`python -m monitor --log-format json run --config FILE ...` in a subprocess, its stderr in a file."""

    def __init__(self, config: Path, *args: str, verbose: bool = False) -> None:
        self.config = config
        self.log_path = config.parent / f"daemon-{time.monotonic_ns()}.log"
        self._log_file = self.log_path.open("wb")
        command = [sys.executable, "-m", "monitor", "--log-format", "json"] + (["-v"] if verbose else [])
        self.process = subprocess.Popen(
            [*command, "run", "--config", str(config), *args],
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
            cwd=ROOT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def logs(self) -> list[Log]:
        """Return the JSON log records written so far (a line that is not JSON fails the test)."""
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        complete = lines if self.log_path.read_bytes().endswith(b"\n") else lines[:-1]
        return [json.loads(line) for line in complete]

    def messages(self, prefix: str) -> list[Log]:
        """Return the log records whose message starts with `prefix`."""
        return [record for record in self.logs() if record["message"].startswith(prefix)]

    def polls(self, source: str | None = None) -> list[Log]:
        """Return the one-line-per-poll records (of one source)."""
        return [r for r in self.messages("poll ") if "outcome" in r and (source is None or r["source_id"] == source)]

    def wait_for_log(self, prefix: str, count: int = 1, timeout_s: float = 10.0) -> list[Log]:
        """Wait until `count` records start with `prefix`; fail early if the process exits."""

        def seen() -> list[Log]:
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited with {self.process.returncode}: {self.log_path.read_text()}")
            found = self.messages(prefix)
            return found if len(found) >= count else []

        return list(wait_until(seen, timeout_s, f"{count} log lines starting {prefix!r}"))

    @property
    def http_base(self) -> str:
        """Return the probe server's base URL, from the daemon's 'listening on' line."""
        line: str = self.wait_for_log("listening on ")[0]["message"]
        return line.split()[2]

    def get(self, path: str) -> tuple[int, str, bytes]:
        """GET a probe path; return (status, content type, body)."""
        try:
            with urllib.request.urlopen(self.http_base + path, timeout=5) as response:
                return response.status, response.headers.get("content-type", ""), response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.headers.get("content-type", ""), exc.read()

    def send(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 15.0) -> tuple[int, float]:
        """Send `sig`; return (exit code, seconds until the process had exited)."""
        started = time.monotonic()
        self.process.send_signal(sig)
        code = self.process.wait(timeout_s)
        return code, time.monotonic() - started

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._log_file.close()

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def starts(records: Iterable[Any]) -> list[float]:
    """Return the start times of simulator request records."""
    return [record.started for record in records]
