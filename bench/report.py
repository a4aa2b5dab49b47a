"""Render benchmark results as the Markdown tables BENCHMARKS.md is written from."""

from __future__ import annotations

from typing import Any

from bench.scheduler import render_scheduler
from bench.transports import render_transports

__all__ = ["render"]


def _runs(values: list[float], fmt: str = "{:.2f}") -> str:
    return ", ".join(fmt.format(v) for v in values)


def _pair(title: str, data: dict[str, Any], sources: int) -> list[str]:
    names = [n for n in ("monitor", "baseline", "urlwatch") if n in data]
    heads = {"monitor": "ministry-monitor", "baseline": "monitor (baseline)", "urlwatch": "urlwatch"}
    ratios = [("urlwatch / monitor", "urlwatch")] + ([("baseline / monitor", "baseline")] if "baseline" in data else [])
    lines = [
        f"### {title}",
        "",
        "| | " + " | ".join(heads[n] for n in names) + " | " + " | ".join(r for r, _ in ratios) + " |",
        "| --- " * (1 + len(names) + len(ratios)) + "|",
    ]
    rows = [
        ("CPU s (median)", "cpu_s", "{:.2f}"),
        ("wall s (median)", "wall_s", "{:.2f}"),
        ("peak RSS MB (median)", "maxrss_mb", "{:.0f}"),
        ("CPU ms per check", "cpu_ms_per_check", "{:.2f}"),
        ("CPU ms per check, start-up excluded", "marginal_cpu_ms_per_check", "{:.2f}"),
        ("start-up CPU s (program + watch-list)", "startup_cpu_s", "{:.2f}"),
    ]
    ours = data["monitor"]
    for label, key, fmt in rows:
        values = [fmt.format(data[n][key]) for n in names]
        shares = [f"{data[other][key] / ours[key]:.2f}x" if ours[key] else "-" for _, other in ratios]
        lines.append(f"| {label} | " + " | ".join(values + shares) + " |")
    lines.append("")
    for name in names:
        cpu = _runs([r["cpu_s"] for r in data[name]["runs"]])
        wall = _runs([r["wall_s"] for r in data[name]["runs"]])
        counts = [(r["requests"], r["not_modified"]) for r in data[name]["requests"]]
        lines.append(f"- {heads[name]}: CPU s {cpu}; wall s {wall}; requests (total, 304s) {counts}")
    return [*lines, "", f"({sources} listings.)", ""]


def _import(data: dict[str, Any]) -> list[str]:
    runs = data["runs"]
    return [
        "### First import",
        "",
        f"{data['pages']} pages. Median {data['pages_per_s']:.0f} pages/s; wall {data['wall_s']:.1f} s, CPU "
        f"{data['cpu_s']:.1f} s, peak RSS {data['maxrss_mb']:.0f} MB.",
        "",
        f"Runs (pages/s): {_runs([r['pages_per_s'] for r in runs], '{:.0f}')}; wall s: "
        f"{_runs([r['wall_s'] for r in runs], '{:.1f}')}; CPU s: {_runs([r['cpu_s'] for r in runs], '{:.1f}')}.",
        "",
        *(_baseline_import(data["baseline"]) if data.get("baseline") else []),
    ]


def _baseline_import(data: dict[str, Any]) -> list[str]:
    runs = data["runs"]
    return [
        f"Baseline checkout, in turn: median {data['pages_per_s']:.0f} pages/s (runs "
        f"{_runs([r['pages_per_s'] for r in runs], '{:.0f}')}); CPU {data['cpu_s']:.1f} s; "
        f"peak RSS {data['maxrss_mb']:.0f} MB.",
        "",
    ]


def _extract(data: dict[str, Any]) -> list[str]:
    ours, theirs = data["monitor"], data["trafilatura"]
    return [
        "### Extraction (one core)",
        "",
        "| | articles/s (median) | runs |",
        "| --- | --- | --- |",
        f"| ministry-monitor (shipped selectors) | {ours['per_s']:.0f} | "
        f"{_runs([r['per_s'] for r in ours['runs']], '{:.0f}')} |",
        f"| trafilatura {data['trafilatura_version']} `extract` (reference) | {theirs['per_s']:.0f} | "
        f"{_runs([r['per_s'] for r in theirs['runs']], '{:.0f}')} |",
        "",
        f"Pages: {', '.join(data['pages'])}.",
        "",
    ]


def _extraction(data: dict[str, Any]) -> list[str]:
    ours, theirs = data["monitor"], data["trafilatura"]
    ministry, wrong = data["ministry"], data["not_articles"]
    version = data["trafilatura_version"]
    return [
        "### Zero-config extraction (no selectors), next to trafilatura in the same run",
        "",
        f"| | body F1 ({data['pages']} pages) | precision | recall | CPU ms/page (one core) | "
        f"ministry titles exact (of {ministry['pages']}) | ministry dates exact | "
        f"non-articles read as articles (of {wrong['pages']}) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| ministry-monitor `monitor extract` | {ours['f1']:.4f} | {ours['precision']:.4f} | {ours['recall']:.4f} | "
        f"{ours['cpu']['ms_per_page']:.1f} | {ministry['monitor']['title']} | {ministry['monitor']['date']} | "
        f"{wrong['monitor']} |",
        f"| trafilatura {version} `extract` | {theirs['f1']:.4f} | {theirs['precision']:.4f} | "
        f"{theirs['recall']:.4f} | {theirs['cpu']['ms_per_page']:.1f} | {ministry['trafilatura']['title']} | "
        f"{ministry['trafilatura']['date']} | {wrong['trafilatura']} |",
        "",
        f"Ours refused {ours['refused']} of the {data['pages']} benchmark pages as not an article (scored as empty). "
        f"Non-articles: ours read each page twice (with its real address, and with none), {wrong['monitor']} of "
        f"{wrong['monitor_answers']} answers were articles.",
        "",
    ]


def _charset(data: dict[str, Any]) -> list[str]:
    ours, narrow = data["monitor"], data["narrow"]
    return [
        f"### Mislabelled charsets ({data['pages']} pages under a UTF-8 <meta>)",
        "",
        "| | pages read exactly | CPU ms/page | wrong |",
        "| --- | --- | --- | --- |",
        f"| monitor.http.decode (charset-normalizer) | {ours['exact']} | {ours['ms_per_page']:.1f} | "
        f"{', '.join(ours['wrong']) or '-'} |",
        f"| narrow sniff ({' → '.join(narrow['order'])}) | {narrow['exact']} | {narrow['ms_per_page']:.2f} | "
        f"{', '.join(narrow['wrong']) or '-'} |",
        "",
    ]


def _growth(data: dict[str, Any]) -> list[str]:
    lines = [
        f"### Store growth ({data['sources']} sources, warm cycle)",
        "",
        "| versions stored | DB MB | CPU s (median) | vs smallest | wall s | runs (CPU s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for level in data["levels"].values():
        lines.append(
            f"| {level['versions']:,} | {level['db_mb']:.0f} | {level['cpu_s']:.2f} | {level['cpu_vs_smallest']:.2f}x |"
            f" {level['wall_s']:.2f} | {_runs([r['cpu_s'] for r in level['runs']])} |"
        )
    return [*lines, ""]


def _rss(data: dict[str, Any]) -> list[str]:
    lines = [
        f"### Memory with {data['sources']:,} sources",
        "",
        f"- `monitor check`, first import: peak RSS {data['import']['maxrss_mb']:.0f} MB "
        f"({data['import']['wall_s']:.0f} s wall)",
        f"- `monitor check`, warm cycle: peak RSS {data['warm']['maxrss_mb']:.0f} MB, "
        f"CPU {data['warm']['cpu_s']:.2f} s",
    ]
    daemon = data["daemon"]
    if isinstance(daemon, dict):
        lines.append(
            f"- `monitor run` (daemon), after two full cycles: peak RSS {daemon['peak_rss_mb']:.0f} MB (now "
            f"{daemon['rss_mb']:.0f} MB); CPU {daemon['cycle_cpu_s']:.2f} s for {daemon['polls']} polls in one "
            f"{daemon['interval_s']} s cycle = {daemon['cpu_ms_per_warm_check']:.2f} ms per warm check"
        )
    else:
        lines.append(f"- daemon: {daemon}")
    return [*lines, ""]


def _latency(data: dict[str, Any]) -> list[str]:
    if "status" in data:
        return ["### Detection latency", "", data["status"], ""]
    values = ", ".join(f"{s['latency_s']:.2f}" for s in data["samples"])
    return [
        "### Detection latency",
        "",
        f"{data['sources']} sources polled every {data['interval_s']} s by `monitor run`. Article on listing → "
        f"webhook received: median {data['median_s']:.2f} s, min {data['min_s']:.2f} s, max {data['max_s']:.2f} s.",
        "",
        f"Samples (s): {values}.",
        "",
        *_after_poll(data),
    ]


def _after_poll(data: dict[str, Any]) -> list[str]:
    if data.get("after_poll_median_s") is None:
        return []
    return [
        f"Webhook received after the log line of the poll that stored the event (the outbox's share): median "
        f"{data['after_poll_median_s']:.2f} s, max {data['after_poll_max_s']:.2f} s.",
        "",
    ]


def _fleet(data: dict[str, Any]) -> list[str]:
    lines = [
        f"### Fleet, {data['sources']:,} sources (PostgreSQL members beside the one-process SQLite service)",
        "",
        "| | polls/s | CPU ms/poll, members | CPU ms/poll, PostgreSQL | CPU ms/poll, all | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in data["throughput"].items():
        lines.append(
            f"| {name} | {row['polls_per_s']:.0f} | {row['member_cpu_ms_per_poll']:.2f} | "
            f"{row['database_cpu_ms_per_poll']:.2f} | {row['cpu_ms_per_poll']:.2f} | {row['peak_rss_mb']:.0f} |"
        )
    failover = data["failover"]
    samples = ", ".join(f"{s:.1f}" for s in failover["samples_s"])
    lines += [
        "",
        f"Failover ({failover['sources']} sources, interval {failover['interval_s']} s, heartbeat "
        f"{failover['heartbeat_s']} s, 3 members): every source polled again {failover['median_s']:.1f} s (median), "
        f"{failover['max_s']:.1f} s (max) after a SIGKILL; runs: {samples}.",
        "",
    ]
    return lines


def _hostile(data: dict[str, Any]) -> list[str]:
    lines = [
        "### 9. Hostile mix: a healthy source's polls in `monitor run`, alone and beside hostile servers",
        "",
        f"{data['phase_s']:.0f} s each; hostile: {', '.join(data['hostile'])}.",
        "",
        "| | polls | failed | median ms | p95 ms | max ms | daemon peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, key in (("alone", "alone"), ("beside the hostile sources", "beside_hostile")):
        row = data[key]
        cells = [row["healthy_polls"], row["healthy_failed"], row["median_ms"], row["p95_ms"], row["max_ms"]]
        lines.append(f"| {label} | " + " | ".join(str(c) for c in cells) + f" | {row['peak_rss_mb']:.0f} |")
    return [*lines, ""]


def render(results: dict[str, Any]) -> str:
    """Return Markdown for every benchmark present in `results`."""
    lines = [f"Machine: {results['machine']}", f"Command: `{results['command']}`", ""]
    sources = results.get("options", {}).get("sources", 0)
    cycles = results.get("cycles", {})
    if "import" in cycles:
        lines += _import(cycles["import"])
    if "warm" in cycles:
        lines += _pair("Warm cycle", cycles["warm"], sources)
    if "change" in cycles:
        lines += _pair("Change cycle", cycles["change"], sources)
        lines.append(f"Detection per run: {cycles['change']['detection']}")
        lines.append("")
    if "error" in cycles:
        lines += ["### import / warm / change", "", f"FAILED: {cycles['error']}", ""]
    for name, render_one in (
        ("extract", _extract),
        ("extraction", _extraction),
        ("charset", _charset),
        ("growth", _growth),
        ("rss", _rss),
        ("latency", _latency),
        ("fleet", _fleet),
        ("hostile", _hostile),
        ("transport", render_transports),
        ("scheduler", render_scheduler),
    ):
        if name in results and "error" in results[name]:
            lines += [f"### {name}", "", f"FAILED: {results[name]['error']}", ""]
        elif name in results:
            lines += render_one(results[name])
    return "\n".join(lines)
