"""Benchmarks 5b and 6, which need the daemon (`monitor run`): its memory and CPU with many sources, and the time
from an article appearing on a listing to its webhook arriving.
"""

from __future__ import annotations

import random
import time
from typing import Any

from bench.daemon_runner import Daemon, Receiver, daemon_available
from bench.measure import median
from bench.monitor_runner import Monitor
from bench.options import Options
from bench.simproc import SimProcess
from bench.site import Layout

__all__ = ["run_latency", "run_rss"]

RSS_INTERVAL_S = 20
LATENCY_INTERVAL_S = 10
LATENCY_SOURCES = 200
# Revisits off in the daemon memory run, so that every poll there is one listing answering 304.
NO_REVISITS = {"revisit": "0"}


def _log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def _wait_for_polls(sim: SimProcess, daemon: Daemon, count: int, timeout_s: float) -> int:
    """Wait until the site has answered `count` listing polls since the last clear; return how many it has."""
    deadline, seen = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline:
        daemon.check_alive()
        seen += int(sim.stats(clear=True)["not_modified"])
        if seen >= count:
            return seen
        time.sleep(0.5)
    raise TimeoutError(f"the daemon answered {seen} of {count} polls within {timeout_s:.0f}s")


def _daemon_cycle(sim: SimProcess, monitor: Monitor, sources: int) -> dict[str, Any]:
    with Daemon(monitor.config, monitor.workdir) as daemon:
        timeout = RSS_INTERVAL_S * 4 + sources / 100
        sim.stats(clear=True)
        _wait_for_polls(sim, daemon, sources, timeout)
        cpu_before, started = daemon.cpu_s(), time.monotonic()
        polls = _wait_for_polls(sim, daemon, sources, timeout)
        cpu = daemon.cpu_s() - cpu_before
        elapsed = time.monotonic() - started
        memory = daemon.memory_mb()
    return {
        "interval_s": RSS_INTERVAL_S,
        "polls": polls,
        "cycle_cpu_s": cpu,
        "cycle_wall_s": elapsed,
        "cpu_ms_per_warm_check": cpu / polls * 1000,
        **memory,
    }


def run_rss(opts: Options) -> dict[str, Any]:
    """Return the peak RSS of `monitor check` (first import, warm cycle) and of the daemon, with many sources."""
    layout = Layout(opts.rss_sources, 1, opts.hosts)
    with SimProcess(layout) as sim:
        monitor = Monitor(
            opts.workdir / "rss", layout, sim.bases, source={"interval": f"{RSS_INTERVAL_S}s", **NO_REVISITS}
        )
        monitor.reset()
        _log(f"rss: first import of {layout.sources} sources")
        first = monitor.check()
        _log(f"rss: warm check of {layout.sources} sources")
        warm = monitor.check()
        result: dict[str, Any] = {"sources": layout.sources, "import": first.as_dict(), "warm": warm.as_dict()}
        if daemon_available():
            _log(f"rss: daemon polling {layout.sources} sources every {RSS_INTERVAL_S}s (two full cycles)")
            result["daemon"] = _daemon_cycle(sim, monitor, layout.sources)
        else:
            result["daemon"] = "not measured: `monitor run` is not in this checkout yet"
    return result


def _publish_and_wait(sim: SimProcess, receiver: Receiver, daemon: Daemon, source: int) -> dict[str, Any]:
    started = time.monotonic()
    path = sim.publish([source])[0]
    arrived, event = receiver.wait_for(path, timeout_s=LATENCY_INTERVAL_S * 3 + 30)
    arrived_unix = time.time() - (time.monotonic() - arrived)
    if event.get("type") != "article.published":
        raise RuntimeError(f"latency: expected article.published for {path}, got {event.get('type')}")
    # The share of the outbox: from the end of the poll that stored the event (its log line) to the webhook.
    polled = daemon.poll_logged_at(f"s{source:05d}", "article.published")
    after_poll_s = arrived_unix - polled if polled is not None else None
    return {"source": source, "path": path, "latency_s": arrived - started, "after_poll_s": after_poll_s}


def run_latency(opts: Options) -> dict[str, Any]:
    """Return the time from an article appearing on a listing to its webhook arriving, per event, with the interval."""
    if not daemon_available():
        return {"status": "not measured: `monitor run` is not in this checkout yet"}
    layout = Layout(min(LATENCY_SOURCES, opts.sources), opts.articles, opts.hosts)
    rng = random.Random(6)
    with SimProcess(layout) as sim, Receiver() as receiver:
        hooks = f'\n[[webhooks]]\nid = "bench"\nurl = "{receiver.url}"\ntimeout = "5s"\n'
        monitor = Monitor(
            opts.workdir / "latency", layout, sim.bases, source={"interval": f"{LATENCY_INTERVAL_S}s"}, extra=hooks
        )
        monitor.reset()
        _log(f"latency: first import of {layout.sources} sources (baseline, no events)")
        monitor.check()
        samples = []
        with Daemon(monitor.config, monitor.workdir) as daemon:
            for n in range(opts.latency_events * opts.runs_for("latency")):
                time.sleep(rng.uniform(0, LATENCY_INTERVAL_S))
                samples.append(_publish_and_wait(sim, receiver, daemon, rng.randrange(layout.sources)))
                daemon.check_alive()
                after = samples[-1]["after_poll_s"]
                share = f" (webhook {after:.3f}s after the poll's log line)" if after is not None else ""
                _log(f"latency event {n + 1}: {samples[-1]['latency_s']:.2f}s{share}")
        values = [s["latency_s"] for s in samples]
        after_poll = [s["after_poll_s"] for s in samples if s["after_poll_s"] is not None]
    return {
        "sources": layout.sources,
        "interval_s": LATENCY_INTERVAL_S,
        "median_s": median(values),
        "max_s": max(values),
        "min_s": min(values),
        "after_poll_median_s": median(after_poll) if after_poll else None,
        "after_poll_max_s": max(after_poll) if after_poll else None,
        "samples": samples,
    }
