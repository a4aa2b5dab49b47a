"""Tests for monitor.pages.dates: dates stated in text and URLs, and the ISO string stored for them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from monitor.pages import date_from_text, date_from_url, format_published

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
PLUS8 = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ISO dates and datetimes (GOV.UK <time datetime>, abbr[title], meta content)
        ("2020-06-30", date(2020, 6, 30)),
        ("2020-7-3", date(2020, 7, 3)),
        ("2020-06-30T10:15:00+08:00", datetime(2020, 6, 30, 10, 15, tzinfo=PLUS8)),
        ("2020-06-30T10:15:00+0800", datetime(2020, 6, 30, 10, 15, tzinfo=PLUS8)),
        ("2014-08-01T11:24:11+01:00", datetime(2014, 8, 1, 11, 24, 11, tzinfo=timezone(timedelta(hours=1)))),
        ("2013-01-02T00:00:00Z", datetime(2013, 1, 2, tzinfo=UTC)),
        ("2020-06-30T10:15:00.123Z", datetime(2020, 6, 30, 10, 15, tzinfo=UTC)),
        ("2020-06-30 10:15", datetime(2020, 6, 30, 10, 15)),
        ("2020-06-30T10:15:30", datetime(2020, 6, 30, 10, 15, 30)),
        # English, month first (fmprc titles) and day first (GOV.UK)
        ("Regular Press Conference on June 30, 2020", date(2020, 6, 30)),
        ("June 30 2020", date(2020, 6, 30)),
        ("Sept. 3, 2019", date(2019, 9, 3)),
        ("Sep 3, 2019", date(2019, 9, 3)),
        ("July 3rd, 2020", date(2020, 7, 3)),
        ("MAY 11, 2018", date(2018, 5, 11)),
        ("30 June 2020", date(2020, 6, 30)),
        (" 4 August 2014", date(2014, 8, 4)),
        ("3rd July 2020", date(2020, 7, 3)),
        ("1 Feb. 2021", date(2021, 2, 1)),
        # Chinese and slashed
        ("2020年7月3日外交部发言人赵立坚主持例行记者会", date(2020, 7, 3)),
        ("2020 年 7 月 3 日", date(2020, 7, 3)),
        ("(2020-07-03)", date(2020, 7, 3)),
        ("2020/07/03", date(2020, 7, 3)),
        ("2020.7.3", date(2020, 7, 3)),
        # The first date stated wins, whatever its form.
        ("Updated 1 August 2014, first published 2014-02-25", date(2014, 8, 1)),
        ("2016-11-15 (changed on 2016年11月16日)", date(2016, 11, 15)),
        # No date
        ("", None),
        ("Foreign Ministry Spokesperson Hua Chunying's Remarks on Nancy Pelosi", None),
        ("No date here: 12:30, room 2020, 30 Junes", None),
        ("1899-12-31", None),
        ("June 2020", None),
        # Impossible dates are skipped, never raised; a later real date is still found.
        ("2020-02-30", None),
        ("February 30, 2020", None),
        ("2020年13月3日", None),
        ("2020-02-30 12:00", None),
        ("Posted 2020-02-30; corrected 2020-03-01", date(2020, 3, 1)),
        ("30 February 2020, then 1 March 2020", date(2020, 3, 1)),
        ("February 30, 2020 or 2020-03-01", date(2020, 3, 1)),
    ],
)
def test_date_from_text(text: str, expected: date | datetime | None) -> None:
    got = date_from_text(text)
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(expected, datetime):
        assert isinstance(got, datetime) and got.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.fmprc.gov.cn/web/wjdt_674879/fyrbt_674889/202008/t20200819_7684543.shtml", date(2020, 8, 19)),
        ("https://www.fmprc.gov.cn/mfa_eng/zxxx_662805/t20200819_7684543.shtml", date(2020, 8, 19)),
        ("https://www.fmprc.gov.cn/mfa_eng/zxxx_662805/202008/t20200819_7684543.html", date(2020, 8, 19)),
        ("https://example.org/news/2020/08/19/wang-yi-atmar-call/", date(2020, 8, 19)),
        ("https://example.org/news/2020-08-19/call/", date(2020, 8, 19)),
        # old fmprc ids carry no date
        ("https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/t1793427.shtml", None),
        ("https://www.gov.uk/government/news/changes-to-student-visa-route-will-reduce-net-migration", None),
        ("https://www.fmprc.gov.cn/web/zyxw/t20201340_1.shtml", None),  # month 13
        ("https://example.org/news/2020/02/30/x/", None),
        ("https://example.org/news/2020/08/", None),
    ],
)
def test_date_from_url(url: str, expected: date | None) -> None:
    assert date_from_url(url) == expected


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        # a bare date is local midnight in the source's zone, with that zone's offset on that day
        (date(2020, 6, 30), SHANGHAI, "2020-06-30T00:00:00+08:00"),
        (date(2020, 6, 30), LONDON, "2020-06-30T00:00:00+01:00"),
        (date(2014, 2, 25), LONDON, "2014-02-25T00:00:00+00:00"),
        (date(2020, 6, 30), UTC, "2020-06-30T00:00:00+00:00"),
        # a naive time is local
        (datetime(2020, 6, 30, 10, 15), SHANGHAI, "2020-06-30T10:15:00+08:00"),
        (datetime(2020, 1, 15, 9, 0, 5), LONDON, "2020-01-15T09:00:05+00:00"),
        # an aware time keeps its own offset
        (datetime(2014, 2, 25, 13, 50, tzinfo=UTC), SHANGHAI, "2014-02-25T13:50:00+00:00"),
        (datetime(2020, 6, 30, 10, 15, tzinfo=PLUS8), LONDON, "2020-06-30T10:15:00+08:00"),
    ],
)
def test_format_published(value: date | datetime, zone: timezone | ZoneInfo, expected: str) -> None:
    assert format_published(value, zone) == expected
