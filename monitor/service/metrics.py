"""The daemon's Prometheus metrics: one registry, the fetch observer, poll/delivery counters, the /metrics text.

prometheus-client is imported only here. Counters count since the process started; gauges are set from the store.
Series labelled by source are plain numbers in dicts, written out only when scraped: with thousands of sources,
one prometheus-client child object (with its locks) per series cost more memory than the rest of the daemon.
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

from monitor.http.fetch import BLOCK_STATUSES
from monitor.pipeline import SourceReport
from storage import DeliveryRecord, SourceState, Store

__all__ = ["CONTENT_TYPE", "FETCH_BUCKETS", "Metrics", "fetch_outcome", "poll_outcome"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
ARTICLE_EVENTS = ("article.published", "article.updated", "article.removed", "article.restored")
DELIVERY_OUTCOMES = {"delivered": "delivered", "failed": "failed", "pending": "retry"}
_FETCH_ERRORS = {
    "FetchTimeoutError": "timeout",
    "FetchDeadlineError": "timeout",
    "FetchTooLargeError": "too_large",
    "FetchProtocolError": "protocol",
}


def fetch_outcome(outcome: str) -> str:
    """Return the metric label for a FetchObserver outcome: the status code, `blocked`, `timeout`, or `error`."""
    if outcome.isdigit():
        return "blocked" if int(outcome) in BLOCK_STATUSES else outcome
    return _FETCH_ERRORS.get(outcome, "error")


def poll_outcome(report: SourceReport) -> str:
    """Return the metric label for one poll: ok, not_modified, error, blocked, layout, store or crash."""
    if report.outcome == "ok" and report.listing_status == 304:
        return "not_modified"
    return report.outcome


class Metrics:
    """Every metric the daemon exports, in a registry of its own (so tests and embedders never share one)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)
        GCCollector(registry=r)
        self.polls = _Counts("monitor_polls", "Polls of a source, by outcome.", ("source", "outcome"))
        self.fetches = _Counts(
            "monitor_fetches", "HTTP requests to sites, by source, kind and outcome.", ("source", "kind", "outcome")
        )
        self.articles = _Counts(
            "monitor_articles", "Article changes found, by source and event type.", ("source", "event")
        )
        self.fetch_seconds = Histogram(
            "monitor_fetch_duration_seconds",
            "Time per HTTP request, by kind.",
            ["kind"],
            buckets=FETCH_BUCKETS,
            registry=r,
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
        self._sources: tuple[str, ...] = ()

    def observe_fetch(self, source_id: str, kind: str, outcome: str, seconds: float) -> None:
        """Count one HTTP request (this is the Fetcher's FetchObserver)."""
        self.fetches.inc((source_id, kind, fetch_outcome(outcome)))
        self.fetch_seconds.labels(kind).observe(seconds)

    def observe_poll(self, report: SourceReport) -> None:
        """Count one finished poll and its article events."""
        self.polls.inc((report.source_id, poll_outcome(report)))
        for event, count in report.events.items():
            if event in ARTICLE_EVENTS:
                self.articles.inc((report.source_id, event), count)

    def observe_crash(self, source_id: str) -> None:
        """Count a poll that ended in an unexpected error."""
        self.polls.inc((source_id, "crash"))

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

    def track_sources(self, source_ids: Iterable[str]) -> None:
        """Show exactly these sources (the configured ones) in the per-source gauges."""
        self._sources = tuple(source_ids)

    def counting_deliveries(self, store: Store) -> Store:
        """Return the store for the outbox to use: every delivery outcome it records is also counted here."""
        return cast(Store, _CountingStore(store, self.observe_delivery))

    def render(self, states: Iterable[SourceState] | None = None) -> bytes:
        """Return every metric in the Prometheus text format.

        The per-source gauges are valued from `states`, the sources' stored states (a tracked source without one
        shows 0 failures and no last success); None leaves them out (the store could not be read).
        """
        lines = [generate_latest(self.registry).decode()]
        for counts in (self.polls, self.fetches, self.articles):
            lines += counts.lines()
        if states is not None:
            lines += _source_gauge_lines(self._sources, states)
        return "".join(lines).encode()


class _Counts:
    """A labelled counter kept as numbers by label values: a dict entry per series, not an object with locks."""

    __slots__ = ("documentation", "labels", "name", "values")

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, labels: tuple[str, ...], amount: float = 1) -> None:
        self.values[labels] = self.values.get(labels, 0) + amount

    def lines(self) -> list[str]:
        return _family_lines(f"{self.name}_total", self.documentation, "counter", self.labels, self.values.items())


def _last_success(state: SourceState) -> float:
    # A source that failed every poll since it was added must still trip the "no success for 6 h" alert.
    return state.last_success.timestamp() if state.last_success is not None else 0.0


# The per-source families are written here rather than by prometheus-client, whose general formatter spends ~10 µs
# a sample: with 10,000 sources a scrape held the event loop for half a second.
def _source_gauge_lines(source_ids: tuple[str, ...], states: Iterable[SourceState]) -> list[str]:
    wanted = set(source_ids)
    known = {state.source_id: state for state in states if state.source_id in wanted}
    blank = SourceState("")
    tracked = [(source_id, known.get(source_id, blank)) for source_id in source_ids]
    label = ("source",)
    return [
        *_family_lines(
            "monitor_source_last_success_timestamp_seconds",
            "When a poll last succeeded (Unix time); 0 once polled if it never has.",
            "gauge",
            label,
            (((sid,), _last_success(s)) for sid, s in tracked if s.last_success or s.last_attempt),
        ),
        *_family_lines(
            "monitor_source_consecutive_failures",
            "Failed polls in a row.",
            "gauge",
            label,
            (((sid,), s.consecutive_failures) for sid, s in tracked),
        ),
        *_family_lines(
            "monitor_source_failing",
            "1 while a source is reported failing.",
            "gauge",
            label,
            (((sid,), 1 if s.failing else 0) for sid, s in tracked),
        ),
    ]


def _family_lines(
    name: str, documentation: str, kind: str, labels: tuple[str, ...], samples: Iterable[tuple[tuple[str, ...], float]]
) -> list[str]:
    """Return one metric family in the text format 0.0.4: HELP, TYPE, then a line per sample (labels sorted by name,
    as prometheus-client writes them)."""
    lines = [f"# HELP {name} {_escape(documentation, help_text=True)}\n# TYPE {name} {kind}\n"]
    order = sorted(range(len(labels)), key=labels.__getitem__)
    for values, value in samples:
        pairs = ",".join(f'{labels[i]}="{_escape(values[i])}"' for i in order)
        lines.append(f"{name}{{{pairs}}} {float(value)!r}\n")
    return lines


def _escape(text: str, *, help_text: bool = False) -> str:
    if "\\" not in text and "\n" not in text and (help_text or '"' not in text):
        return text
    text = text.replace("\\", r"\\").replace("\n", r"\n")
    return text if help_text else text.replace('"', r"\"")


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
