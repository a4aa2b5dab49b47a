"""What a config reload changes: sources added, removed, changed or rescheduled; webhooks; what waits for a restart.

Pure: compares two parsed configs and raises ConfigError for a change the running daemon cannot take.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config import Config, Source
from monitor.errors import ConfigError

__all__ = ["ConfigChange", "compare_configs"]


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """The difference between the running config and a new one, by source id."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    rescheduled: tuple[str, ...]  # added, or with a new interval, cron or time zone
    webhooks_changed: bool
    restart_needed: tuple[str, ...]  # settings that take effect only at the next restart

    def describe(self) -> str:
        """Return one log line's worth: what was added, removed and changed."""
        parts = [f"{name} {', '.join(ids) or 'none'}" for name, ids in self._lists()]
        return "; ".join(parts) + ("; webhooks changed" if self.webhooks_changed else "")

    def _lists(self) -> list[tuple[str, tuple[str, ...]]]:
        return [("added", self.added), ("removed", self.removed), ("changed", self.changed)]


def compare_configs(old: Config, new: Config) -> ConfigChange:
    """Return what `new` changes; raise ConfigError if it changes the database, which needs a restart."""
    if new.database != old.database:
        raise ConfigError("cannot change while running; restart to switch databases", path=new.path, key="database")
    before = {source.id: source for source in old.sources}
    after = {source.id: source for source in new.sources}
    kept = [source for source in new.sources if source.id in before]
    restart_needed = []
    if new.http != old.http:
        restart_needed.append("[monitor] HTTP settings")
    if new.read_workers != old.read_workers:
        restart_needed.append("read_workers")
    if any(_host_limits(before[s.id]) != _host_limits(s) for s in kept):
        restart_needed.append("host_concurrency/host_delay")
    return ConfigChange(
        added=tuple(s.id for s in new.sources if s.id not in before),
        removed=tuple(s.id for s in old.sources if s.id not in after),
        changed=tuple(s.id for s in kept if before[s.id] != s),
        rescheduled=tuple(s.id for s in new.sources if s.id not in before or _timing(before[s.id]) != _timing(s)),
        webhooks_changed=new.channels != old.channels,
        restart_needed=tuple(restart_needed),
    )


def _timing(source: Source) -> tuple[object, ...]:
    return (source.interval, source.cron, source.timezone)


def _host_limits(source: Source) -> tuple[object, ...]:
    # The Fetcher sets a host's limits when it first meets the host, so new values apply from the next start.
    return (source.host_concurrency, source.host_delay)
