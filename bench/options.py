"""The benchmark run's settings, parsed once from the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_RUNS", "Options"]

# Runs per benchmark when --runs is not given: the first import and the store growth are the slow ones.
DEFAULT_RUNS = {
    "warm": 5,
    "change": 5,
    "import": 3,
    "extract": 5,
    "growth": 5,
    "rss": 1,
    "latency": 2,
    "fleet": 1,
    "hostile": 1,
}


@dataclass(frozen=True, slots=True)
class Options:
    """What to run and how big."""

    workdir: Path
    sources: int = 1000
    articles: int = 20
    host_count: int = 10
    runs: int | None = None
    import_runs: int | None = None
    baseline: Path | None = None
    growth_levels: tuple[int, ...] = (1_000, 100_000, 1_000_000)
    rss_sources: int = 10_000
    latency_events: int = 5
    quick: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(f"127.0.0.{k}" for k in range(1, self.host_count + 1))

    def runs_for(self, benchmark: str) -> int:
        if benchmark == "import" and self.import_runs is not None:
            return self.import_runs
        return self.runs if self.runs is not None else DEFAULT_RUNS[benchmark]
