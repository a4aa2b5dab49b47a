"""Find the publication date a page states, in text, attributes or URLs; pure, clock-free."""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo

__all__ = ["date_from_text", "date_from_url", "format_published"]

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_ISO = re.compile(
    r"(?P<y>(?:19|20)\d\d)-(?P<m>\d\d?)-(?P<d>\d\d?)"
    r"(?:[T ](?P<H>\d\d):(?P<M>\d\d)(?::(?P<S>\d\d)(?:\.\d+)?)?\s*(?P<tz>Z|[+-]\d\d:?\d\d)?)?"
)
_CJK = re.compile(r"(?P<y>(?:19|20)\d\d)\s*年\s*(?P<m>\d\d?)\s*月\s*(?P<d>\d\d?)\s*日")
_MDY = re.compile(_MONTH + r"\s+(?P<d>\d\d?)(?:st|nd|rd|th)?,?\s+(?P<y>(?:19|20)\d\d)", re.IGNORECASE)
_DMY = re.compile(r"(?P<d>\d\d?)(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+(?P<y>(?:19|20)\d\d)", re.IGNORECASE)
_SLASHED = re.compile(r"(?P<y>(?:19|20)\d\d)[/.](?P<m>\d\d?)[/.](?P<d>\d\d?)")
_URL_DATES = (
    re.compile(r"/t(?P<y>(?:19|20)\d\d)(?P<m>\d\d)(?P<d>\d\d)_\d+"),
    re.compile(r"/(?P<y>(?:19|20)\d\d)(?P<m>\d\d)/t(?P=y)(?P=m)(?P<d>\d\d)"),
    re.compile(r"/(?P<y>(?:19|20)\d\d)[-/](?P<m>\d\d)[-/](?P<d>\d\d)/"),
)


def _make(match: re.Match[str], month: int | None = None) -> datetime | date | None:
    parts = match.groupdict()
    try:
        day = date(int(parts["y"]), month or int(parts["m"]), int(parts["d"]))
    except ValueError:
        return None
    if parts.get("H") is None:
        return day
    moment = datetime.combine(day, time(int(parts["H"]), int(parts["M"]), int(parts.get("S") or 0)))
    zone = parts.get("tz")
    if zone:
        moment = datetime.fromisoformat(f"{moment.isoformat()}{'+00:00' if zone == 'Z' else zone}")
    return moment


def date_from_text(text: str) -> datetime | date | None:
    """Return the first date stated in `text` (ISO, 2020年7月3日, July 3, 2020, 3 July 2020, 2020/07/03), or None."""
    found: list[tuple[int, datetime | date]] = []
    for pattern in (_ISO, _CJK, _SLASHED, _MDY, _DMY):
        for match in pattern.finditer(text):
            month = _MONTHS[match.group("month").lower()] if "month" in pattern.groupindex else None
            if (value := _make(match, month)) is not None:
                found.append((match.start(), value))
                break
    return min(found, key=lambda item: item[0])[1] if found else None


def date_from_url(url: str) -> date | None:
    """Return the date a URL encodes (fmprc's t20200819_7684543, /202008/t20200819_..., /2020/08/19/), or None."""
    for pattern in _URL_DATES:
        match = pattern.search(url)
        if match:
            value = _make(match)
            if isinstance(value, date):
                return value
    return None


def format_published(value: datetime | date, zone: tzinfo) -> str:
    """Return ISO 8601 with an offset; a bare date is local midnight and a naive time is local, in `zone`."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.isoformat()
