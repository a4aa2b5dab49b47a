"""Benchmarks 1-3 on one site: first import, warm cycle and change cycle, with urlwatch side by side.

The contestants (the monitor, urlwatch, and with --baseline the monitor from another checkout) take turns within
each run, in an order that rotates from run to run, so a noisy machine slows them alike.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from bench.measure import Run, median, summary
from bench.monitor_runner import BENCH_MONITOR, BENCH_SOURCE, Monitor
from bench.options import Options
from bench.rivals import Urlwatch
from bench.simproc import SimProcess
from bench.site import Layout

__all__ = ["run_cycles"]

CHANGED_PER_RUN = 10
Turns = dict[str, tuple[Run, Any]]


def _log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def _rotate(n: int, names: list[str]) -> list[str]:
    return names[n % len(names) :] + names[: n % len(names)]


def _import_once(monitor: Monitor, sim: SimProcess, layout: Layout) -> dict[str, Any]:
    monitor.reset()
    sim.stats(clear=True)
    run = monitor.check()
    stats = sim.stats(clear=True)
    pages = stats["ok"] - stats["robots"]
    expected = layout.sources * (layout.articles + 1)
    versions = monitor.count_versions()
    if pages != expected or versions != layout.sources * layout.articles:
        raise RuntimeError(f"first import fetched {pages} pages (want {expected}) and stored {versions} versions")
    return {**run.as_dict(), "pages": pages, "versions": versions, "pages_per_s": pages / run.wall_s}


def _import_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "pages": runs[0]["pages"],
        "pages_per_s": median([r["pages_per_s"] for r in runs]),
        "wall_s": median([r["wall_s"] for r in runs]),
        "cpu_s": median([r["cpu_s"] for r in runs]),
        "maxrss_mb": median([r["maxrss_mb"] for r in runs]),
        "runs": runs,
    }


def bench_import(opts: Options, monitors: dict[str, Monitor], sim: SimProcess, layout: Layout) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in monitors}
    for n in range(opts.runs_for("import")):
        for name in _rotate(n, list(monitors)):
            result = _import_once(monitors[name], sim, layout)
            speed = f"{result['pages']} pages in {result['wall_s']:.1f}s = {result['pages_per_s']:.0f}/s"
            _log(f"import run {n + 1} ({name}): {speed}")
            runs[name].append(result)
    return {name: _import_summary(name_runs) for name, name_runs in runs.items()}


def _measure(sim: SimProcess, run: Callable[[], Run]) -> tuple[Run, dict[str, Any]]:
    sim.stats(clear=True)
    result = run()
    stats = sim.stats(clear=True)
    stats.pop("paths_200")
    return result, stats


def _side_by_side(n: int, sim: SimProcess, contestants: dict[str, Callable[[], Run]]) -> Turns:
    return {name: _measure(sim, contestants[name]) for name in _rotate(n, list(contestants))}


def _summary(results: list[Turns], sources: int, startup: dict[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in results[0]:
        data = summary([r[name][0] for r in results])
        data["requests"] = [r[name][1] for r in results]
        data["cpu_ms_per_check"] = data["cpu_s"] / sources * 1000
        data["startup_cpu_s"] = startup[name]
        data["marginal_cpu_ms_per_check"] = (data["cpu_s"] - startup[name]) / sources * 1000
        out[name] = data
    out["cpu_ratio"] = out["urlwatch"]["cpu_s"] / out["monitor"]["cpu_s"]
    out["wall_ratio"] = out["urlwatch"]["wall_s"] / out["monitor"]["wall_s"]
    return out


def _line(label: str, n: int, turns: Turns) -> str:
    parts = [f"{name} {run.cpu_s:.2f}s CPU {run.wall_s:.2f}s wall" for name, (run, _s) in turns.items()]
    return f"{label} run {n + 1}: " + ", ".join(parts)


def bench_warm(
    opts: Options, sim: SimProcess, contestants: dict[str, Callable[[], Run]], startup: dict[str, float]
) -> dict[str, Any]:
    results = []
    for n in range(opts.runs_for("warm")):
        turns = _side_by_side(n, sim, contestants)
        for name, (_run, stats) in turns.items():
            if stats["not_modified"] != opts.sources:
                raise RuntimeError(f"warm cycle: {name} got {stats['not_modified']} 304s, want {opts.sources}")
        _log(_line("warm", n, turns))
        results.append(turns)
    return _summary(results, opts.sources, startup)


def _urlwatch_entries(urlwatch: Urlwatch) -> int:
    """Return how many entries urlwatch's cache holds (it adds one per job it found changed)."""
    with sqlite3.connect(urlwatch.workdir / "cache.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM CacheEntry").fetchone()[0])


def _changed_indices(n: int, sources: int) -> list[int]:
    step = max(1, sources // CHANGED_PER_RUN)
    return sorted({(k * step + n * 7 + 3) % sources for k in range(CHANGED_PER_RUN)})


def _detected(monitor: Monitor, seq: int, indices: list[int], added: list[str]) -> dict[str, int]:
    """Check that exactly the new articles fired `article.published`, and nothing else fired."""
    events = monitor.events_after(seq)
    wanted = {(f"s{i:05d}", path) for i, path in zip(indices, added, strict=True)}
    found = {
        (source, "/" + (url or "").split("/", 3)[-1]) for kind, source, url in events if kind == "article.published"
    }
    detected = len(wanted & found)
    false_events = len(events) - detected
    if detected != len(wanted) or false_events:
        raise RuntimeError(f"change cycle: detected {detected}/{len(wanted)}, false events {false_events}: {events}")
    return {"changed": len(wanted), "detected": detected, "false_events": false_events}


def bench_change(
    opts: Options,
    sim: SimProcess,
    monitors: dict[str, Monitor],
    urlwatch: Urlwatch,
    startup: dict[str, float],
) -> dict[str, Any]:
    contestants = {**{name: m.check for name, m in monitors.items()}, "urlwatch": urlwatch.run}
    results, checks = [], []
    for n in range(opts.runs_for("change")):
        indices = _changed_indices(n, opts.sources)
        added = sim.publish(indices)
        seqs, entries = {name: m.last_event_seq() for name, m in monitors.items()}, _urlwatch_entries(urlwatch)
        turns = _side_by_side(n, sim, contestants)
        check: dict[str, Any] = {name: _detected(m, seqs[name], indices, added) for name, m in monitors.items()}
        check["urlwatch"] = {"changed": len(indices), "detected": _urlwatch_entries(urlwatch) - entries}
        checks.append(check)
        _log(_line("change", n, turns) + f"; {check}")
        results.append(turns)
    out = _summary(results, opts.sources, startup)
    out["detection"] = checks
    return out


def _startup(monitors: dict[str, Monitor], urlwatch: Urlwatch) -> dict[str, float]:
    """Median CPU of loading each program and its watch-list without checking (validate, urlwatch --list)."""
    cpu = {name: median([m.startup().cpu_s for _ in range(3)]) for name, m in monitors.items()}
    cpu["urlwatch"] = median([urlwatch.startup().cpu_s for _ in range(3)])
    return cpu


def _monitors(opts: Options, layout: Layout, sim: SimProcess) -> dict[str, Monitor]:
    monitors = {"monitor": Monitor(opts.workdir / "cycles", layout, sim.bases)}
    if opts.baseline is not None:
        monitors["baseline"] = Monitor(opts.workdir / "baseline", layout, sim.bases, checkout=opts.baseline)
    return monitors


def run_cycles(opts: Options, selected: set[str]) -> dict[str, Any]:
    """Run whichever of import, warm and change are selected; return their results."""
    layout = Layout(opts.sources, opts.articles, opts.hosts)
    results: dict[str, Any] = {}
    _log(f"cycles: serving {layout.sources} listings x {layout.articles} articles on {len(layout.hosts)} addresses")
    with SimProcess(layout) as sim:
        monitors = _monitors(opts, layout, sim)
        results["settings"] = {"monitor": BENCH_MONITOR, "source": BENCH_SOURCE, "hosts": list(layout.hosts)}
        if "import" in selected:
            imports = bench_import(opts, monitors, sim, layout)
            results["import"] = imports.pop("monitor")
            results["import"]["baseline"] = imports.get("baseline")
        elif selected & {"warm", "change"}:
            for name, monitor in monitors.items():
                _log(f"setup: first import by {name} (not measured)")
                _import_once(monitor, sim, layout)
        if selected & {"warm", "change"}:
            urlwatch = Urlwatch(opts.workdir / "urlwatch", [sim.url(i) for i in range(layout.sources)])
            results["urlwatch_version"] = urlwatch.version
            _log("setup: urlwatch cold run (not measured)")
            urlwatch.run()
            startup = _startup(monitors, urlwatch)
            contestants = {**{name: m.check for name, m in monitors.items()}, "urlwatch": urlwatch.run}
            if "warm" in selected:
                results["warm"] = bench_warm(opts, sim, contestants, startup)
            if "change" in selected:
                results["change"] = bench_change(opts, sim, monitors, urlwatch, startup)
    return results
