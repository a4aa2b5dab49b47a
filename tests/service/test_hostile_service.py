"""`monitor run` beside hostile servers: the healthy source stays timely, hostile polls are counted failures."""

from __future__ import annotations

import time
from pathlib import Path

from daemonkit import DaemonProcess, wait_until
from test_hostile import MAX_RSS_MB, hostile_config

from monitor.sim.hostile import Behaviour, healthy, hostile_listings, hostile_server, on_listing, source_toml

MAX_HEALTHY_POLL_MS = 5_000  # ~10 ms alone; a hostile neighbour once made it 4.7-29.7 s


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


def test_the_service_keeps_a_healthy_source_timely_beside_hostile_ones(tmp_path: Path) -> None:
    behaviours = [Behaviour("healthy", healthy())]
    behaviours += [Behaviour(name, on_listing(answer)) for name, answer in hostile_listings().items()]
    with hostile_server(behaviours) as server:
        sources = "".join(
            source_toml(b.name, server[b.name].base + "/news/", interval='"2s"', failing_after="2") for b in behaviours
        )
        config = hostile_config(tmp_path, sources)
        with DaemonProcess(config, "--http", "127.0.0.1:0") as daemon:
            wait_until(lambda: len(daemon.polls("healthy")) >= 6, 60, "six polls of the healthy source")
            started = time.monotonic()
            status, _type, body = daemon.get("/healthz")
            health_s = time.monotonic() - started
            wait_until(lambda: len(daemon.polls("slow-body")) >= 2, 60, "two polls of the slow source")
            rss_mb = peak_rss_mb(daemon.pid)
            polls = daemon.polls()
            assert daemon.process.poll() is None

    healthy_polls = [p for p in polls if p["source_id"] == "healthy"]
    assert {p["outcome"] for p in healthy_polls} <= {"ok", "not_modified"}
    assert max(p["duration_ms"] for p in healthy_polls) < MAX_HEALTHY_POLL_MS
    assert (status, body) == (200, b"ok\n") and health_s < 5
    assert rss_mb < MAX_RSS_MB
    failed = {p["source_id"] for p in polls if p["outcome"] == "error"}
    assert {"bomb", "slow-body", "slow-headers", "continue", "huge-header", "many-headers"} <= failed
    assert all(p["outcome"] == "ok" for p in polls if p["source_id"] == "many-links")
