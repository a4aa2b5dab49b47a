"""The schedule maths against tables of fixed datetimes: cron in a zone (DST both ways), intervals, jitter."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import write_config

from monitor.config import Source, load_config
from monitor.errors import ConfigError
from monitor.service import (
    MAX_INTERVAL_JITTER,
    check_schedules,
    first_run,
    next_cron,
    parse_cron,
    schedule_for,
)

LONDON = ZoneInfo("Europe/London")
SHANGHAI = ZoneInfo("Asia/Shanghai")
BUSINESS = "*/10 7-22 * * 1-5"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    config = load_config(write_config(tmp_path_factory.mktemp("schedule"), "http://127.0.0.1:9"))
    return config.source("mfa-en-press")


CRON_CASES = [
    # (expression, zone, after, expected next run in UTC)
    ("*/10 7-22 * * 1-5", LONDON, utc(2024, 1, 10, 12, 0), utc(2024, 1, 10, 12, 10)),
    ("*/10 7-22 * * 1-5", LONDON, utc(2024, 1, 10, 12, 3, 59), utc(2024, 1, 10, 12, 10)),
    ("*/10 7-22 * * 1-5", LONDON, utc(2024, 1, 10, 22, 50), utc(2024, 1, 11, 7, 0)),  # after hours: next morning
    ("*/10 7-22 * * 1-5", LONDON, utc(2024, 1, 12, 22, 55), utc(2024, 1, 15, 7, 0)),  # Friday night: Monday
    ("*/10 7-22 * * 1-5", LONDON, utc(2024, 7, 10, 5, 59), utc(2024, 7, 10, 6, 0)),  # BST: 07:00 local is 06:00Z
    ("*/10 7-22 * * 1-5", SHANGHAI, utc(2024, 7, 10, 14, 55), utc(2024, 7, 10, 23, 0)),  # 22:55 CST: 07:00 next day
    ("0 9 * * mon", LONDON, utc(2024, 1, 10, 0, 0), utc(2024, 1, 15, 9, 0)),
    ("0 0 1 jan *", UTC, utc(2024, 6, 1), utc(2025, 1, 1)),
    ("15 */6 * * *", UTC, utc(2024, 1, 1, 6, 15), utc(2024, 1, 1, 12, 15)),
    ("0 12 13 * 5", UTC, utc(2024, 9, 1), utc(2024, 9, 6, 12, 0)),  # day 13 OR a Friday (Vixie): Friday the 6th
    ("0 12 29 2 *", UTC, utc(2023, 3, 1), utc(2024, 2, 29, 12, 0)),  # leap day
    ("0 0 * * 7", UTC, utc(2024, 1, 1), utc(2024, 1, 7)),  # 7 is Sunday too
    ("30 1 * * *", LONDON, utc(2024, 3, 30, 12, 0), utc(2024, 4, 1, 0, 30)),  # 01:30 does not exist on 31 March
    ("30 1 * * *", LONDON, utc(2024, 10, 27, 0, 0), utc(2024, 10, 27, 0, 30)),  # 01:30 BST, the first of two
    ("30 1 * * *", LONDON, utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1, 30)),  # 01:30 GMT, the second
    ("*/30 * * * *", LONDON, utc(2024, 10, 27, 0, 50), utc(2024, 10, 27, 1, 0)),  # the repeated hour is polled
]


@pytest.mark.parametrize(("expression", "zone", "after", "expected"), CRON_CASES)
def test_next_cron(expression: str, zone: ZoneInfo, after: datetime, expected: datetime) -> None:
    assert next_cron(parse_cron(expression), after, zone) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "5-field"),
        ("60 * * * *", "minute field '60' is out of range 0-59"),
        ("* 7-24 * * *", "hour field '7-24'"),
        ("*/0 * * * *", "minute field '\\*/0' has a step of 0"),
        ("* * * foo *", "month field has 'foo'"),
        ("* * 0 * *", "day of month field '0'"),
        ("5-1 * * * *", "minute field '5-1'"),
    ],
)
def test_bad_cron_expressions_are_refused(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cron(expression)


def test_a_cron_that_never_matches_is_a_config_error(tmp_path: Path, source: Source) -> None:
    text = write_config(tmp_path, "http://127.0.0.1:9").read_text()
    text = text.replace('id = "mfa-en-press"\n', 'id = "mfa-en-press"\ncron = "0 0 30 2 *"\n')
    (tmp_path / "bad.toml").write_text(text)

    with pytest.raises(ConfigError, match="source 'mfa-en-press': key 'cron': cron expression matches no time"):
        check_schedules(load_config(tmp_path / "bad.toml"))


NOW = utc(2024, 5, 1, 12, 0)
TEN_MIN = timedelta(minutes=10)

INTERVAL_CASES = [
    # (last attempt, spread, expected first run): restarts never poll early; new or overdue sources start soon
    (None, 0.0, NOW),
    (None, 0.5, NOW + timedelta(seconds=30)),
    (NOW - timedelta(minutes=3), 0.0, NOW + timedelta(minutes=7)),
    (NOW - timedelta(minutes=3), 1.0, NOW + timedelta(minutes=8)),
    (NOW - timedelta(hours=5), 0.0, NOW),  # overdue: now, once
    (NOW + timedelta(hours=1), 0.0, NOW + TEN_MIN),  # the clock went back: not an hour and ten minutes
]


@pytest.mark.parametrize(("last_attempt", "spread", "expected"), INTERVAL_CASES)
def test_first_run_of_an_interval_source(
    source: Source, last_attempt: datetime | None, spread: float, expected: datetime
) -> None:
    schedule = schedule_for(replace(source, interval=TEN_MIN, cron=None))

    assert first_run(schedule, now=NOW, last_attempt=last_attempt, spread=spread) == expected


@pytest.mark.parametrize(
    ("interval", "jitter"),
    [
        (timedelta(seconds=2), timedelta(seconds=0.2)),
        (TEN_MIN, MAX_INTERVAL_JITTER),
        (timedelta(days=1), MAX_INTERVAL_JITTER),
    ],
)
def test_interval_jitter_is_a_tenth_capped_at_a_minute(source: Source, interval: timedelta, jitter: timedelta) -> None:
    assert schedule_for(replace(source, interval=interval, cron=None)).jitter == jitter


def test_next_cron_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_cron(parse_cron(BUSINESS), datetime(2024, 1, 1), LONDON)


def test_sources_with_the_same_timing_share_one_schedule(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9"))

    schedules = check_schedules(config)

    def timing(source_id: str) -> tuple[object, ...]:
        source = config.source(source_id)
        return (source.interval, source.cron, source.timezone)

    by_timing = {timing(source_id): schedule for source_id, schedule in schedules.items()}
    assert len(by_timing) < len(schedules)
    for source_id, schedule in schedules.items():
        assert schedule is by_timing[timing(source_id)]
