"""What the dashboard says about each source, and how it words times: tables of states and clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import parse_config
from monitor.web.present import relative, source_rows
from storage import SourceState

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SOURCE = {"interval": "10m", "listing": {"links": "a"}, "article": {"title": "h1", "body": "div"}}
CONFIG = parse_config(
    {"sources": [{"id": i, "name": i, "url": f"https://x.example/{i}/", **SOURCE} for i in "abcde"]},
    path="c.toml",
    environ={},
)


def _state(source_id: str, outcome: str | None, failing: bool = False, error: str | None = None) -> SourceState:
    return SourceState(source_id, last_outcome=outcome, failing=failing, last_error=error, last_success=NOW)


def test_problems_first_then_working_then_never_polled_then_unconfigured() -> None:
    states = [
        _state("a", "ok"),
        _state("b", "error", failing=True, error="HTTP 503"),
        _state("c", "layout", error="listing selector matched no article link"),
        _state("d", "not_modified"),
        _state("gone", "ok"),
    ]
    rows = source_rows(CONFIG, states, {"a": 3, "gone": 9})
    assert [(r.id, r.state) for r in rows] == [
        ("b", "failing"),
        ("c", "layout changed"),
        ("a", "ok"),
        ("d", "ok"),
        ("e", "new"),
        ("gone", "not configured"),
    ]
    assert rows[0].reason == "HTTP 503" and rows[2].reason is None
    assert (rows[2].articles, rows[4].articles, rows[5].articles) == (3, 0, 9)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (None, "never"),
        (NOW, "just now"),
        (NOW - timedelta(seconds=30), "30 s ago"),
        (NOW - timedelta(minutes=5), "5 min ago"),
        (NOW + timedelta(hours=2, minutes=5), "in 2 h"),
        (NOW - timedelta(days=3), "3 d ago"),
    ],
)
def test_relative_times(moment: datetime | None, text: str) -> None:
    assert relative(moment, NOW) == text
