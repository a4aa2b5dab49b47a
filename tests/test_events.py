"""Tests for monitor.events: time-sortable ids, the one event shape, and its JSON Schema (monitor/event.schema.json)."""

from __future__ import annotations

import copy
import json
import tomllib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from monitor.config import EVENT_TYPES, load_config
from monitor.content import content_hash
from monitor.events import article_event, encode_event, iso_z, new_event_id, source_event
from monitor.events import test_event as make_test_event  # aliased so pytest does not collect it
from storage import ArticleState, EventRecord, VersionRecord

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "monitor" / "event.schema.json"
SOURCE = load_config(ROOT / "config" / "sources.toml").source("mfa-zh-fyrbt")
URL = "https://www.fmprc.gov.cn/web/wjdt_674879/fyrbt_674889/t1793459.shtml"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
T0 = datetime(2020, 6, 30, 9, 12, 5, 250000, tzinfo=UTC)
T1 = T0 + timedelta(hours=3)
TITLE = "外交部发言人就全国人大常委会审议通过香港国安法发表谈话"
PUBLISHED = "2020-06-30T00:00:00+08:00"
TEXT_V1 = next(
    case["last"]
    for case in tomllib.loads((ROOT / "tests" / "data" / "extract_articles.toml").read_text("utf-8"))["article"]
    if case.get("doc_id") == "t1793459"
)
TEXT_V2 = TEXT_V1.replace("维护香港繁荣稳定", "维护香港繁荣安定")


def version(
    number: int, text: str, at: datetime, title: str = TITLE, published: str | None = PUBLISHED
) -> VersionRecord:
    return VersionRecord(number, at, title, published, text, content_hash(title, published, text))


V1 = version(1, TEXT_V1, T0)
V2 = version(2, TEXT_V2, T1)


def article(number: int, status: str = "live") -> ArticleState:
    return ArticleState("mfa-zh-fyrbt", URL, first_seen=T0, doc_id="t1793459", status=status, version=number)


def millis(event_id: str) -> int:
    value = 0
    for char in event_id.removeprefix("evt_")[:10]:
        value = value * 32 + CROCKFORD.index(char)
    return value


# -- ids and times -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "ms"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
        (datetime(2020, 6, 30, 9, 12, 5, 250999, tzinfo=UTC), 1593508325250),
        (datetime(2020, 6, 30, 17, 12, 5, 250000, tzinfo=ZoneInfo("Asia/Shanghai")), 1593508325250),
        (datetime(2100, 1, 1, tzinfo=UTC), 4102444800000),
    ],
)
def test_event_id_encodes_the_millisecond(now: datetime, ms: int) -> None:
    event_id = new_event_id(now)
    assert len(event_id) == 30 and event_id.startswith("evt_")
    assert set(event_id[4:]) <= set(CROCKFORD)
    assert millis(event_id) == ms


def test_event_ids_are_unique() -> None:
    ids = {new_event_id(T0) for _ in range(5000)}
    assert len(ids) == 5000


def test_event_ids_sort_by_time() -> None:
    steps = [timedelta(0), timedelta(milliseconds=1), timedelta(milliseconds=2), timedelta(seconds=1)]
    steps += [timedelta(minutes=1), timedelta(days=1), timedelta(days=400), timedelta(days=365 * 30)]
    for _ in range(50):
        ids = [new_event_id(T0 + step) for step in steps]
        assert sorted(ids) == ids


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2020, 6, 30, 9, 12, 5, 250999, tzinfo=UTC), "2020-06-30T09:12:05.250Z"),
        (datetime(2020, 6, 30, 0, 0, tzinfo=UTC), "2020-06-30T00:00:00.000Z"),
        (datetime(2020, 6, 30, 8, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8))), "2020-06-30T00:00:00.123Z"),
        (datetime(2020, 7, 1, 0, 30, tzinfo=ZoneInfo("Europe/London")), "2020-06-30T23:30:00.000Z"),
    ],
)
def test_iso_z(moment: datetime, text: str) -> None:
    assert iso_z(moment) == text


# -- payload shape -------------------------------------------------------------------------------------------------
SOURCE_DATA = {
    "id": "mfa-zh-fyrbt",
    "name": "外交部: 发言人表态 (Spokesperson statements)",
    "url": "https://www.fmprc.gov.cn/web/wjdt_674879/fyrbt_674889/",
}


def article_data(current: VersionRecord, status: str = "live") -> dict[str, Any]:
    return {
        "url": URL,
        "doc_id": "t1793459",
        "version": current.version,
        "title": current.title,
        "published": current.published,
        "text": current.text,
        "status": status,
        "first_seen": "2020-06-30T09:12:05.250Z",
    }


def check_record(record: EventRecord, kind: str, now: datetime, data: dict[str, Any], url: str | None) -> None:
    payload = json.loads(record.body)
    assert payload == {"id": record.id, "type": kind, "timestamp": iso_z(now), "data": data}
    assert record.payload() == payload
    assert (record.type, record.created_at, record.article_url) == (kind, now, url)
    assert record.body == encode_event(payload)
    assert b'": ' not in record.body and b", " not in record.body[:20]  # compact separators
    assert millis(record.id) == int(now.timestamp() * 1000)


def test_first_version_event_has_no_previous() -> None:
    record = article_event("article.published", SOURCE, article(1), V1, None, T0)
    check_record(record, "article.published", T0, {"source": SOURCE_DATA, "article": article_data(V1)}, URL)
    assert record.source_id == "mfa-zh-fyrbt"
    assert TITLE.encode() in record.body and b"\\u" not in record.body  # UTF-8, not \u escapes


def test_update_event_carries_previous_and_changes() -> None:
    record = article_event("article.updated", SOURCE, article(2), V2, V1, T1)
    data = {
        "source": SOURCE_DATA,
        "article": article_data(V2),
        "previous": {"version": 1, "title": TITLE, "published": PUBLISHED, "text": TEXT_V1},
        "changes": {
            "text": {"added": ["安"], "removed": ["稳"], "diff": TEXT_V1.replace("繁荣稳定", "繁荣[-稳-]{+安+}定")},
        },
    }
    check_record(record, "article.updated", T1, data, URL)


def test_update_event_lists_each_changed_field() -> None:
    current = version(2, TEXT_V1, T1, title=TITLE + "（全文）", published="2020-07-01T00:00:00+08:00")
    changes = article_event("article.updated", SOURCE, article(2), current, V1, T1).payload()["data"]["changes"]
    assert changes == {
        "title": {"added": ["（全文）"], "removed": [], "diff": TITLE + "{+（全文）+}"},
        "published": {
            "added": ["2020-07-01T00:00:00+08:00"],
            "removed": ["2020-06-30T00:00:00+08:00"],
            "diff": "[-2020-06-30T00:00:00+08:00-]{+2020-07-01T00:00:00+08:00+}",
        },
    }


@pytest.mark.parametrize(
    ("kind", "status", "previous"),
    [("article.removed", "removed", None), ("article.restored", "live", None), ("article.restored", "live", V1)],
    ids=["removed", "restored", "restored-same-version-as-previous"],
)
def test_event_without_new_content_has_no_previous(kind: str, status: str, previous: VersionRecord | None) -> None:
    record = article_event(kind, SOURCE, article(1, status), V1, previous, T1)
    check_record(record, kind, T1, {"source": SOURCE_DATA, "article": article_data(V1, status)}, URL)


def test_source_event() -> None:
    record = source_event("source.failing", SOURCE, 3, "HTTP 503", T1)
    check_record(
        record, "source.failing", T1, {"source": SOURCE_DATA, "consecutive_failures": 3, "reason": "HTTP 503"}, None
    )
    record = source_event("source.recovered", SOURCE, 0, None, T1)
    check_record(
        record, "source.recovered", T1, {"source": SOURCE_DATA, "consecutive_failures": 0, "reason": None}, None
    )


def test_test_event() -> None:
    record = make_test_event(T0)
    message = "ministry-monitor webhook test: if you can read this, delivery and signature work"
    check_record(record, "test", T0, {"message": message}, None)
    assert record.source_id == "test"


# -- JSON Schema ---------------------------------------------------------------------------------------------------
def all_events() -> dict[str, EventRecord]:
    no_date = version(1, "Q: …\n\nA: …", T0, title="Remarks", published=None)
    return {
        "published": article_event("article.published", SOURCE, article(1), V1, None, T0),
        "published-no-date": article_event("article.published", SOURCE, article(1), no_date, None, T0),
        "updated": article_event("article.updated", SOURCE, article(2), V2, V1, T1),
        "updated-date-added": article_event(
            "article.updated", SOURCE, article(2), version(2, no_date.text, T1, "Remarks"), no_date, T1
        ),
        "removed": article_event("article.removed", SOURCE, article(2, "removed"), V2, None, T1),
        "restored": article_event("article.restored", SOURCE, article(2), V2, None, T1),
        "source.failing": source_event("source.failing", SOURCE, 3, "HTTP 503", T1),
        "source.recovered": source_event("source.recovered", SOURCE, 0, None, T1),
        "test": make_test_event(T1),
    }


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_schema_knows_every_event_type(validator: jsonschema.Draft202012Validator) -> None:
    assert isinstance(validator.schema, dict)  # a JSON schema may also be a bare true or false
    assert set(validator.schema["properties"]["type"]["enum"]) == EVENT_TYPES | {"test"}


@pytest.mark.parametrize("name", list(all_events()))
def test_event_matches_schema(validator: jsonschema.Draft202012Validator, name: str) -> None:
    validator.validate(all_events()[name].payload())


def broken(name: str, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """Return the payload of one produced event with the value at `path` replaced (or deleted when value is ...)."""
    payload = copy.deepcopy(all_events()[name].payload())
    node = payload
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    "payload",
    [
        broken("published", ("type",), "article.deleted"),
        broken("published", ("id",), "evt_01ECBHYS00KQCAX7HQ4WE3E2H"),
        broken("published", ("id",), "01ECBHYS00KQCAX7HQ4WE3E2HP"),
        broken("published", ("timestamp",), "2020-06-30T09:12:05.250+00:00"),
        broken("published", ("timestamp",), "yesterday Z"),
        broken("published", ("extra",), 1),
        broken("published", ("data", "article", "status"), ...),
        broken("published", ("data", "article", "status"), "deleted"),
        broken("published", ("data", "article", "version"), 0),
        broken("published", ("data", "article", "first_seen"), "2020-06-30"),
        broken("published", ("data", "source", "url"), ...),
        broken("updated", ("data", "changes", "body"), {"added": [], "removed": [], "diff": ""}),
        broken("updated", ("data", "changes", "text", "added"), "安"),
        broken("updated", ("data", "previous", "text"), ...),
        broken("source.failing", ("data", "consecutive_failures"), -1),
        broken("source.failing", ("data", "article"), {}),
    ],
    ids=[
        "unknown-type",
        "short-id",
        "id-without-prefix",
        "timestamp-not-z",
        "timestamp-not-a-time",
        "extra-top-level-key",
        "no-status",
        "unknown-status",
        "version-zero",
        "first-seen-not-date-time",
        "source-without-url",
        "change-of-unknown-field",
        "added-not-a-list",
        "previous-without-text",
        "negative-failures",
        "source-event-with-article",
    ],
)
def test_schema_rejects_broken_events(validator: jsonschema.Draft202012Validator, payload: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(payload)
