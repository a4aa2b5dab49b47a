"""What the pages show, computed from store records: each source's state and the wording of times; pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.config import Config
from storage import SourceState

__all__ = ["SourceRow", "relative", "source_rows"]

# Worst first: what a reader should look at before the rest; sources never polled yet come after those that work.
_STATE_ORDER = {"failing": 0, "layout changed": 1, "blocked": 2, "error": 3, "ok": 4, "new": 5, "not configured": 6}


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One source on the dashboard."""

    id: str
    name: str
    url: str
    state: str
    reason: str | None
    last_success: datetime | None
    next_poll: datetime | None
    articles: int
    failures: int


def _state(state: SourceState | None, configured: bool) -> str:
    if not configured:
        return "not configured"
    if state is None or state.last_outcome is None:
        return "new"
    if state.failing:
        return "failing"
    return {"ok": "ok", "not_modified": "ok", "layout": "layout changed", "blocked": "blocked"}.get(
        state.last_outcome, "error"
    )


def source_rows(config: Config, states: list[SourceState], counts: dict[str, int]) -> list[SourceRow]:
    """Return a row per configured source (then per stored source no longer configured), failing ones first."""
    by_id = {state.source_id: state for state in states}
    rows = []
    for source in config.sources:
        rows.append(_row(source.id, source.name, source.url, by_id.get(source.id), counts, configured=True))
    for source_id in sorted(by_id.keys() - {s.id for s in config.sources}):
        state = by_id[source_id]
        rows.append(_row(source_id, state.name, state.url, state, counts, configured=False))
    return sorted(rows, key=lambda row: _STATE_ORDER.get(row.state, 3))


def _row(
    source_id: str, name: str, url: str, state: SourceState | None, counts: dict[str, int], *, configured: bool
) -> SourceRow:
    label = _state(state, configured)
    return SourceRow(
        id=source_id,
        name=name or source_id,
        url=url,
        state=label,
        reason=state.last_error if state is not None and label not in ("ok", "new") else None,
        last_success=state.last_success if state else None,
        next_poll=state.next_due if state and configured else None,
        articles=counts.get(source_id, 0),
        failures=state.consecutive_failures if state else 0,
    )


def relative(moment: datetime | None, now: datetime, missing: str = "never") -> str:
    """Return `moment` as people say it relative to `now`: "3 min ago", "in 2 h", or `missing`."""
    if moment is None:
        return missing
    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    for unit, span in (("d", 86400), ("h", 3600), ("min", 60)):
        if size >= span:
            amount = f"{int(size // span)} {unit}"
            break
    else:
        amount = "just now" if size < 5 else f"{int(size)} s"
    if amount == "just now":
        return amount
    return f"in {amount}" if seconds > 0 else f"{amount} ago"
