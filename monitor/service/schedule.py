"""When a source is next due: every `interval`, or at `cron` times in its zone, plus jitter; pure, no clock.

Times in and out are aware datetimes; the caller passes `now` and a `spread` in [0, 1) that picks the jitter.
scheduler.py turns a Schedule into an APScheduler trigger.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.config import Config, Source
from monitor.errors import ConfigError

__all__ = [
    "CRON_JITTER",
    "INTERVAL_JITTER_FRACTION",
    "MAX_INTERVAL_JITTER",
    "CronSpec",
    "Schedule",
    "check_schedules",
    "first_run",
    "next_cron",
    "parse_cron",
    "schedule_for",
]

INTERVAL_JITTER_FRACTION = 0.1
MAX_INTERVAL_JITTER = timedelta(seconds=60)
CRON_JITTER = timedelta(seconds=30)
CRON_SEARCH_YEARS = 5
# The widest DST shift in the zone database is 2 h; searching wall times from 3 h back finds every repeated hour.
_FOLD_MARGIN = timedelta(hours=3)

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_NAMES = {
    3: {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    4: {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
}


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A parsed 5-field cron expression; days match Vixie-style (either field, when both are restricted)."""

    minutes: tuple[int, ...]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def day_matches(self, moment: datetime) -> bool:
        """Return whether the date of a wall time is one the expression runs on."""
        by_day = moment.day in self.days
        by_weekday = (moment.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return by_day and by_weekday
        return by_day or by_weekday


@dataclass(frozen=True, slots=True)
class Schedule:
    """How one source is polled: a fixed interval, or a cron spec in a zone; and the most jitter to add."""

    interval: timedelta
    cron: CronSpec | None
    timezone: ZoneInfo
    jitter: timedelta


def parse_cron(text: str) -> CronSpec:
    """Parse `*/10 7-22 * * 1-5` style text; raise ValueError naming the bad field."""
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(f"{text!r} is not a 5-field cron expression")
    values = [_parse_field(part, index) for index, part in enumerate(parts)]
    return CronSpec(
        minutes=tuple(sorted(values[0])),
        hours=frozenset(values[1]),
        days=frozenset(values[2]),
        months=frozenset(values[3]),
        weekdays=frozenset(day % 7 for day in values[4]),
        any_day=parts[2].startswith("*"),
        any_weekday=parts[4].startswith("*"),
    )


def _parse_field(text: str, index: int) -> set[int]:
    name, low, high = _FIELDS[index]
    found: set[int] = set()
    for item in text.lower().split(","):
        span, _, step_text = item.partition("/")
        step = _number(step_text, index) if step_text else 1
        if span == "*":
            first, last = low, high
        else:
            start, dash, end = span.partition("-")
            first = _number(start, index)
            last = _number(end, index) if dash else (high if step_text else first)
        if step < 1:
            raise ValueError(f"cron {name} field {item!r} has a step of 0")
        if not low <= first <= last <= high:
            raise ValueError(f"cron {name} field {item!r} is out of range {low}-{high}")
        found.update(range(first, last + 1, step))
    return found


def _number(text: str, index: int) -> int:
    value = _NAMES.get(index, {}).get(text)
    if value is not None:
        return value
    if not text.isdigit():
        raise ValueError(f"cron {_FIELDS[index][0]} field has {text!r}, not a number")
    return int(text)


def next_cron(spec: CronSpec, after: datetime, zone: ZoneInfo) -> datetime:
    """Return the first instant strictly after `after` whose wall time in `zone` matches, in UTC.

    A wall time skipped by a DST change never fires; one that happens twice fires twice. Raises ValueError when
    nothing matches within five years (e.g. `0 0 30 2 *`).
    """
    if after.tzinfo is None:
        raise ValueError("`after` must be an aware datetime")
    start = after.astimezone(zone).replace(tzinfo=None) - _FOLD_MARGIN
    best: datetime | None = None
    for wall in _matching_walls(spec, start):
        if best is not None and wall > best.astimezone(zone).replace(tzinfo=None) + _FOLD_MARGIN:
            return best
        for fold in (0, 1):
            instant = wall.replace(tzinfo=zone, fold=fold)
            real = instant.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall
            if real and instant > after and (best is None or instant < best):
                best = instant.astimezone(UTC)
    if best is not None:
        return best
    raise ValueError(f"cron expression matches no time within {CRON_SEARCH_YEARS} years")


def _matching_walls(spec: CronSpec, start: datetime) -> Iterator[datetime]:
    """Yield the naive wall times from `start` on (to the minute) that match, in order, for a few years."""
    moment = start.replace(second=0, microsecond=0)
    if moment < start:
        moment += timedelta(minutes=1)
    last_year = start.year + CRON_SEARCH_YEARS
    while moment.year <= last_year:
        if moment.month not in spec.months:
            moment = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1)
        elif not spec.day_matches(moment):
            moment = datetime(moment.year, moment.month, moment.day) + timedelta(days=1)
        elif moment.hour not in spec.hours:
            moment = moment.replace(minute=0) + timedelta(hours=1)
        else:
            minute = next((m for m in spec.minutes if m >= moment.minute), None)
            if minute is None:
                moment = moment.replace(minute=0) + timedelta(hours=1)
                continue
            moment = moment.replace(minute=minute)
            yield moment
            moment += timedelta(minutes=1)


def schedule_for(source: Source) -> Schedule:
    """Return the source's schedule; raise ValueError for a cron expression that is wrong or never matches."""
    if source.cron is None:
        jitter = min(source.interval * INTERVAL_JITTER_FRACTION, MAX_INTERVAL_JITTER)
        return Schedule(source.interval, None, source.timezone, jitter)
    spec = parse_cron(source.cron)
    next_cron(spec, datetime(2000, 1, 1, tzinfo=UTC), source.timezone)
    return Schedule(source.interval, spec, source.timezone, CRON_JITTER)


def check_schedules(config: Config) -> dict[str, Schedule]:
    """Return each source's schedule by id; raise ConfigError naming a source whose cron expression is unusable.

    Sources with the same timing share one Schedule object (thousands of sources often have a handful of schedules).
    """
    schedules: dict[str, Schedule] = {}
    shared: dict[Schedule, Schedule] = {}
    for source in config.sources:
        try:
            schedule = schedule_for(source)
        except ValueError as exc:
            raise ConfigError(str(exc), path=config.path, source_id=source.id, key="cron") from exc
        schedules[source.id] = shared.setdefault(schedule, schedule)
    return schedules


def first_run(schedule: Schedule, *, now: datetime, last_attempt: datetime | None, spread: float) -> datetime:
    """Return when a newly scheduled source is first due.

    Interval sources: soon if never polled or overdue, else one interval after the last attempt, so a restart
    (or a crash loop) does not poll every site again. Cron sources: the next cron time.
    """
    jitter = schedule.jitter * spread
    if schedule.cron is not None:
        return next_cron(schedule.cron, now, schedule.timezone) + jitter
    if last_attempt is None:
        return now + jitter
    due = min(last_attempt, now) + schedule.interval
    return max(due, now) + jitter
