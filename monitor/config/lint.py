"""Probable mistakes in a config that parses: the warnings `monitor validate` prints and `monitor run` logs.

Pure: takes the decoded TOML and the parsed objects; returns one line per warning naming the source (or webhook)
and the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from monitor.config.types import Endpoint, Source

__all__ = ["MIN_SENSIBLE_INTERVAL", "config_warnings"]

MIN_SENSIBLE_INTERVAL = timedelta(seconds=10)
"""A shorter polling interval is almost always a typo (`5s` for `5m`) and hammers the ministry's site."""


def config_warnings(
    data: Mapping[str, Any], sources: Sequence[Source], webhooks: Sequence[Endpoint]
) -> tuple[str, ...]:
    """Return a line for each probable mistake: a very short interval, interval and cron both set, no secret."""
    found: list[str] = []
    raw_sources = data.get("sources") or []
    for raw, source in zip(raw_sources, sources, strict=True):
        if source.cron is None and source.interval < MIN_SENSIBLE_INTERVAL:
            found.append(
                f"source {source.id!r}: key 'interval': {source.interval.total_seconds():g} s is under "
                f"{MIN_SENSIBLE_INTERVAL.total_seconds():g} s: every poll hits the ministry's site "
                "(a typo for minutes?)"
            )
        if source.cron is not None and "interval" in raw:
            found.append(f"source {source.id!r}: key 'interval': ignored, because 'cron' is set too (keep one)")
    for endpoint in webhooks:
        if endpoint.secret is None and endpoint.format == "standard":
            found.append(
                f"webhook {endpoint.id!r}: key 'secret': none, so requests are unsigned and a receiver cannot tell "
                "them from forgeries"
            )
    return tuple(found)
