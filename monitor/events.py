"""Build the one JSON event shape used everywhere: stored, exported by `monitor events`, and sent to webhooks.

The schema is `monitor/event.schema.json`; the README documents it.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from monitor.config import Source
from monitor.content import diff_fields
from storage import ArticleState, EventRecord, VersionRecord

__all__ = [
    "article_event",
    "encode_event",
    "iso_z",
    "layout_event",
    "new_event_id",
    "source_event",
    "test_event",
]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def iso_z(moment: datetime) -> str:
    """Return an aware time as ISO 8601 UTC with a Z and millisecond precision."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_event_id(now: datetime) -> str:
    """Return `evt_` + a ULID: 48 bits of milliseconds then 80 random bits, so ids sort by creation time."""
    value = (int(now.timestamp() * 1000) << 80) | int.from_bytes(os.urandom(10))
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "evt_" + "".join(reversed(chars))


def encode_event(payload: dict[str, Any]) -> bytes:
    """Return the canonical bytes of an event: compact UTF-8 JSON, the exact body webhooks receive."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _source_data(source: Source) -> dict[str, str]:
    return {"id": source.id, "name": source.name, "url": source.url}


def _version_data(version: VersionRecord) -> dict[str, Any]:
    return {"version": version.version, "title": version.title, "published": version.published, "text": version.text}


def article_event(
    kind: str,
    source: Source,
    article: ArticleState,
    current: VersionRecord,
    previous: VersionRecord | None,
    now: datetime,
) -> EventRecord:
    """Return an `article.*` event for `article` whose content is now `current` (after `previous`, if any)."""
    data: dict[str, Any] = {
        "source": _source_data(source),
        "article": {
            "url": article.url,
            "doc_id": article.doc_id,
            **_version_data(current),
            "status": article.status,
            "first_seen": iso_z(article.first_seen),
        },
    }
    if previous is not None and previous.version != current.version:
        data["previous"] = _version_data(previous)
        changes = diff_fields(_fields(previous), _fields(current))
        data["changes"] = {name: change.as_dict() for name, change in changes.items()}
    return _record(kind, source.id, article.url, data, now)


def _fields(version: VersionRecord) -> dict[str, str | None]:
    return {"title": version.title, "published": version.published, "text": version.text}


def source_event(kind: str, source: Source, failures: int, reason: str | None, now: datetime) -> EventRecord:
    """Return a `source.failing` or `source.recovered` event."""
    data = {"source": _source_data(source), "consecutive_failures": failures, "reason": reason}
    return _record(kind, source.id, None, data, now)


def layout_event(
    source: Source, reason: str, proposed: dict[str, Any], links: int, known: int, now: datetime
) -> EventRecord:
    """Return a `source.layout_changed` event: the source's selectors stopped working; `proposed` ones work now."""
    data = {"source": _source_data(source), "reason": reason, "proposed": proposed, "links": links, "known": known}
    return _record("source.layout_changed", source.id, None, data, now)


def test_event(now: datetime) -> EventRecord:
    """Return the signed `test` event `monitor webhook-test` sends."""
    data = {"message": "ministry-monitor webhook test: if you can read this, delivery and signature work"}
    return _record("test", "test", None, data, now)


def _record(kind: str, source_id: str, url: str | None, data: dict[str, Any], now: datetime) -> EventRecord:
    event_id = new_event_id(now)
    payload = {"id": event_id, "type": kind, "timestamp": iso_z(now), "data": data}
    return EventRecord(
        id=event_id, type=kind, source_id=source_id, created_at=now, body=encode_event(payload), article_url=url
    )
