"""Tests for delivery.webhooks: signatures a `standardwebhooks` receiver accepts, chat bodies, status classes."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from receiver import Receiver, Reply
from standardwebhooks import Webhook

from monitor.config import ArticleSelectors, Endpoint, ListingSelectors, Secret, Source, parse_duration
from monitor.delivery import (
    RESPONSE_MAX_BYTES,
    USER_AGENT,
    Attempt,
    chat_body,
    chat_text,
    parse_retry_after,
    secret_key,
    send,
    sign,
)
from monitor.events import article_event, source_event
from monitor.events import test_event as make_test_event
from storage import ArticleState, EventRecord, VersionRecord

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
SOURCE = Source(
    id="mfa-cn",
    name="MFA (China)",
    url="https://www.fmprc.gov.cn/eng/xw/",
    listing=ListingSelectors(links="a"),
    article=ArticleSelectors(title="h1", body="div"),
)
ARTICLE_URL = "https://www.fmprc.gov.cn/eng/xw/t1793427.html"


def endpoint(url: str, *, secret: str | None = SECRET, fmt: str = "standard", timeout: str = "2s") -> Endpoint:
    return Endpoint(
        id="hook",
        url=url,
        secret=None if secret is None else Secret(secret),
        format=fmt,
        timeout=parse_duration(timeout),
    )


def updated_event(now: datetime, old_text: str, new_text: str, title: str = "Regular Press Conference") -> EventRecord:
    article = ArticleState(source_id=SOURCE.id, url=ARTICLE_URL, first_seen=now - timedelta(days=1), version=2)
    previous = VersionRecord(1, now - timedelta(days=1), title, "2020-06-30", old_text, "h1")
    current = VersionRecord(2, now, title, "2020-06-30", new_text, "h2")
    return article_event("article.updated", SOURCE, article, current, previous, now)


def post(target: Endpoint, event: EventRecord, now: datetime | None = None) -> Attempt:
    async def go() -> Attempt:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await send(client, target, event.id, event.body, now or datetime.now(UTC))

    return asyncio.run(go())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


# -- signing ---------------------------------------------------------------------------------------------------
def test_sign_matches_the_standardwebhooks_library() -> None:
    body = '{"id":"evt_1","text":"外交部 — déjà vu"}'.encode()
    moment = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    expected = Webhook(SECRET).sign("evt_1", moment, body.decode())
    assert sign(SECRET, "evt_1", int(moment.timestamp()), body) == expected


def test_secret_without_prefix_is_used_as_utf8_bytes() -> None:
    body = b'{"id":"evt_2"}'
    moment = datetime(2024, 5, 1, tzinfo=UTC)
    assert secret_key("plain secret ü") == "plain secret ü".encode()
    expected = Webhook("plain secret ü".encode()).sign("evt_2", moment, body.decode())
    assert sign("plain secret ü", "evt_2", int(moment.timestamp()), body) == expected


@pytest.mark.parametrize("bad", ["whsec_", "whsec_not base64!", ""])
def test_unusable_secret_raises_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        secret_key(bad)


def test_bad_secret_is_a_final_failure_and_sends_nothing(receiver: Receiver) -> None:
    attempt = post(endpoint(receiver.url, secret="whsec_***"), make_test_event(datetime.now(UTC)))
    assert (attempt.delivered, attempt.retryable, attempt.status) == (False, False, None)
    assert attempt.error is not None and "base64" in attempt.error
    assert receiver.requests == []


def test_receiver_verifies_the_signed_request(receiver: Receiver) -> None:
    now = datetime.now(UTC)
    event = make_test_event(now)
    attempt = post(endpoint(receiver.url), event, now)
    assert attempt == Attempt(200, True, False, None, None, "ok")
    (request,) = receiver.wait_for(1)
    assert request.method == "POST"
    assert request.body == event.body
    assert Webhook(SECRET).verify(request.body, request.headers) == event.payload()
    assert request.headers["webhook-id"] == event.id
    assert request.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert request.headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("ministry-monitor/") and USER_AGENT.endswith(" (+webhooks)")
    assert request.headers["content-type"] == "application/json"


def test_without_a_secret_the_request_is_unsigned(receiver: Receiver) -> None:
    event = make_test_event(datetime.now(UTC))
    assert post(endpoint(receiver.url, secret=None), event).delivered
    (request,) = receiver.wait_for(1)
    assert "webhook-signature" not in request.headers
    assert request.headers["webhook-id"] == event.id


# -- chat formats ----------------------------------------------------------------------------------------------
def test_slack_body_is_a_signed_text_message(receiver: Receiver) -> None:
    now = datetime.now(UTC)
    event = updated_event(now, "The spokesperson said no.", "The spokesperson said yes & <maybe>.")
    assert post(endpoint(receiver.url, fmt="slack"), event, now).delivered
    (request,) = receiver.wait_for(1)
    message = Webhook(SECRET).verify(request.body, request.headers)
    assert list(message) == ["text"]
    first, *changes = message["text"].split("\n")
    assert first == f"Article updated — MFA (China): Regular Press Conference {ARTICLE_URL}"
    assert "+ yes &amp; &lt;maybe&gt;." in changes
    assert "- no." in changes
    assert request.headers["webhook-id"] == event.id


def test_discord_body_is_capped_and_never_pings(receiver: Receiver) -> None:
    now = datetime.now(UTC)
    new_text = " ".join(f"@everyone sentence{i} " + "word " * 80 for i in range(40))
    event = updated_event(now, "short", new_text, title="T" * 3000)
    assert post(endpoint(receiver.url, fmt="discord"), event, now).delivered
    message = Webhook(SECRET).verify(receiver.wait_for(1)[0].body, receiver.requests[0].headers)
    assert set(message) == {"content", "allowed_mentions"}
    assert message["allowed_mentions"] == {"parse": []}
    assert len(message["content"]) <= 2000
    assert message["content"].startswith("Article updated — MFA (China): TTT")
    assert message["content"].endswith("…")


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            source_event("source.failing", SOURCE, 3, "HTTP 503", datetime(2024, 1, 1, tzinfo=UTC)),
            "Source failing — MFA (China): 3 failed checks in a row (HTTP 503)",
        ),
        (
            source_event("source.recovered", SOURCE, 4, None, datetime(2024, 1, 1, tzinfo=UTC)),
            "Source recovered — MFA (China) after 4 failed checks",
        ),
        (
            make_test_event(datetime(2024, 1, 1, tzinfo=UTC)),
            "ministry-monitor webhook test: if you can read this, delivery and signature work",
        ),
    ],
)
def test_chat_text_of_other_events(event: EventRecord, expected: str) -> None:
    assert chat_text(event.payload()) == expected


def test_chat_text_of_a_new_article_has_no_change_lines() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    article = ArticleState(source_id=SOURCE.id, url=ARTICLE_URL, first_seen=now, version=1)
    current = VersionRecord(1, now, "Statement", None, "text", "h")
    event = article_event("article.published", SOURCE, article, current, None, now)
    assert chat_text(event.payload()) == f"New article — MFA (China): Statement {ARTICLE_URL}"


def test_chat_text_keeps_a_few_snippets_of_each_kind() -> None:
    changes = {"text": {"added": [f"a{i}" for i in range(10)], "removed": ["r1", "r2"]}, "title": {"added": ["T"]}}
    payload: dict[str, Any] = {"type": "article.updated", "data": {"changes": changes}}
    lines = chat_text(payload).split("\n")[1:]
    assert lines == ["+ a0", "+ a1", "+ a2", "+ a3", "- r1", "- r2"]


def test_chat_body_of_unreadable_json_names_the_event() -> None:
    assert json.loads(chat_body("slack", "evt_X", b"\xff")) == {"text": "ministry-monitor event evt_X"}


# -- answers ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "delivered", "retryable", "retry_after_s"),
    [
        (Reply(200), True, False, None),
        (Reply(204, body=b""), True, False, None),
        (Reply(410, body=b"gone"), False, False, None),
        (Reply(400), False, False, None),
        (Reply(429, headers={"Retry-After": "7"}), False, True, 7.0),
        (Reply(408), False, True, None),
        (Reply(503), False, True, None),
        (Reply(500, headers={"Retry-After": "soon"}), False, True, None),
    ],
)
def test_status_classification(reply: Reply, delivered: bool, retryable: bool, retry_after_s: float | None) -> None:
    with Receiver(default=reply) as server:
        attempt = post(endpoint(server.url), make_test_event(datetime.now(UTC)))
    assert (attempt.status, attempt.delivered, attempt.retryable) == (reply.status, delivered, retryable)
    assert attempt.retry_after_s == retry_after_s
    assert attempt.response == reply.body.decode()
    assert attempt.error == (None if delivered else f"HTTP {reply.status}")


def test_retry_after_as_http_date() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    when = format_datetime(now + timedelta(seconds=90), usegmt=True)
    with Receiver(default=Reply(503, headers={"Retry-After": when})) as server:
        attempt = post(endpoint(server.url), make_test_event(now), now)
    assert attempt.retryable and attempt.retry_after_s == 90.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        (" 5 ", 5.0),
        ("Wed, 01 May 2024 12:01:00 GMT", 60.0),
        ("Wed, 01 May 2024 11:00:00 GMT", 0.0),
        ("-3", None),
        ("tomorrow", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, datetime(2024, 5, 1, 12, 0, tzinfo=UTC)) == expected


def test_redirect_is_final_and_says_where() -> None:
    with Receiver(default=Reply(308, headers={"Location": "https://example.org/new"})) as server:
        attempt = post(endpoint(server.url), make_test_event(datetime.now(UTC)))
    assert (attempt.status, attempt.retryable) == (308, False)
    assert attempt.error is not None and "https://example.org/new" in attempt.error


def test_response_is_cut_to_2_kb() -> None:
    with Receiver(default=Reply(500, body=b"x" * 100_000)) as server:
        attempt = post(endpoint(server.url), make_test_event(datetime.now(UTC)))
    assert attempt.response == "x" * RESPONSE_MAX_BYTES


def test_hanging_receiver_times_out_and_is_retryable() -> None:
    with Receiver(default=Reply(hang=True)) as server:
        attempt = post(endpoint(server.url, timeout="300ms"), make_test_event(datetime.now(UTC)))
        assert len(server.wait_for(1)) == 1
    assert attempt == Attempt(None, False, True, None, "timed out after 0.3s", "")


def test_slow_trickle_is_cut_at_the_endpoint_timeout() -> None:
    with Receiver(default=Reply(200, delay_s=1.0)) as server:
        attempt = post(endpoint(server.url, timeout="200ms"), make_test_event(datetime.now(UTC)))
        server.wait_for(1)
    assert attempt.retryable and attempt.error == "timed out after 0.2s"


def test_refused_connection_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    attempt = post(endpoint(f"http://127.0.0.1:{port}/"), make_test_event(datetime.now(UTC)))
    assert (attempt.status, attempt.delivered, attempt.retryable) == (None, False, True)
    assert attempt.error is not None and attempt.error.startswith("ConnectError")
    assert attempt.outcome == attempt.error
