"""The transport race: `monitor check`'s warm cycle with each HTTP transport for direct connections, in one run.

Contestants, in turns whose order rotates from run to run: the monitor's direct transport as shipped (httpx-aiohttp
wrapped by monitor/http/direct.py), httpx's default transport (httpcore on anyio; sniffio installed, without which
httpcore 1.0.9 re-imports it on every lock: encode/httpcore#1103) and httpx-aiohttp's bare transport, each in the real
CLI (bench/transport_child.py swaps the transport in), and urlwatch 2.29 as the reference the warm cycle must stay
under a third of. A warm cycle is 1,000 listings answered 304, as in `python -m bench warm`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from bench.cycles import _import_once, _rotate
from bench.measure import Run, run_measured, summary
from bench.monitor_runner import Monitor, monitor_env
from bench.options import Options
from bench.rivals import Urlwatch
from bench.simproc import SimProcess
from bench.site import ROOT, Layout
from bench.transport_child import TRANSPORTS

__all__ = ["render_transports", "run_transports", "verdict"]

URLWATCH_SHARE = 1 / 3
"""The standing target: the warm cycle's CPU at most this share of urlwatch's."""


def _log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def _contestant(monitor: Monitor, kind: str) -> Callable[[], Run]:
    argv = [sys.executable, "-m", "bench.transport_child", kind, "check", "--config", str(monitor.config)]
    env = monitor_env(monitor.workdir, ROOT)

    def check() -> Run:
        return run_measured(argv, env=env, cwd=monitor.workdir)

    return check


def _turn(sim: SimProcess, name: str, run: Callable[[], Run], sources: int) -> Run:
    sim.stats(clear=True)
    result = run()
    stats = sim.stats(clear=True)
    if result.code != 0 or (name != "urlwatch" and stats["not_modified"] != sources):
        raise RuntimeError(
            f"{name}: exit {result.code}, {stats['not_modified']} 304s (want {sources}): {result.output}"
        )
    return result


def run_transports(opts: Options) -> dict[str, Any]:
    """Return each contestant's warm-cycle medians and runs (the CPU ratios and verdict are rendered from them)."""
    layout = Layout(opts.sources, opts.articles, opts.hosts)
    with SimProcess(layout) as sim:
        monitor = Monitor(opts.workdir / "transports", layout, sim.bases)
        _log(f"transport: first import of {layout.sources} listings (not measured)")
        _import_once(monitor, sim, layout)
        urlwatch = Urlwatch(opts.workdir / "transports-urlwatch", [sim.url(i) for i in range(layout.sources)])
        urlwatch.run()
        contestants = {kind: _contestant(monitor, kind) for kind in TRANSPORTS}
        contestants["urlwatch"] = urlwatch.run
        runs: dict[str, list[Run]] = {name: [] for name in contestants}
        for n in range(opts.runs_for("warm")):
            for name in _rotate(n, list(contestants)):
                runs[name].append(_turn(sim, name, contestants[name], layout.sources))
            _log(f"transport run {n + 1}: " + ", ".join(f"{k} {v[-1].cpu_s:.2f}s CPU" for k, v in runs.items()))
    out: dict[str, Any] = {name: summary(name_runs) for name, name_runs in runs.items()}
    out["sources"] = layout.sources
    return out


def verdict(data: dict[str, Any]) -> tuple[bool, str]:
    """Return whether the shipped direct transport keeps the warm cycle within URLWATCH_SHARE of urlwatch's CPU, and how
    it compares with the others."""
    direct, urlwatch = data["direct"]["cpu_s"], data["urlwatch"]["cpu_s"]
    others = ", ".join(f"{kind} {data[kind]['cpu_s'] / direct:.2f}x" for kind in TRANSPORTS if kind != "direct")
    met = direct <= urlwatch * URLWATCH_SHARE
    share = f"direct uses 1/{urlwatch / direct:.2f} of urlwatch's CPU (target 1/{1 / URLWATCH_SHARE:.0f} or less)"
    return met, f"{share}: {'met' if met else 'NOT met'}; the others' CPU against direct's: {others}"


def render_transports(data: dict[str, Any]) -> list[str]:
    lines = [
        f"### Transport race: warm cycle of {data['sources']} listings (medians of {len(data['direct']['runs'])})",
        "",
        "| transport | CPU s | wall s | peak RSS MB | CPU vs direct | urlwatch CPU / this |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    direct, urlwatch = data["direct"]["cpu_s"], data["urlwatch"]["cpu_s"]
    for name in (*TRANSPORTS, "urlwatch"):
        row = data[name]
        cells = [f"{row['cpu_s']:.2f}", f"{row['wall_s']:.2f}", f"{row['maxrss_mb']:.0f}"]
        cells += [f"{row['cpu_s'] / direct:.2f}x", f"{urlwatch / row['cpu_s']:.2f}x"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"Verdict: {verdict(data)[1]}.", ""]
    for name in (*TRANSPORTS, "urlwatch"):
        lines.append(f"- {name} CPU s " + ", ".join(f"{r['cpu_s']:.2f}" for r in data[name]["runs"]))
    return [*lines, ""]
