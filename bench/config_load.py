"""`python -m bench.config_load [--sources N] [--runs N] [--monitor-root DIR]`: what loading a big watch-list costs.

The config is the rss benchmark's (bench/site.py: the shipped mfa-en-press selectors on every source). Each run is
a fresh interpreter that loads it once. Untraced runs give the seconds and the growth of VmRSS (what stays mapped)
and VmHWM (the peak); one traced run gives tracemalloc's peak and what the loaded Config holds. A config parsed in
a child process shows as that child's peak RSS, which ends with the child.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.monitor_runner import BENCH_MONITOR, BENCH_SOURCE
from bench.service import NO_REVISITS, RSS_INTERVAL_S
from bench.site import ROOT, Layout, write_monitor_config

__all__ = ["measure_config_load"]

_PROBE = """
import gc, json, resource, sys, time, tracemalloc

def status():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}

from monitor.config.parse import load_config

traced = sys.argv[2] == "traced"
gc.collect()
before = status()
if traced:
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
started = time.perf_counter()
config = load_config(sys.argv[1])
seconds = time.perf_counter() - started
gc.collect()
after = status()
result = {
    "sources": len(config.sources),
    "seconds": seconds,
    "rss_growth_mb": after["VmRSS"] - before["VmRSS"],
    "peak_growth_mb": after["VmHWM"] - before["VmHWM"],
    "child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}
if traced:
    held, peak = tracemalloc.get_traced_memory()
    result.update(traced_peak_mb=(peak - base) / 1e6, traced_held_mb=(held - base) / 1e6)
print(json.dumps(result))
"""


def _probe(config: Path, traced: bool, env: dict[str, str]) -> dict[str, Any]:
    argv = [sys.executable, "-c", _PROBE, str(config), "traced" if traced else "plain"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=config.parent, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure_config_load(sources: int, runs: int, monitor_root: Path | None = None) -> dict[str, Any]:
    """Return the medians of `runs` untraced loads and one traced load of a `sources`-source config."""
    env = {**os.environ, "PYTHONPATH": str(monitor_root or ROOT)}
    with tempfile.TemporaryDirectory(prefix="config-load-") as workdir:
        layout = Layout(sources, 1, tuple(f"127.0.0.{k}" for k in range(1, 11)))
        bases = {host: f"http://{host}:8080" for host in layout.hosts}
        config = Path(workdir) / "sources.toml"
        source = {**BENCH_SOURCE, "interval": f"{RSS_INTERVAL_S}s", **NO_REVISITS}
        write_monitor_config(config, layout, bases, Path(workdir) / "monitor.db", monitor=BENCH_MONITOR, source=source)
        plain = [_probe(config, False, env) for _ in range(runs)]
        traced = _probe(config, True, env)
        size_mb = config.stat().st_size / 1e6
    medians = {key: statistics.median(run[key] for run in plain) for key in plain[0] if key != "sources"}
    return {"sources": sources, "file_mb": size_mb, **medians, **{k: v for k, v in traced.items() if "traced" in k}}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.config_load", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sources", type=int, default=10_000, help="sources in the config (default 10,000)")
    parser.add_argument("--runs", type=int, default=5, help="untraced runs, each a fresh interpreter (default 5)")
    parser.add_argument("--monitor-root", type=Path, help="load with ministry-monitor from this checkout instead")
    args = parser.parse_args()
    result = measure_config_load(args.sources, args.runs, args.monitor_root)
    for key, value in result.items():
        print(f"{key:>20}: {value:.2f}" if isinstance(value, float) else f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
