"""`python -m bench.web`: page times of the web view over a large store, on SQLite and PostgreSQL.

Fills a store (bench.webstore), serves it with the real `monitor web` in a child process, and times whole HTTP
requests from this process: `/article` of an article with 50 versions, `/sources/{id}` of a source with 10,000
articles (first and 100th page), and `/search` for words of known selectivity. Prints a Markdown table; writes JSON
to bench/results/web-<time>.json. `--store URL` measures a store filled before (left as it is, not dropped), and
`--monitor-root DIR` serves it with another checkout's code: a before/after comparison on the same rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.measure import machine_info
from bench.pg import fresh_database
from bench.webstore import EDITED_URL, fill_store, load_texts
from storage import SourceState, open_store

ROOT = Path(__file__).resolve().parent.parent
SEARCHES = {
    "one article (mm042424)": "mm042424",
    "1% of articles (topic42x)": "topic42x",
    "common word (government)": "government",
    "two words (the president)": "the president",
    "Chinese, 3 chars (外交部)": "外交部",
    "Chinese, 2 chars (中方)": "中方",
    "2 chars, no match (zq): a full scan": "zq",
    "no match (zzqqxxyy)": "zzqqxxyy",
}
# The first seven are the mix reported since the first measurement (the full scan was reported apart).
FIRST_MIX = [label for label in SEARCHES if label != "2 chars, no match (zq): a full scan"]
# Added later, reported apart so the first mix stays comparable: two-character Chinese words (the common case) that
# are rare or absent, a real English word (every English text is in ~1.1% of the articles), one character.
MORE_SEARCHES = {
    "Chinese, 2 chars, 1% (阿富)": "阿富",
    "Chinese, 2 chars, no match (王毅)": "王毅",
    "English word, 2% (Afghanistan)": "Afghanistan",
    "one character (x)": "x",
}


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@contextmanager
def _database(backend: str, workdir: Path, store: str | None) -> Iterator[str]:
    if store:
        yield store
        return
    if backend == "sqlite":
        yield f"sqlite:///{workdir}/web-bench.db"
        return
    with fresh_database("mm_bench_web") as url:
        yield url


def _fill(url: str, articles: int, big: int, versions: int) -> float:
    store = open_store(url)
    started = time.perf_counter()
    try:
        fill_store(store, articles, big, versions)
        for source_id in ["big", *(f"src{k}" for k in range(9))]:
            store.save_source_state(SourceState(source_id, name=f"Bench {source_id}", url="https://bench.example/"))
    finally:
        store.close()
    return time.perf_counter() - started


@contextmanager
def _server(url: str, workdir: Path, root: Path) -> Iterator[str]:
    config = workdir / "web-bench.toml"
    config.write_text(f'[monitor]\ndatabase = "{url}"\n', encoding="utf-8")
    command = [sys.executable, "-m", "monitor", "web", "--config", str(config), "--http", "127.0.0.1:0"]
    with subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            yield line.split(" on ")[1].split()[0].rstrip("/")
        finally:
            process.terminate()
            process.wait(timeout=30)


def _time(client: httpx.Client, path: str, params: dict[str, str], reps: int) -> list[float]:
    for _ in range(2):
        client.get(path, params=params).raise_for_status()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        client.get(path, params=params).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _measure(base: str, reps: int) -> dict[str, Any]:
    pages = {
        "/article (50 versions)": ("/article", {"url": EDITED_URL}),
        "/sources/big page 1 (10,000 articles)": ("/sources/big", {}),
        "/sources/big page 100": ("/sources/big", {"page": "100"}),
        "/ (dashboard)": ("/", {}),
    }
    results: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        for label, (path, params) in pages.items():
            results[label] = _time(client, path, params, reps)
        searches = {label: _time(client, "/search", {"q": q}, reps) for label, q in SEARCHES.items()}
        more = {label: _time(client, "/search", {"q": q}, reps) for label, q in MORE_SEARCHES.items()}
    results.update({f"/search {label}": times for label, times in searches.items()})
    results["/search, the first seven queries"] = [t for label in FIRST_MIX for t in searches[label]]
    results["/search, all eight queries"] = [t for times in searches.values() for t in times]
    results.update({f"/search {label}": times for label, times in more.items()})
    results["/search, the added queries"] = [t for times in more.values() for t in times]
    return results


def _row(label: str, times: list[float]) -> str:
    p50, p95 = statistics.median(times), _percentile(times, 0.95)
    return f"| {label} | {p50:.1f} | {p95:.1f} | {max(times):.1f} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--pg-articles", type=int, help="articles on PostgreSQL (default: --articles)")
    parser.add_argument("--big", type=int, default=10_000, help="articles of the one large source")
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--reps", type=int, default=20, help="timed requests per page or query")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--store", help="measure this filled store (one backend) instead of filling a new one")
    parser.add_argument("--monitor-root", type=Path, default=ROOT, help="serve with this checkout's code")
    args = parser.parse_args(argv)
    if args.store:
        args.backends = "postgresql" if args.store.startswith("postgres") else "sqlite"
    report: dict[str, Any] = {"machine": machine_info(), "texts": load_texts()[2], "backends": {}}
    report["monitor_root"], report["store"] = str(args.monitor_root), args.store
    print(f"texts: {report['texts']}")
    for backend in args.backends.split(","):
        count = args.pg_articles or args.articles if backend == "postgresql" else args.articles
        with tempfile.TemporaryDirectory() as tmp, _database(backend, Path(tmp), args.store) as url:
            fill_s = _fill(url, count, args.big, args.versions) if not args.store else 0.0
            with _server(url, Path(tmp), args.monitor_root.resolve()) as base:
                results = _measure(base, args.reps)
        report["backends"][backend] = {"articles": count, "fill_s": fill_s, "ms": results}
        print(f"\n{backend}: {count:,} articles (filled in {fill_s:.0f} s), {args.reps} requests each, ms\n")
        print("| page | p50 | p95 | max |\n| --- | --- | --- | --- |")
        for label, times in results.items():
            print(_row(label, times))
    out = ROOT / "bench" / "results" / f"web-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
