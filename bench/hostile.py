"""The hostile mix: a healthy source's poll time in `monitor run`, alone and beside hostile servers.

The hostile servers (monitor.sim.hostile, one misbehaviour per 127.0.0.x address: a gzip-in-gzip bomb, a body or
headers at one byte a second, endless `100 Continue`, an 8 MB header, 5,000 headers, a 170,000-link listing) run
in this process; the daemon runs as a child with the shipped defaults (deadlines, caps), as an operator would,
except `host_delay = "0s"` for the healthy source, so that its poll time is the server's answer, not politeness.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from bench.daemon_runner import Daemon
from bench.measure import median
from bench.options import Options
from monitor.sim.hostile import Behaviour, healthy, hostile_listings, hostile_server, on_listing, source_toml

__all__ = ["run_hostile"]

PHASE_S = 40.0
WARM_UP_POLLS = 2  # the first reads the listing's articles: not what is measured
HEALTHY_INTERVAL = '"1s"'
HOSTILE_INTERVAL = '"2s"'
_POLL = re.compile(r" poll healthy (\S+) .* (\d+)ms")


def _log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def _config(workdir: Path, sources: str) -> Path:
    path = workdir / "sources.toml"
    path.write_text(f'[monitor]\ndatabase = "sqlite:///{workdir}/monitor.db"\n\n{sources}', encoding="utf-8")
    return path


def _healthy_polls(workdir: Path) -> list[tuple[str, float]]:
    log = (workdir / "daemon.log").read_text(errors="replace")
    return [(m.group(1), float(m.group(2))) for m in map(_POLL.search, log.splitlines()) if m]


def _phase(workdir: Path, behaviours: list[Behaviour], names: list[str]) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    sources = "".join(
        source_toml(b.name, b.base + "/news/", interval=HEALTHY_INTERVAL, host_delay='"0s"')
        if b.name == "healthy"
        else source_toml(b.name, b.base + "/news/", interval=HOSTILE_INTERVAL)
        for b in behaviours
        if b.name in names
    )
    with Daemon(_config(workdir, sources), workdir) as daemon:
        time.sleep(PHASE_S)
        daemon.check_alive()
        memory = daemon.memory_mb()
    polls = _healthy_polls(workdir)[WARM_UP_POLLS:]
    durations = sorted(ms for _outcome, ms in polls)
    return {
        "sources": len(names),
        "healthy_polls": len(polls),
        "healthy_failed": sum(1 for outcome, _ms in polls if outcome not in ("ok", "not_modified")),
        "median_ms": median(durations) if durations else None,
        "p95_ms": durations[int(len(durations) * 0.95)] if durations else None,
        "max_ms": durations[-1] if durations else None,
        **memory,
    }


def run_hostile(opts: Options) -> dict[str, Any]:
    """Return the healthy source's poll times (ms, after its first two polls) and the daemon's memory, alone and
    beside the hostile mix."""
    answers = hostile_listings()
    behaviours = [Behaviour("healthy", healthy(3))]
    behaviours += [Behaviour(name, on_listing(answer)) for name, answer in answers.items()]
    with hostile_server(behaviours):
        _log(f"hostile: the healthy source alone for {PHASE_S:.0f}s")
        alone = _phase(opts.workdir / "hostile-alone", behaviours, ["healthy"])
        _log(f"hostile: beside {len(answers)} hostile sources for {PHASE_S:.0f}s")
        mixed = _phase(opts.workdir / "hostile-mix", behaviours, [b.name for b in behaviours])
    return {"phase_s": PHASE_S, "hostile": sorted(answers), "alone": alone, "beside_hostile": mixed}
