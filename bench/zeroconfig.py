"""Benchmark `extraction`: zero-config reading (no selectors) next to trafilatura, in one run, on the same bytes.

- Body F1 by the Zyte article-extraction benchmark's measure (word 4-shingles; per-page precision and recall, averaged;
  F1 of the averages) on ../shared/fixtures/extraction-benchmark/ (91 real pages with ground truth; read from the
  shared folder beside the checkout when it exists, never shipped). Ours runs through the real `monitor extract`.
- Title and date exactness on the real ministry articles in tests/fixtures (truth: the shipped selectors).
- False-article rate on the saved listings and error page (an answer with text counts as an article).
- CPU per page, each extractor in its own process pinned to one core, looping over the 91 pages.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

from bench.measure import run_measured
from bench.monitor_runner import monitor_env
from bench.options import Options
from bench.site import FIXTURES, ROOT, SHIPPED_CONFIG

__all__ = ["BENCHMARK_PAGES", "f1_score", "run_extraction"]

BENCHMARK_PAGES = ROOT.parent / "shared" / "fixtures" / "extraction-benchmark"
SECONDS_PER_RUN = 4.0
_WORDS = re.compile(r"\w+")

_LOOP = """
import json, os, sys, time
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
bodies = [open(p, "rb").read() for p in json.loads(sys.argv[1])]
def timed(fn):
    for body in bodies:
        fn(body)
    count, started = 0, time.process_time()
    while time.process_time() - started < float(sys.argv[2]):
        for body in bodies:
            fn(body)
            count += 1
    elapsed = time.process_time() - started
    print(json.dumps({"pages": count, "cpu_s": elapsed, "ms_per_page": 1000 * elapsed / count}))
"""

_OURS = """
from monitor.config import Source
from monitor.errors import MonitorError
from monitor.pages import extract_article
source = Source(id="bench", name="bench", url="https://localhost/")
def run(body):
    try:
        extract_article(body, None, "https://localhost/article.html", source)
    except MonitorError:
        pass
timed(run)
"""

_TRAFILATURA = """
import trafilatura
def run(body):
    trafilatura.extract(body)
timed(run)
"""

_TRAFILATURA_READ = """
import json, sys
import trafilatura
out = {}
for item in json.loads(sys.argv[1]):
    body = open(item["file"], "rb").read()
    meta = trafilatura.bare_extraction(body, url=item.get("url"), with_metadata=True)
    text = trafilatura.extract(body) or ""
    out[item["file"]] = {"text": text, "title": getattr(meta, "title", None), "date": getattr(meta, "date", None)}
print(json.dumps(out))
"""


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    words = _WORDS.findall(text)
    return Counter(tuple(words[i : i + 4]) for i in range(len(words) - 3))


def f1_score(predicted: dict[str, str], truth: dict[str, str]) -> dict[str, float]:
    """Return the Zyte benchmark's precision, recall and F1 of `predicted` texts against `truth`, by page key."""
    precisions, recalls = [], []
    for key, true_text in truth.items():
        got, want = _shingles(predicted.get(key, "")), _shingles(true_text)
        tp, fp, fn = sum((got & want).values()), sum((got - want).values()), sum((want - got).values())
        if tp + fp + fn == 0:
            continue
        if tp + fp:
            precisions.append(1.0 if fp == fn == 0 else tp / (tp + fp))
        if tp + fn:
            recalls.append(1.0 if fp == fn == 0 else tp / (tp + fn))
    precision, recall = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / (precision + recall)}


def _benchmark_pages(workdir: Path) -> tuple[list[Path], dict[str, str]]:
    truth = json.loads((BENCHMARK_PAGES / "ground-truth.json").read_text(encoding="utf-8"))
    files, texts = [], {}
    for key in sorted(truth):
        path = workdir / f"{key}.html"
        path.write_bytes(gzip.decompress((BENCHMARK_PAGES / "html" / f"{key}.html.gz").read_bytes()))
        files.append(path)
        texts[str(path)] = truth[key]["articleBody"]
    return files, texts


def _monitor_extract(args: list[str], workdir: Path) -> list[dict[str, Any]]:
    argv = [sys.executable, "-m", "monitor", "extract", "--format", "jsonl", *args]
    done = subprocess.run(argv, capture_output=True, env=monitor_env(workdir), cwd=ROOT, timeout=600, check=False)
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def _python_json(code: str, argument: Any, workdir: Path) -> Any:
    argv = [sys.executable, "-c", textwrap.dedent(code), json.dumps(argument), str(SECONDS_PER_RUN)]
    run = run_measured(argv, env=monitor_env(workdir), cwd=ROOT)
    return json.loads(run.output.strip().splitlines()[-1])


def _ministry_rows() -> list[dict[str, str]]:
    with (FIXTURES / "SOURCES.tsv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _ministry_truth() -> dict[str, dict[str, Any]]:
    """Title and date the shipped selectors read from every saved article page a shipped source is proven by."""
    from monitor.config import load_config
    from monitor.pages import extract_article

    config = load_config(SHIPPED_CONFIG)
    proving = {name: source for source in config.sources for name in source.proven_by}
    truth = {}
    for row in _ministry_rows():
        if row["kind"] == "article" and row["file"] in proving:
            found = extract_article((FIXTURES / row["file"]).read_bytes(), None, row["url"], proving[row["file"]])
            truth[str(FIXTURES / row["file"])] = {"url": row["url"], "title": found.title, "date": found.published}
    return truth


def _ministry_scores(truth: dict[str, dict[str, Any]], theirs: dict[str, Any], workdir: Path) -> dict[str, Any]:
    ours: dict[str, dict[str, Any]] = {}
    for file, want in truth.items():
        [record] = _monitor_extract(["--url", want["url"], file], workdir)
        ours[file] = record
    pages = len(truth)

    def exact(found: dict[str, Any], key: str, field: str) -> int:
        return sum(1 for f, want in truth.items() if (found[f].get(field) or "")[:10] == (want[key] or "")[:10])

    def titles(found: dict[str, Any]) -> int:
        return sum(1 for f, want in truth.items() if found[f].get("title") == want["title"])

    return {
        "pages": pages,
        "monitor": {"title": titles(ours), "date": exact(ours, "date", "published")},
        "trafilatura": {"title": titles(theirs), "date": exact(theirs, "date", "date")},
    }


def _not_articles(workdir: Path) -> dict[str, Any]:
    rows = [r for r in _ministry_rows() if r["kind"] in ("listing", "other")]
    files = [str(FIXTURES / r["file"]) for r in rows]
    answers = [_monitor_extract(["--url", r["url"], str(FIXTURES / r["file"])], workdir)[0] for r in rows]
    answers += _monitor_extract(files, workdir)  # and as a user would, without the page's address
    ours = sum(1 for record in answers if "error" not in record)
    theirs_read = _python_json(_TRAFILATURA_READ, [{"file": f} for f in files], workdir)
    theirs = sum(1 for f in files if theirs_read[f]["text"].strip())
    return {"pages": len(files), "monitor": ours, "monitor_answers": len(answers), "trafilatura": theirs}


def run_extraction(opts: Options) -> dict[str, Any]:
    """Return body F1, ministry title/date exactness, false articles and CPU per page, ours next to trafilatura."""
    if not BENCHMARK_PAGES.is_dir():
        raise FileNotFoundError(f"{BENCHMARK_PAGES} is missing: the extraction benchmark reads the shared pages")
    workdir = opts.workdir / "extraction"
    workdir.mkdir(parents=True, exist_ok=True)
    files, truth = _benchmark_pages(workdir)
    ours = {r["file"]: r.get("text", "") for r in _monitor_extract([str(f) for f in files], workdir)}
    ministry = _ministry_truth()
    theirs_read = _python_json(_TRAFILATURA_READ, [{"file": str(f)} for f in files], workdir)
    theirs_ministry = _python_json(
        _TRAFILATURA_READ, [{"file": f, "url": t["url"]} for f, t in ministry.items()], workdir
    )
    paths = json.dumps([str(f) for f in files])
    cpu_ours = _python_json(_LOOP + _OURS, json.loads(paths), workdir)
    cpu_theirs = _python_json(_LOOP + _TRAFILATURA, json.loads(paths), workdir)
    from importlib.metadata import version

    result: dict[str, Any] = {
        "pages": len(files),
        "monitor": {**f1_score(ours, truth), "cpu": cpu_ours, "refused": sum(1 for t in ours.values() if not t)},
        "trafilatura": {**f1_score({f: r["text"] for f, r in theirs_read.items()}, truth), "cpu": cpu_theirs},
        "trafilatura_version": version("trafilatura"),
        "ministry": _ministry_scores(ministry, theirs_ministry, workdir),
        "not_articles": _not_articles(workdir),
    }
    print(
        f"bench: extraction F1 ours {result['monitor']['f1']:.4f} ({cpu_ours['ms_per_page']:.1f} ms/page), "
        f"trafilatura {result['trafilatura']['f1']:.4f} ({cpu_theirs['ms_per_page']:.1f} ms/page)"
    )
    return result
