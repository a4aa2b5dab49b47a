"""Run a command as a child process and measure it: wall time, CPU seconds and peak RSS of that child alone."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Run", "machine_info", "median", "run_measured", "summary"]


@dataclass(frozen=True, slots=True)
class Run:
    """One measured child process. CPU and RSS come from wait4(), so they cover that child and nothing else."""

    wall_s: float
    user_s: float
    sys_s: float
    maxrss_mb: float
    code: int
    output: str

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("output")
        data["cpu_s"] = self.cpu_s
        return data


def run_measured(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run `argv` to completion and return its measurements; raise RuntimeError with its output if it fails."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", errors="replace")
    run = Run(wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode, text)
    if run.code != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {run.code}:\n{text[-4000:]}")
    return run


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def summary(runs: Sequence[Run]) -> dict[str, Any]:
    """Return the medians of a list of runs plus every individual run."""
    return {
        "wall_s": median([r.wall_s for r in runs]),
        "cpu_s": median([r.cpu_s for r in runs]),
        "maxrss_mb": median([r.maxrss_mb for r in runs]),
        "runs": [r.as_dict() for r in runs],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def machine_info() -> dict[str, Any]:
    """Return what the figures depend on: cores, CPU model, RAM, OS, Python and the date."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gib": round(_ram_gib(), 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
    }
