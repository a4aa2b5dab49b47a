"""What one check of one source found: the record the pipeline fills, `check` prints and the daemon logs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

__all__ = ["SourceReport"]

logger = logging.getLogger("monitor.pipeline")


@dataclass(slots=True)
class SourceReport:
    """What one check of one source found."""

    source_id: str
    outcome: str = "ok"
    links: int = 0
    new: int = 0
    fetched: int = 0
    not_modified: int = 0
    failed: int = 0
    events: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    listing_status: int | None = None
    first_failure: str | None = None
    """Why the first article fetch of this check that failed did, naming its URL."""
    waiting: int = 0
    """New articles left for the next checks (over the source's `max_new`)."""
    warnings: list[str] = field(default_factory=list)
    proposals: list[dict[str, str]] = field(default_factory=list)
    """Article selectors proposed by this check's generic readings, for a source that learns them."""
    asked: int = 0

    def count(self, event_type: str) -> None:
        """Count one event of this type."""
        self.events[event_type] = self.events.get(event_type, 0) + 1

    def warn(self, message: str) -> None:
        """Note a warning for the check's line, and log it."""
        self.warnings.append(message)
        logger.warning("source %s: %s", self.source_id, message)
