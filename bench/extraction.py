"""Benchmark 4: articles per second on one core for the shipped selectors over the real saved article pages.

trafilatura's `extract` runs on the same pages in its own venv, as a reference only (it guesses the main text
instead of using per-site selectors, and does no dates-from-title or noise rules).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from bench.measure import median, run_measured
from bench.monitor_runner import monitor_env
from bench.options import Options
from bench.rivals import clean_env, ensure_venv, package_version
from bench.site import FIXTURES, SHIPPED_CONFIG

__all__ = ["run_extract"]

SECONDS_PER_RUN = 3.0

# Both workers: pin to one CPU, load the pages, warm up once, then loop over them for SECONDS_PER_RUN of CPU.
_COMMON = """
import json, os, sys, time
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
pages = json.loads(sys.argv[1])
bodies = [(open(p["file"], "rb").read(), p) for p in pages]
def timed(fn):
    for body, page in bodies:
        fn(body, page)
    count, started = 0, time.process_time()
    while time.process_time() - started < float(sys.argv[2]):
        for body, page in bodies:
            fn(body, page)
            count += 1
    elapsed = time.process_time() - started
    print(json.dumps({"articles": count, "cpu_s": elapsed, "per_s": count / elapsed}))
"""

_OURS = """
from monitor.config.parse import load_config
from monitor.pages.extract import extract_article
config = load_config(sys.argv[3])
def run(body, page):
    extract_article(body, "text/html", page["url"], config.source(page["source"]))
timed(run)
"""

_TRAFILATURA = """
import trafilatura
def run(body, page):
    trafilatura.extract(body, url=page["url"])
timed(run)
"""


def _pages() -> list[dict[str, str]]:
    """Every saved article page named in a shipped source's `proven_by`, with that source and its URL."""
    import csv
    import tomllib

    config = tomllib.loads(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    proving = {name: s["id"] for s in config["sources"] for name in s.get("proven_by", [])}
    with (FIXTURES / "SOURCES.tsv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [
        {"file": str(FIXTURES / r["file"]), "url": r["url"], "source": proving[r["file"]]}
        for r in rows
        if r["kind"] == "article" and r["file"] in proving
    ]


def _worker(python: Path | str, body: str, pages: list[dict[str, str]], env: dict[str, str]) -> dict[str, Any]:
    code = textwrap.dedent(_COMMON) + textwrap.dedent(body)
    argv = [str(python), "-c", code, json.dumps(pages), str(SECONDS_PER_RUN), str(SHIPPED_CONFIG)]
    run = run_measured(argv, env=env, cwd=Path(env["HOME"]))
    result: dict[str, Any] = json.loads(run.output.strip().splitlines()[-1])
    return result


def run_extract(opts: Options) -> dict[str, Any]:
    """Return articles/s (median of runs) for our extractor and for trafilatura, run alternately."""
    pages = _pages()
    venv = ensure_venv("trafilatura", ["trafilatura", "lxml_html_clean"])
    workdir = opts.workdir / "extract"
    workdir.mkdir(parents=True, exist_ok=True)
    ours, theirs = [], []
    for n in range(opts.runs_for("extract")):
        ours.append(_worker(sys.executable, _OURS, pages, monitor_env(workdir)))
        theirs.append(_worker(venv / "bin" / "python", _TRAFILATURA, pages, clean_env(workdir)))
        print(f"bench: extract run {n + 1}: ours {ours[-1]['per_s']:.0f}/s, trafilatura {theirs[-1]['per_s']:.0f}/s")
    return {
        "pages": [Path(p["file"]).name for p in pages],
        "monitor": {"per_s": median([r["per_s"] for r in ours]), "runs": ours},
        "trafilatura": {"per_s": median([r["per_s"] for r in theirs]), "runs": theirs},
        "trafilatura_version": package_version(venv, "trafilatura"),
    }
