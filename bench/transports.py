"""The transport race: `monitor check`'s warm cycle with each HTTP transport for direct connections, in one run.

Contestants, in turns whose order rotates from run to run: monitor's own HTTP/1.1 transport (monitor/http/transport.py),
httpx's default transport (httpcore on anyio; sniffio installed, without which httpcore 1.0.9 re-imports it on every
lock: encode/httpcore#1103) and httpx-aiohttp (aiohttp as httpx's transport), each in the real CLI
(bench/transport_child.py swaps the transport in), and urlwatch 2.29 as the reference the warm cycle must stay under
a third of. A warm cycle is 1,000 listings answered 304, as in `python -m bench warm`.
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

KEEP_OWN_FACTOR = 1.5
"""Monitor's own transport stays if it uses at least this many times less CPU than the best other one ..."""
URLWATCH_SHARE = 1 / 3
"""... or if only it keeps the warm cycle's CPU within this share of urlwatch's."""


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
    """Return each contestant's warm-cycle medians and runs, the CPU ratios and the verdict on monitor's own."""
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
    """Return whether monitor's own transport stays for direct connections, and why.

    It stays if it uses KEEP_OWN_FACTOR times less CPU than every other, or if it alone keeps the warm cycle at or
    under URLWATCH_SHARE of urlwatch's CPU (the standing target): dropping it would then break that target.
    """
    own, urlwatch = data["own"]["cpu_s"], data["urlwatch"]["cpu_s"]
    others = {kind: data[kind]["cpu_s"] for kind in TRANSPORTS if kind != "own"}
    best = min(others, key=others.__getitem__)
    within = [kind for kind in TRANSPORTS if data[kind]["cpu_s"] <= urlwatch * URLWATCH_SHARE]
    margin = others[best] / own
    if margin >= KEEP_OWN_FACTOR:
        return True, f"own uses {margin:.2f}x less CPU than the best other ({best}): keep it"
    if within == ["own"]:
        return True, (
            f"own beats {best} by only {margin:.2f}x (< {KEEP_OWN_FACTOR}x), but only own keeps the warm cycle within "
            f"1/{1 / URLWATCH_SHARE:.0f} of urlwatch's CPU: keep it"
        )
    return False, f"own beats {best} by only {margin:.2f}x (< {KEEP_OWN_FACTOR}x): use {best}"


def render_transports(data: dict[str, Any]) -> list[str]:
    lines = [
        f"### Transport race: warm cycle of {data['sources']} listings (medians of {len(data['own']['runs'])})",
        "",
        "| transport | CPU s | wall s | peak RSS MB | CPU vs own | urlwatch CPU / this |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    own, urlwatch = data["own"]["cpu_s"], data["urlwatch"]["cpu_s"]
    for name in (*TRANSPORTS, "urlwatch"):
        row = data[name]
        cells = [f"{row['cpu_s']:.2f}", f"{row['wall_s']:.2f}", f"{row['maxrss_mb']:.0f}"]
        cells += [f"{row['cpu_s'] / own:.2f}x", f"{urlwatch / row['cpu_s']:.2f}x"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"Verdict: {verdict(data)[1]}.", ""]
    for name in (*TRANSPORTS, "urlwatch"):
        lines.append(f"- {name} CPU s " + ", ".join(f"{r['cpu_s']:.2f}" for r in data[name]["runs"]))
    return [*lines, ""]
