"""Date forms ministries publish (issue 13), each from a real or realistic snippet, and the footer-date trap."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from monitor.pages import (
    date_from_machine,
    date_from_text,
    date_from_url,
    day_first_for,
    publication_date,
)

PLUS1 = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # German, Austrian, Swiss
        ("Pressemitteilung 24.01.2022", date(2022, 1, 24)),
        ("Datum 24. 01. 2022", date(2022, 1, 24)),
        ("Berlin, 1. Februar 2022", date(2022, 2, 1)),
        ("Wien, 24. Jänner 2022", date(2022, 1, 24)),
        ("3. März 2021 – Bundesministerin", date(2021, 3, 3)),
        ("Bern, 17.08.2007 - Der Bundesrat hat", date(2007, 8, 17)),
        ("19-10-2022 - 13:14", datetime(2022, 10, 19, 13, 14)),
        ("24.01.2022, 10:30 Uhr", datetime(2022, 1, 24, 10, 30)),
        ("Dezember 2021", None),
        # French, Spanish, Italian, Portuguese, Russian
        ("Paris, le 1er février 2022", date(2022, 2, 1)),
        ("Communiqué du 3 mars 2023", date(2023, 3, 3)),
        ("Madrid, 1 de febrero de 2022", date(2022, 2, 1)),
        ("Roma, 24 gennaio 2022", date(2022, 1, 24)),
        ("Lisboa, 24 de março de 2022", date(2022, 3, 24)),
        ("Brasília, 5 de setembro de 2019", date(2019, 9, 5)),
        ("24 января 2022 г. Министр иностранных дел", date(2022, 1, 24)),
        ("3 августа 2021 года", date(2021, 8, 3)),
        # English
        ("Published 24 January 2022", date(2022, 1, 24)),
        ("January 24, 2022", date(2022, 1, 24)),
        ("Brussels, 24/01/2022", date(2022, 1, 24)),
        ("01/24/2022", date(2022, 1, 24)),  # unambiguous either way
        # Chinese, Japanese, Korean
        ("发布时间：2022年1月24日", date(2022, 1, 24)),
        ("令和4年（2022年）1月24日", date(2022, 1, 24)),
        ("2022년 1월 24일 외교부", date(2022, 1, 24)),
        # Not dates
        ("Tel. 030 18 615 0, Fax 12.34", None),
        ("Version 1.2.2022b", None),
    ],
)
def test_date_forms(text: str, expected: date | datetime | None) -> None:
    got = date_from_text(text)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("text", "day_first", "expected"),
    [
        ("03/04/2022", True, date(2022, 4, 3)),
        ("03/04/2022", False, date(2022, 3, 4)),
        ("13/04/2022", False, date(2022, 4, 13)),
        ("04/13/2022", True, date(2022, 4, 13)),
    ],
)
def test_slashed_dates_follow_the_language(text: str, day_first: bool, expected: date) -> None:
    assert date_from_text(text, day_first=day_first) == expected


@pytest.mark.parametrize(
    ("language", "day_first"),
    [("en-US", False), ("en_us", False), ("en-GB", True), ("en", True), ("de-CH", True), ("", True), (None, True)],
)
def test_day_first_for(language: str | None, day_first: bool) -> None:
    assert day_first_for(language) is day_first


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The footer's change date is not the publication date when the page states one.
        ("Veröffentlicht am 3. November 2021 ... Stand: 12.11.2021", date(2021, 11, 3)),
        ("Stand: 12.11.2021 Pressemitteilung vom 03.11.2021", date(2021, 11, 3)),
        ("Letzte Änderung: 05.03.2022 | Datum: 01.03.2022", date(2022, 3, 1)),
        ("Zuletzt aktualisiert am 05.03.2022. Erstellt 28.02.2022", date(2022, 2, 28)),
        ("Last updated 5 March 2022 — Published 1 March 2022", date(2022, 3, 1)),
        ("Mis à jour le 5 mars 2022, publié le 1 mars 2022", date(2022, 3, 1)),
        ("更新时间：2022年3月5日 发布时间：2022年3月1日", date(2022, 3, 1)),
        # ... and is used when it is the only date.
        ("Stand: 12.11.2021", date(2021, 11, 12)),
        ("no date at all", None),
    ],
)
def test_publication_date_skips_change_dates(text: str, expected: date | None) -> None:
    assert publication_date(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-01-24T09:30:00+01:00", datetime(2022, 1, 24, 9, 30, tzinfo=PLUS1)),
        ("2022-01-24", date(2022, 1, 24)),
        ("20220124", date(2022, 1, 24)),
        (" 2022-01-24T09:30:00+0100 ", datetime(2022, 1, 24, 9, 30, tzinfo=PLUS1)),
        ("24.01.2022", date(2022, 1, 24)),
        ("2022-13-01", None),
        ("", None),
    ],
)
def test_date_from_machine(value: str, expected: date | datetime | None) -> None:
    assert date_from_machine(value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.bmwk.de/Redaktion/DE/Pressemitteilungen/2022/01/20220124-habeck.html", date(2022, 1, 24)),
        ("https://www.admin.ch/gov/de/start/dokumentation/medienmitteilungen.msg-id-87654.html", None),
        ("https://ec.europa.eu/commission/presscorner/detail/en/ip_22_123", None),
        ("https://example.org/press/2022-01-24-statement", date(2022, 1, 24)),
    ],
)
def test_more_url_dates(url: str, expected: date | None) -> None:
    assert date_from_url(url) == expected
