"""The daemon's Prometheus metrics: one registry, the fetch observer, poll/delivery counters, the /metrics text.

prometheus-client is imported only here. Counters count since the process started; gauges are set from the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from monitor.config import Source
from monitor.fetch import BLOCK_STATUSES
from monitor.pipeline import SourceReport
from storage import DeliveryRecord, SourceState, Store

__all__ = ["CONTENT_TYPE", "FETCH_BUCKETS", "Metrics", "fetch_outcome", "poll_outcome"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
ARTICLE_EVENTS = ("article.published", "article.updated", "article.removed", "article.restored")
DELIVERY_OUTCOMES = {"delivered": "delivered", "failed": "failed", "pending": "retry"}
_FETCH_ERRORS = {"FetchTimeoutError": "timeout", "FetchTooLargeError": "too_large"}


def fetch_outcome(outcome: str) -> str:
    """Return the metric label for a FetchObserver outcome: the status code, `blocked`, `timeout`, or `error`."""
    if outcome.isdigit():
        return "blocked" if int(outcome) in BLOCK_STATUSES else outcome
    return _FETCH_ERRORS.get(outcome, "error")


def poll_outcome(report: SourceReport) -> str:
    """Return the metric label for one poll: ok, not_modified, error, blocked or layout."""
    if report.outcome == "ok" and report.listing_status == 304:
        return "not_modified"
    return report.outcome


class Metrics:
    """Every metric the daemon exports, in a registry of its own (so tests and embedders never share one)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)
        GCCollector(registry=r)
        self.polls = Counter("monitor_polls", "Polls of a source, by outcome.", ["source", "outcome"], registry=r)
        self.fetches = Counter(
            "monitor_fetches",
            "HTTP requests to sites, by source, kind and outcome.",
            ["source", "kind", "outcome"],
            registry=r,
        )
        self.fetch_seconds = Histogram(
            "monitor_fetch_duration_seconds", "Time per HTTP request.", ["source"], buckets=FETCH_BUCKETS, registry=r
        )
        self.articles = Counter(
            "monitor_articles", "Article changes found, by source and event type.", ["source", "event"], registry=r
        )
        self.deliveries = Counter(
            "monitor_deliveries",
            "Webhook delivery attempts, by webhook and outcome.",
            ["webhook", "outcome"],
            registry=r,
        )
        self.reloads = Counter("monitor_config_reloads", "Config reloads, by outcome.", ["outcome"], registry=r)
        self.outbox_pending = Gauge("monitor_outbox_pending", "Deliveries waiting in the outbox.", registry=r)
        self.outbox_oldest_s = Gauge(
            "monitor_outbox_oldest_pending_age_seconds", "Age of the oldest pending delivery.", registry=r
        )
        self.last_success = Gauge(
            "monitor_source_last_success_timestamp_seconds",
            "When a poll last succeeded (Unix time).",
            ["source"],
            registry=r,
        )
        self.failures = Gauge("monitor_source_consecutive_failures", "Failed polls in a row.", ["source"], registry=r)
        self.failing = Gauge("monitor_source_failing", "1 while a source is reported failing.", ["source"], registry=r)

    def observe_fetch(self, source_id: str, kind: str, outcome: str, seconds: float) -> None:
        """Count one HTTP request (this is the Fetcher's FetchObserver)."""
        self.fetches.labels(source_id, kind, fetch_outcome(outcome)).inc()
        self.fetch_seconds.labels(source_id).observe(seconds)

    def observe_poll(self, report: SourceReport, state: SourceState | None) -> None:
        """Count one finished poll and its article events; set the source's gauges from its stored state."""
        self.polls.labels(report.source_id, poll_outcome(report)).inc()
        for event, count in report.events.items():
            if event in ARTICLE_EVENTS:
                self.articles.labels(report.source_id, event).inc(count)
        if state is not None:
            self.set_source_state(state)

    def observe_crash(self, source_id: str) -> None:
        """Count a poll that ended in an unexpected error."""
        self.polls.labels(source_id, "crash").inc()

    def observe_delivery(self, webhook_id: str, state: str) -> None:
        """Count one recorded delivery attempt by the state it left the delivery in."""
        self.deliveries.labels(webhook_id, DELIVERY_OUTCOMES.get(state, state)).inc()

    def observe_reload(self, ok: bool) -> None:
        """Count one config reload, applied or refused."""
        self.reloads.labels("ok" if ok else "refused").inc()

    def set_outbox(self, pending: int, oldest_age_s: float) -> None:
        """Set the outbox gauges."""
        self.outbox_pending.set(pending)
        self.outbox_oldest_s.set(oldest_age_s)

    def set_source_state(self, state: SourceState) -> None:
        """Set a source's gauges from its stored state."""
        if state.last_success is not None:
            self.last_success.labels(state.source_id).set(state.last_success.timestamp())
        self.failures.labels(state.source_id).set(state.consecutive_failures)
        self.failing.labels(state.source_id).set(1 if state.failing else 0)

    def track_sources(self, sources: Iterable[Source], states: Iterable[SourceState]) -> None:
        """Show exactly the configured sources in the per-source gauges, valued from their stored states."""
        wanted = {source.id for source in sources}
        for gauge in (self.last_success, self.failures, self.failing):
            for labels in _label_sets(gauge):
                if labels[0] not in wanted:
                    gauge.remove(*labels)
        known = {state.source_id: state for state in states}
        for source_id in wanted:
            self.set_source_state(known.get(source_id) or SourceState(source_id))

    def counting_deliveries(self, store: Store) -> Store:
        """Return the store for the outbox to use: every delivery outcome it records is also counted here."""
        return cast(Store, _CountingStore(store, self.observe_delivery))

    def render(self) -> bytes:
        """Return the registry in the Prometheus text format."""
        return generate_latest(self.registry)


def _label_sets(gauge: Gauge) -> list[tuple[str, ...]]:
    return [tuple(sample.labels.values()) for family in gauge.collect() for sample in family.samples]


class _CountingStore:
    """Delegates to the store; `save_delivery` also reports the outcome (the outbox has no observer hook)."""

    def __init__(self, store: Store, count: Callable[[str, str], None]) -> None:
        self._store = store
        self._count = count

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def save_delivery(self, delivery: DeliveryRecord) -> None:
        self._store.save_delivery(delivery)
        self._count(delivery.webhook_id, delivery.state)
