"""`python -m bench [NAME ...]`, NAME among: warm change import extract extraction charset growth rss latency
fleet hostile transport scheduler.

Every measured program runs as its own child process against a loopback simulator served from another process;
results go to bench/results/<time>.json and the Markdown summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.charsets import run_charsets
from bench.cycles import run_cycles
from bench.extraction import run_extract
from bench.fleet import run_fleet
from bench.growth import run_growth
from bench.hostile import run_hostile
from bench.measure import machine_info
from bench.monitor_runner import use_checkout
from bench.options import Options
from bench.report import render
from bench.scheduler import run_scheduler
from bench.service import run_latency, run_rss
from bench.transports import run_transports
from bench.zeroconfig import run_extraction

BENCHMARKS = (
    "import",
    "warm",
    "change",
    "extract",
    "extraction",
    "charset",
    "growth",
    "rss",
    "latency",
    "fleet",
    "hostile",
    "transport",
    "scheduler",
)
CYCLES = {"import", "warm", "change"}
RESULTS = Path(__file__).resolve().parent / "results"
SINGLE: dict[str, Callable[[Options], dict[str, Any]]] = {
    "extract": run_extract,
    "extraction": run_extraction,
    "charset": run_charsets,
    "growth": run_growth,
    "rss": run_rss,
    "latency": run_latency,
    "fleet": run_fleet,
    "hostile": run_hostile,
    "transport": run_transports,
    "scheduler": run_scheduler,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument("--runs", type=int, help="runs per benchmark (default: 5; 3 for import, 1 for rss)")
    parser.add_argument("--import-runs", type=int, help="runs of the first import (default: 3, or --runs)")
    parser.add_argument("--quick", action="store_true", help="200 sources, 2,000 for rss, stores up to 10^5")
    parser.add_argument("--sources", type=int, help="listings for import/warm/change/growth (default 1000)")
    parser.add_argument("--articles", type=int, default=20, help="articles per listing (default 20)")
    parser.add_argument("--hosts", type=int, default=10, help="loopback addresses to spread listings over")
    parser.add_argument("--monitor-root", type=Path, help="run ministry-monitor from this checkout instead")
    parser.add_argument(
        "--baseline", type=Path, help="also run ministry-monitor from this checkout in import/warm/change/fleet"
    )
    parser.add_argument("--workdir", type=Path, help="keep the working files here (default: a temp dir, removed)")
    parser.add_argument("--out", type=Path, help="write the JSON results here (default bench/results/<time>.json)")
    return parser


def _options(args: argparse.Namespace, workdir: Path) -> Options:
    quick = bool(args.quick)
    return Options(
        workdir=workdir,
        sources=args.sources or (200 if quick else 1000),
        articles=args.articles,
        host_count=args.hosts,
        runs=args.runs,
        import_runs=args.import_runs,
        baseline=args.baseline.resolve() if args.baseline else None,
        growth_levels=(1_000, 10_000, 100_000) if quick else (1_000, 100_000, 1_000_000),
        rss_sources=2_000 if quick else 10_000,
        quick=quick,
    )


def _timed(run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one benchmark; a failure is recorded in its results (the others still run) and printed."""
    started = time.monotonic()
    try:
        result = run()
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result["elapsed_s"] = time.monotonic() - started
    return result


def _run(opts: Options, names: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if CYCLES & set(names):
        results["cycles"] = _timed(lambda: run_cycles(opts, set(names)))
    for name in names:
        if name in SINGLE:
            results[name] = _timed(lambda name=name: SINGLE[name](opts))  # type: ignore[misc]
    return results


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = [n for n in BENCHMARKS if n in args.names] if args.names else list(BENCHMARKS)
    use_checkout(args.monitor_root.resolve() if args.monitor_root else None)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ministry-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    opts = _options(args, workdir.resolve())
    header = {"machine": machine_info(), "command": " ".join(["python -m bench", *(argv or sys.argv[1:])])}
    try:
        results = {**header, "options": {"sources": opts.sources, "articles": opts.articles}, **_run(opts, names)}
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    out = args.out or RESULTS / time.strftime("%Y%m%dT%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(render(results))
    print(f"\nbench: results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
