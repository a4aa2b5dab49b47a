"""Tests for monitor.lifecycle: what each fetch of an article means, as step tables over fixed times (no clock)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config import Source, parse_config
from monitor.content import content_hash
from monitor.lifecycle import decide, next_revisit
from monitor.pages import Extracted, Observation
from storage import ArticleState

T0 = datetime(2020, 7, 4, 3, 55, tzinfo=UTC)
URL = "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/t1793427.shtml"


def make_source(**overrides: Any) -> Source:
    table: dict[str, Any] = {
        "id": "mfa-en-press",
        "url": "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/",
        "interval": "10m",
        "revisit": "30d",
        "confirm_removal": 3,
        "confirm_removal_after": "30m",
        "listing": {"links": "div.newsLst_mod ul li a"},
        "article": {"title": "div.content_mod h2.title", "body": "div.content_mod div.content"},
        **overrides,
    }
    return parse_config({"sources": [table]}, path="test.toml", environ={}).sources[0]


SOURCE = make_source()


def extracted(text: str) -> Extracted:
    return Extracted(
        title="Foreign Ministry Spokesperson Zhao Lijian's Regular Press Conference on June 30, 2020",
        published="2020-06-30T00:00:00+08:00",
        text=text,
        doc_id="t1793427",
        canonical_url=URL,
    )


TEXT_A = "CCTV: On June 29, US Secretary of State Mike Pompeo said...\n\nZhao Lijian: It is China's internal affair."
OBSERVATIONS = {
    "A": Observation("content", extracted(TEXT_A), raw_zlib=b"<zlib A>", etag='"a"'),
    "A-noise": Observation("content", extracted(TEXT_A.replace(" ", "\u00a0", 3) + "\u200b"), raw_zlib=b"<zlib A2>"),
    "B": Observation("content", extracted(TEXT_A.replace("internal affair", "internal affairs")), raw_zlib=b"<zlib B>"),
    "C": Observation("content", extracted(TEXT_A + "\n\nQ: One more question?"), raw_zlib=b"<zlib C>"),
    "304": Observation("not_modified"),
    "404": Observation("missing", error="HTTP 404"),
    "fail": Observation("failed", error="timed out after 20s"),
}
PUB, UPD, REM, RES = "article.published", "article.updated", "article.removed", "article.restored"
Step = tuple[int, str, str | None, int | None, int | None]  # minute, observation, event, new version, same_as


def run(steps: list[Step], *, baseline: bool = False, source: Source = SOURCE) -> ArticleState:
    """Feed the observations to decide() one by one, keeping state and seen hashes as the pipeline does."""
    article = ArticleState("mfa-en-press", URL, first_seen=T0, baseline=baseline)
    seen: dict[str, int] = {}
    for minute, key, event, version, same_as in steps:
        now = T0 + timedelta(minutes=minute)
        before = dataclasses.replace(article)
        decision = decide(article, dict(seen), OBSERVATIONS[key], source, now)
        assert article == before, "decide() must not change the state it was given"
        where = f"step at minute {minute} ({key})"
        assert decision.event == event, where
        if version is None:
            assert decision.version is None, where
        else:
            assert decision.version is not None, where
            assert (decision.version.version, decision.version.same_as) == (version, same_as), where
            assert decision.version.fetched_at == now
            assert decision.version.raw_zlib == (None if same_as else OBSERVATIONS[key].raw_zlib), where
            assert (
                decision.article.version == version and decision.article.content_hash == decision.version.content_hash
            )
            seen.setdefault(decision.version.content_hash, version)
        assert decision.article.last_fetch_at == now
        article = decision.article
    return article


SCENARIOS: dict[str, tuple[list[Step], dict[str, Any]]] = {
    "first-content": ([(0, "A", PUB, 1, None)], {"status": "live", "version": 1}),
    "same-content": ([(0, "A", PUB, 1, None), (10, "A", None, None, None)], {"version": 1}),
    "noise-is-not-content": ([(0, "A", PUB, 1, None), (10, "A-noise", None, None, None)], {"version": 1}),
    "not-modified": ([(0, "A", PUB, 1, None), (10, "304", None, None, None)], {"version": 1}),
    "updated": ([(0, "A", PUB, 1, None), (10, "B", UPD, 2, None)], {"version": 2, "last_changed": 10}),
    "updated-twice": ([(0, "A", PUB, 1, None), (10, "B", UPD, 2, None), (20, "C", UPD, 3, None)], {"version": 3}),
    "flapping-A-B-A-B": (
        [(0, "A", PUB, 1, None), (10, "B", UPD, 2, None), (20, "A", None, 3, 1), (30, "B", None, 4, 2)],
        {"version": 4},
    ),
    "flap-then-real-edit": (
        [(0, "A", PUB, 1, None), (10, "B", UPD, 2, None), (20, "A", None, 3, 1), (30, "C", UPD, 4, None)],
        {"version": 4},
    ),
    "removed-after-3-misses-over-30m": (
        [
            (0, "A", PUB, 1, None),
            (60, "404", None, None, None),
            (75, "404", None, None, None),
            (90, "404", REM, None, None),
            (100, "404", None, None, None),
            (600, "404", None, None, None),
        ],
        {"status": "removed", "version": 1, "last_changed": 90},
    ),
    "two-misses-are-not-enough": (
        [(0, "A", PUB, 1, None), (60, "404", None, None, None), (600, "404", None, None, None)],
        {"status": "live", "miss_count": 2, "first_miss_at": 60},
    ),
    "three-quick-misses-wait-for-30m": (
        [
            (0, "A", PUB, 1, None),
            (60, "404", None, None, None),
            (65, "404", None, None, None),
            (70, "404", None, None, None),
            (89, "404", None, None, None),
            (90, "404", REM, None, None),
        ],
        {"status": "removed", "miss_count": 5},
    ),
    "failures-never-remove": (
        [(0, "A", PUB, 1, None), *[(60 + 10 * i, "fail", None, None, None) for i in range(20)]],
        {"status": "live", "miss_count": 0, "fail_count": 20, "last_error": "timed out after 20s"},
    ),
    "failures-neither-count-nor-reset-misses": (
        [
            (0, "A", PUB, 1, None),
            (60, "404", None, None, None),
            (70, "fail", None, None, None),
            (80, "404", None, None, None),
            (85, "fail", None, None, None),
            (90, "404", REM, None, None),
        ],
        {"status": "removed"},
    ),
    "content-resets-misses": (
        [
            (0, "A", PUB, 1, None),
            (60, "404", None, None, None),
            (70, "404", None, None, None),
            (80, "A", None, None, None),
            (90, "404", None, None, None),
            (120, "404", None, None, None),
            (130, "404", REM, None, None),
        ],
        {"status": "removed"},
    ),
    "restored-same-content": (
        [
            (0, "A", PUB, 1, None),
            (60, "404", None, None, None),
            (75, "404", None, None, None),
            (90, "404", REM, None, None),
            (200, "A", RES, None, None),
        ],
        {"status": "live", "version": 1, "miss_count": 0, "first_miss_at": None},
    ),
    "restored-new-content": (
        [
            (0, "A", PUB, 1, None),
            (60, "404", None, None, None),
            (75, "404", None, None, None),
            (90, "404", REM, None, None),
            (200, "B", RES, 2, None),
            (210, "C", UPD, 3, None),
        ],
        {"status": "live", "version": 3},
    ),
    "restored-old-content": (
        [
            (0, "A", PUB, 1, None),
            (10, "B", UPD, 2, None),
            (60, "404", None, None, None),
            (75, "404", None, None, None),
            (90, "404", REM, None, None),
            (200, "A", RES, 3, 1),
        ],
        {"status": "live", "version": 3},
    ),
    "restored-by-304": (
        [
            (0, "A", PUB, 1, None),
            (60, "404", None, None, None),
            (75, "404", None, None, None),
            (90, "404", REM, None, None),
            (200, "304", RES, None, None),
            (210, "304", None, None, None),
        ],
        {"status": "live", "version": 1},
    ),
    "missing-before-any-content": (
        [
            (0, "404", None, None, None),
            (15, "404", None, None, None),
            (30, "404", None, None, None),
            (60, "404", None, None, None),
            (120, "404", None, None, None),
            (130, "A", PUB, 1, None),
        ],
        {"status": "live", "version": 1, "miss_count": 0},
    ),
    "missing-only": (
        [
            (0, "404", None, None, None),
            (15, "404", None, None, None),
            (30, "404", None, None, None),
            (90, "404", None, None, None),
        ],
        {"status": "live", "version": 0, "miss_count": 0, "last_error": "HTTP 404"},
    ),
    "failed-before-any-content": (
        [(0, "fail", None, None, None), (5, "fail", None, None, None), (15, "A", PUB, 1, None)],
        {"version": 1, "fail_count": 0, "last_error": None},
    ),
}


@pytest.mark.parametrize(("steps", "final"), SCENARIOS.values(), ids=SCENARIOS.keys())
def test_decide(steps: list[Step], final: dict[str, Any]) -> None:
    article = run(steps)
    for name, value in final.items():
        if name in ("last_changed", "first_miss_at") and value is not None:
            value = T0 + timedelta(minutes=value)
        assert getattr(article, name) == value, name


@pytest.mark.parametrize(
    ("steps", "version"),
    [
        ([(0, "A", None, 1, None)], 1),
        ([(0, "A", None, 1, None), (10, "B", UPD, 2, None)], 2),
        ([(0, "A", None, 1, None), (10, "B", UPD, 2, None), (20, "A", None, 3, 1)], 3),
    ],
    ids=["first", "then-edited", "then-flapped-back"],
)
def test_baseline_article_publishes_nothing_but_later_edits(steps: list[Step], version: int) -> None:
    assert run(steps, baseline=True).version == version


def test_new_version_records_the_content() -> None:
    decision = decide(ArticleState("mfa-en-press", URL, first_seen=T0), {}, OBSERVATIONS["A"], SOURCE, T0)
    assert decision.version is not None
    assert decision.version.title == extracted(TEXT_A).title
    assert decision.version.published == "2020-06-30T00:00:00+08:00"
    assert decision.version.text == TEXT_A
    assert decision.version.content_hash == content_hash(extracted(TEXT_A).title, extracted(TEXT_A).published, TEXT_A)
    assert (decision.article.doc_id, decision.article.etag, decision.article.last_seen) == ("t1793427", '"a"', T0)


@pytest.mark.parametrize(
    ("confirm_removal", "after", "miss_minutes", "removed_at"),
    [
        (1, "0s", [60], 60),
        (1, "1h", [60, 90, 119, 120], 120),
        (2, "30m", [60, 61, 89, 90], 90),
        (5, "10m", [60, 61, 62, 63, 64, 69, 70], 70),
        (3, "2h", [60, 70, 80, 170, 179], None),
    ],
)
def test_removal_thresholds(confirm_removal: int, after: str, miss_minutes: list[int], removed_at: int | None) -> None:
    source = make_source(confirm_removal=confirm_removal, confirm_removal_after=after)
    steps: list[Step] = [(0, "A", PUB, 1, None)]
    steps += [(m, "404", REM if m == removed_at else None, None, None) for m in miss_minutes]
    assert run(steps, source=source).status == ("removed" if removed_at else "live")


def test_unconfirmed_miss_is_rechecked_before_the_confirmation_window_ends() -> None:
    article = run([(0, "A", PUB, 1, None), (60, "404", None, None, None)])
    assert article.next_fetch_at is not None
    assert T0 + timedelta(minutes=60) < article.next_fetch_at <= T0 + timedelta(minutes=90)


# -- next_revisit --------------------------------------------------------------------------------------------------
REVISIT_GAPS = [
    # (age of the article, gap before the spread)
    (timedelta(0), timedelta(minutes=10)),  # never below the source interval
    (timedelta(minutes=20), timedelta(minutes=10)),
    (timedelta(hours=1), timedelta(minutes=15)),  # a quarter of the age
    (timedelta(hours=8), timedelta(hours=2)),
    (timedelta(days=2), timedelta(hours=12)),
    (timedelta(days=4), timedelta(days=1)),
    (timedelta(days=10), timedelta(days=1)),  # at most a day
    (timedelta(days=29, hours=23), timedelta(days=1)),
    (timedelta(days=30), None),  # past the revisit horizon
    (timedelta(days=400), None),
]


def revisit_factor(url: str, source: Source = SOURCE) -> float:
    """Return this URL's fixed spread factor, measured at an age where the gap is exactly one day."""
    now = T0 + timedelta(days=10)
    when = next_revisit(ArticleState(source.id, url, first_seen=T0), source, now)
    assert when is not None
    return (when - now) / timedelta(days=1)


@pytest.mark.parametrize(("age", "gap"), REVISIT_GAPS, ids=[str(age) for age, _ in REVISIT_GAPS])
def test_next_revisit_gap(age: timedelta, gap: timedelta | None) -> None:
    now = T0 + age
    when = next_revisit(ArticleState("mfa-en-press", URL, first_seen=T0), SOURCE, now)
    if gap is None:
        assert when is None
        return
    assert when is not None
    assert abs((when - now) - gap * revisit_factor(URL)) < timedelta(milliseconds=1)


def test_next_revisit_gap_grows_with_age() -> None:
    article = ArticleState("mfa-en-press", URL, first_seen=T0)
    gaps = []
    for age, _ in REVISIT_GAPS[:8]:
        when = next_revisit(article, SOURCE, T0 + age)
        assert when is not None
        gaps.append(when - (T0 + age))
    assert gaps == sorted(gaps) and gaps[0] < gaps[-1]


@pytest.mark.parametrize(
    ("overrides", "age", "gap"),
    [
        ({"revisit": "0"}, timedelta(0), None),
        ({"revisit": "0"}, timedelta(days=1), None),
        ({"revisit": "1d"}, timedelta(hours=23), timedelta(hours=5, minutes=45)),
        ({"revisit": "1d"}, timedelta(days=1), None),
        ({"interval": "2d", "revisit": "60d"}, timedelta(days=20), timedelta(days=2)),  # interval above the day cap
        ({"interval": "1h"}, timedelta(hours=2), timedelta(hours=1)),
    ],
)
def test_next_revisit_limits(overrides: dict[str, str], age: timedelta, gap: timedelta | None) -> None:
    source = make_source(**overrides)
    when = next_revisit(ArticleState(source.id, URL, first_seen=T0), source, T0 + age)
    if gap is None:
        assert when is None
    else:
        assert when is not None
        assert abs((when - (T0 + age)) - gap * revisit_factor(URL)) < timedelta(milliseconds=1)


def test_next_revisit_spread_is_fixed_per_url_and_within_ten_percent() -> None:
    urls = [f"https://www.fmprc.gov.cn/web/wjdt_674879/fyrbt_674889/t{1794000 + i}.shtml" for i in range(400)]
    factors = [revisit_factor(url) for url in urls]
    assert factors == [revisit_factor(url) for url in urls]
    assert all(0.9 <= factor <= 1.1 for factor in factors)
    assert min(factors) < 0.92 and max(factors) > 1.08
    assert len({round(factor, 6) for factor in factors}) > 300
