"""/metrics: the Prometheus text parses, and its counters match what the loopback site served and the daemon did."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Ministry
from daemonkit import DaemonProcess, daemon_config, wait_until
from prometheus_client.parser import text_string_to_metric_families
from receiver import Receiver
from sitekit import EN_DIR, EN_LIST, en_listing

from monitor.pipeline import SourceReport
from monitor.service import Metrics, fetch_outcome
from storage import SourceState

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Return every sample by (name, sorted labels), parsed by prometheus-client's own text parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """Return the sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (sample, pairs), value in samples.items() if sample == name and wanted <= set(pairs))


@pytest.mark.parametrize(
    ("outcome", "label"),
    [
        ("200", "200"),
        ("304", "304"),
        ("404", "404"),
        ("503", "503"),
        ("412", "blocked"),
        ("521", "blocked"),
        ("403", "blocked"),
        ("FetchTimeoutError", "timeout"),
        ("FetchTooLargeError", "too_large"),
        ("FetchError", "error"),
    ],
)
def test_fetch_outcomes_become_a_few_labels(outcome: str, label: str) -> None:
    assert fetch_outcome(outcome) == label


def test_polls_fetches_and_source_gauges_are_exported() -> None:
    metrics = Metrics()
    metrics.observe_fetch("a", "listing", "200", 0.12)
    metrics.observe_fetch("a", "article", "412", 0.03)
    report = SourceReport("a", listing_status=304, events={"article.published": 2, "source.recovered": 1})
    success = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    metrics.observe_poll(report)
    metrics.observe_poll(SourceReport("a", outcome="blocked"))
    metrics.observe_crash("a")
    metrics.observe_delivery("ops", "delivered")
    metrics.observe_delivery("ops", "pending")
    metrics.observe_reload(False)
    metrics.set_outbox(3, 42.5)
    metrics.track_sources(["a"])

    stored = SourceState("a", last_success=success, consecutive_failures=4, failing=True)

    text = metrics.render([stored]).decode()
    samples = parse(text)

    assert 'monitor_fetches_total{kind="article",outcome="blocked",source="a"} 1.0\n' in text  # as prometheus-client
    assert total(samples, "monitor_polls_total", source="a") == 3
    assert total(samples, "monitor_polls_total", outcome="not_modified") == 1
    assert total(samples, "monitor_polls_total", outcome="blocked") == 1
    assert total(samples, "monitor_polls_total", outcome="crash") == 1
    assert total(samples, "monitor_fetches_total", source="a", kind="article", outcome="blocked") == 1
    assert total(samples, "monitor_fetch_duration_seconds_count") == 2
    assert total(samples, "monitor_fetch_duration_seconds_bucket", kind="article", le="0.05") == 1
    assert total(samples, "monitor_fetch_duration_seconds_bucket", kind="listing", le="0.05") == 0
    assert total(samples, "monitor_articles_total", source="a", event="article.published") == 2
    assert total(samples, "monitor_articles_total") == 2  # source events are not article changes
    assert total(samples, "monitor_source_last_success_timestamp_seconds", source="a") == success.timestamp()
    assert total(samples, "monitor_source_consecutive_failures", source="a") == 4
    assert total(samples, "monitor_source_failing", source="a") == 1
    assert total(samples, "monitor_deliveries_total", outcome="delivered") == 1
    assert total(samples, "monitor_deliveries_total", outcome="retry") == 1
    assert total(samples, "monitor_config_reloads_total", outcome="refused") == 1
    assert total(samples, "monitor_outbox_pending") == 3
    assert total(samples, "monitor_outbox_oldest_pending_age_seconds") == 42.5
    assert total(samples, "process_resident_memory_bytes") > 0


def test_the_source_gauges_show_exactly_the_tracked_sources() -> None:
    metrics = Metrics()
    metrics.track_sources(["kept", "new"])
    stored = [SourceState("gone", consecutive_failures=5, failing=True), SourceState("kept", consecutive_failures=2)]

    samples = parse(metrics.render(stored).decode())

    assert ("monitor_source_failing", (("source", "gone"),)) not in samples
    assert total(samples, "monitor_source_consecutive_failures", source="kept") == 2
    assert total(samples, "monitor_source_consecutive_failures", source="new") == 0
    assert ("monitor_source_failing", (("source", "new"),)) in samples
    assert ("monitor_source_last_success_timestamp_seconds", (("source", "new"),)) not in samples  # never succeeded


def test_without_the_stored_states_the_source_gauges_are_left_out() -> None:
    metrics = Metrics()
    metrics.track_sources(["a"])
    metrics.observe_crash("a")

    samples = parse(metrics.render(None).decode())

    assert total(samples, "monitor_polls_total", source="a", outcome="crash") == 1
    assert not [name for name, _ in samples if name.startswith("monitor_source_")]


def test_label_values_are_escaped_in_the_text_format() -> None:
    metrics = Metrics()
    odd = 'a "quoted" back\\slash\nnewline'
    metrics.observe_crash(odd)
    metrics.track_sources([odd])

    samples = parse(metrics.render([SourceState(odd, consecutive_failures=7)]).decode())

    assert total(samples, "monitor_polls_total", source=odd, outcome="crash") == 1
    assert total(samples, "monitor_source_consecutive_failures", source=odd) == 7


def test_metrics_of_the_running_daemon_match_what_the_site_served(ministry: Ministry, tmp_path: Path) -> None:
    listing = ministry.body(EN_LIST)
    ministry.site.put(EN_DIR, en_listing(listing, [("./t1793427.shtml", "a"), ("./t0000001.shtml", "missing")]))
    with Receiver() as receiver:
        hook = f'[[webhooks]]\nid = "ops"\nurl = "{receiver.url}"\nevents = ["article.published"]\n'
        config = daemon_config(tmp_path, ministry.base, interval="1s", extra=hook)

        with DaemonProcess(config, "--http", "127.0.0.1:0") as daemon:
            daemon.wait_for_log("poll mfa-en-press")
            entries = [("./t1617471.shtml", "new"), ("./t1793427.shtml", "a"), ("./t0000001.shtml", "missing")]
            ministry.site.put(EN_DIR, en_listing(listing, entries))
            receiver.wait_for(1, timeout_s=10)
            daemon.wait_for_log("poll mfa-en-press", count=3)

            def scrape() -> Samples:
                samples = parse(daemon.get("/metrics")[2].decode())
                return samples if total(samples, "monitor_deliveries_total") else {}

            samples = wait_until(scrape, what="the delivery in /metrics")
            served = list(ministry.site.requests)
            status, content_type, _ = daemon.get("/metrics")
            health, ready = daemon.get("/healthz"), daemon.get("/readyz")
            assert daemon.stop()[0] == 0

    by_status = Counter(str(r.status) for r in served)
    assert by_status["304"] >= 1 and by_status["404"] >= 2
    for code, count in by_status.items():
        assert total(samples, "monitor_fetches_total", outcome=code) == count, code
    assert total(samples, "monitor_fetches_total") == len(served)
    assert total(samples, "monitor_fetch_duration_seconds_count") == len(served)
    assert total(samples, "monitor_fetches_total", kind="robots") == 1
    polls = daemon.polls("mfa-en-press")
    assert total(samples, "monitor_polls_total", source="mfa-en-press") == len(polls)
    assert total(samples, "monitor_polls_total", outcome="not_modified") == sum(
        p["outcome"] == "not_modified" for p in polls
    )
    assert total(samples, "monitor_articles_total", source="mfa-en-press", event="article.published") == 1
    assert total(samples, "monitor_deliveries_total", webhook="ops", outcome="delivered") == 1
    assert total(samples, "monitor_outbox_pending") == 0
    assert total(samples, "monitor_outbox_oldest_pending_age_seconds") == 0
    assert time.time() - total(samples, "monitor_source_last_success_timestamp_seconds", source="mfa-en-press") < 10
    assert total(samples, "monitor_source_failing", source="mfa-en-press") == 0
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert health == (200, "text/plain; charset=utf-8", b"ok\n")
    assert ready[0] == 200 and ready[2] == b"ready\n"
