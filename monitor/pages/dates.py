"""Find the publication date a page states, in text, attributes or URLs; pure, clock-free.

Numeric forms (2022-01-24, 24.01.2022, 19-10-2022 - 13:14, 24/01/2022 or 01/24/2022 by language), month names in
English, German, French, Spanish, Italian, Portuguese and Russian, and 年月日 (Chinese, Japanese) / 년월일 (Korean).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo

__all__ = [
    "date_from_machine",
    "date_from_text",
    "date_from_url",
    "date_label",
    "dates_in_text",
    "day_first_for",
    "format_published",
    "publication_date",
]

_MONTH_NAMES = (
    "january jan januar jänner jaenner janvier janv enero gennaio janeiro января январь",
    "february feb februar feber février fevrier févr fevr febrero febbraio fevereiro февраля февраль",
    "march mar märz maerz mär mars marzo março marco марта март",
    "april apr avril avr abril aprile апреля апрель",
    "may mai mayo maggio maio мая май",
    "june jun juni juin junio giugno junho июня июнь",
    "july jul juli juillet juil julio luglio julho июля июль",
    "august aug août aout agosto августа август",
    "september sep sept septembre septiembre setiembre settembre setembro сентября сентябрь",
    "october oct oktober okt octobre octubre ottobre outubro октября октябрь",
    "november nov novembre noviembre novembro ноября ноябрь",
    "december dec dezember dez décembre decembre déc diciembre dicembre dezembro декабря декабрь",
)
_MONTHS = {name: number for number, names in enumerate(_MONTH_NAMES, start=1) for name in names.split()}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")(?!\w)\.?"
_YEAR = r"(?P<y>(?:19|20)\d\d)(?![0-9A-Za-z])"
_CLOCK = r"(?:,?\s*(?:-\s*|um\s+|à\s+|at\s+)?(?P<H>[01]?\d|2[0-3])[:.h](?P<M>[0-5]\d)(?!\d))?"
_ISO = re.compile(
    r"(?P<y>(?:19|20)\d\d)-(?P<m>\d\d?)-(?P<d>\d\d?)"
    r"(?:[T ](?P<H>\d\d):(?P<M>\d\d)(?::(?P<S>\d\d)(?:\.\d+)?)?\s*(?P<tz>Z|[+-]\d\d:?\d\d)?)?"
)
_CJK = re.compile(r"(?P<y>(?:19|20)\d\d)\s*[年년]\s*[）)]?\s*(?P<m>\d\d?)\s*[月월]\s*(?P<d>\d\d?)\s*[日일]")
_MDY = re.compile(r"(?<!\w)" + _MONTH + r"\s+(?P<d>\d\d?)(?:st|nd|rd|th)?,?\s+" + _YEAR, re.IGNORECASE)
_DMY = re.compile(
    r"(?<!\d)(?P<d>\d\d?)(?:st|nd|rd|th|er|º|°)?\.?\s*(?:de\s+)?" + _MONTH + r",?\s*(?:de\s+|del\s+)?" + _YEAR,
    re.IGNORECASE,
)
_SLASHED = re.compile(r"(?P<y>(?:19|20)\d\d)[/.](?P<m>\d\d?)[/.](?P<d>\d\d?)")
_DOTTED = re.compile(r"(?<![\d.])(?P<d>\d\d?)\.\s?(?P<m>\d\d?)\.\s?" + _YEAR + _CLOCK)
_DASHED = re.compile(r"(?<![\d-])(?P<d>\d\d?)-(?P<m>\d\d?)-" + _YEAR + _CLOCK)
_DAY_MONTH_SLASH = re.compile(r"(?<![\d/])(?P<a>\d\d?)/(?P<b>\d\d?)/" + _YEAR)
_DIGIT = re.compile(r"\d")
_PATTERNS = (_ISO, _CJK, _SLASHED, _MDY, _DMY, _DOTTED, _DASHED, _DAY_MONTH_SLASH)
_URL_DATES = (
    re.compile(r"/t(?P<y>(?:19|20)\d\d)(?P<m>\d\d)(?P<d>\d\d)_\d+"),
    re.compile(r"/(?P<y>(?:19|20)\d\d)(?P<m>\d\d)/t(?P=y)(?P=m)(?P<d>\d\d)"),
    re.compile(r"/(?P<y>(?:19|20)\d\d)[-/](?P<m>\d\d)[-/](?P<d>\d\d)(?:/|$|[-_.])"),
    re.compile(r"[/_-](?P<y>(?:19|20)\d\d)(?P<m>[01]\d)(?P<d>[0-3]\d)(?:[/_.-]|$)"),
)
_COMPACT = re.compile(r"^(?P<y>(?:19|20)\d\d)(?P<m>[01]\d)(?P<d>[0-3]\d)$")
# Words that put a "last changed" date, not the publication date, right before it ("Stand: 12.11.2021").
_UPDATE_MARKER = re.compile(
    r"(?:(?:\bstand|änderung|geändert|aktualisiert|updated?|modified|changed|revised|mis à jour|modifié"
    r"|actualizad[oa]|actualización|aggiornat[oa]|atualizad[oa]|обновлен[оа]?|изменен[оа]?)\b|更新|修改|修订)"
    r"\W{0,6}(?:\w+\W{1,3}){0,2}$",
    re.IGNORECASE,
)
# Words that introduce the publication date itself ("Published: 25 February 2014", "Veröffentlicht am").
_PUBLISHED_MARKER = re.compile(
    r"(?:(?:\bpublished|\bposted|\bissued|veröffentlicht|erstellt|\bdatum|publié|publicado|publicación|fecha"
    r"|pubblicato|\bdata|опубликовано|дата)\b|发布|发表|日期|公開|掲載)\W{0,6}(?:\w+\W{1,3}){0,1}$",
    re.IGNORECASE,
)
_MONTH_FIRST_LANGS = ("en-us", "en_us")

Found = tuple[int, datetime | date, str]
"""(position in the text, the date, "published" / "changed" / "" for what the words just before it say it is)"""


def _make(match: re.Match[str], month: int | None = None, day_first: bool = True) -> datetime | date | None:
    parts = match.groupdict()
    if "a" in parts:
        a, b = int(parts["a"]), int(parts["b"])
        day, month = (a, b) if a > 12 or (b <= 12 and day_first) else (b, a)
        parts = {**parts, "d": str(day)}
    try:
        day_value = date(int(parts["y"]), month or int(parts["m"]), int(parts["d"]))
    except ValueError:
        return None
    if parts.get("H") is None:
        return day_value
    moment = datetime.combine(day_value, time(int(parts["H"]), int(parts["M"]), int(parts.get("S") or 0)))
    zone = parts.get("tz")
    if zone:
        moment = datetime.fromisoformat(f"{moment.isoformat()}{'+00:00' if zone == 'Z' else zone}")
    return moment


def _month_of(match: re.Match[str]) -> int | None:
    return _MONTHS[match.group("month").lower()] if "month" in match.re.groupindex else None


def dates_in_text(text: str, day_first: bool = True) -> list[Found]:
    """Return every valid date stated in `text` as (position, value, label), in text order.

    The label is "changed" for a date introduced as a change date ("Stand:", "Letzte Änderung", "last updated",
    "更新"), "published" for one introduced as the publication date ("Published:", "Veröffentlicht am", "发布"),
    else "".
    """
    found: list[Found] = []
    taken: list[tuple[int, int]] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            # A later pattern must not re-read part of a date an earlier one took.
            if any(start < other_end and other_start < end for other_start, other_end in taken):
                continue
            value = _make(match, _month_of(match), day_first)
            if value is None:
                continue
            taken.append((start, end))
            found.append((start, value, date_label(text[max(0, start - 40) : start])))
    return sorted(found, key=lambda item: item[0])


def date_label(before: str) -> str:
    """Return "changed", "published" or "" for what the words right before a date (`before`) say it is."""
    if _UPDATE_MARKER.search(before):
        return "changed"
    if _PUBLISHED_MARKER.search(before):
        return "published"
    return ""


def date_from_text(text: str, day_first: bool = True) -> datetime | date | None:
    """Return the first date stated in `text` (ISO, 2020年7月3日, July 3, 2020, 3 July 2020, 24.01.2022), or None."""
    # The selector path calls this for every article's title and date node: stop at each pattern's first valid
    # date, and skip text with no digit at all (every form has one).
    if not _DIGIT.search(text):
        return None
    best: tuple[int, datetime | date] | None = None
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if best is not None and match.start() >= best[0]:
                break
            value = _make(match, _month_of(match), day_first)
            if value is not None:
                best = (match.start(), value)
                break
    return best[1] if best else None


def publication_date(text: str, day_first: bool = True) -> datetime | date | None:
    """Return the date `text` gives as published: the first one labelled so, else the first one not labelled as a
    change date ("Stand:", "last updated"), else the first date."""
    found = dates_in_text(text, day_first)
    for wanted in ("published", ""):
        for _pos, value, label in found:
            if label == wanted:
                return value
    return found[0][1] if found else None


def date_from_machine(value: str) -> datetime | date | None:
    """Return the date in a machine-readable value (meta content, `<time datetime>`, JSON-LD): ISO or 20220124."""
    value = value.strip()
    compact = _COMPACT.match(value)
    if compact:
        return _make(compact)
    return date_from_text(value)


def date_from_url(url: str) -> date | None:
    """Return the date a URL encodes (fmprc's t20200819_7684543, /202008/t20200819_..., /2020/08/19/), or None."""
    for pattern in _URL_DATES:
        match = pattern.search(url)
        if match:
            value = _make(match)
            if isinstance(value, date):
                return value
    return None


def day_first_for(language: str | None) -> bool:
    """Return whether 01/02/2022 means 1 February for this language tag (all but US English)."""
    return not (language or "").strip().lower().startswith(_MONTH_FIRST_LANGS)


def format_published(value: datetime | date, zone: tzinfo) -> str:
    """Return ISO 8601 with an offset; a bare date is local midnight and a naive time is local, in `zone`."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.isoformat()
