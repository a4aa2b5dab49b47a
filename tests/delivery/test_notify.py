"""Apprise notifications: the message of each event, the config, and real deliveries to a local SMTP server and a
local `json://` endpoint through the same outbox as webhooks."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as email_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from conftest import Ministry, RunCli
from receiver import Receiver, Reply
from webkit import TITLE_C, A, Newsroom

from monitor.config import load_config
from monitor.delivery import event_message
from monitor.errors import ConfigError


class _Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.arrived:
            content = envelope.content or b""
            parsed = message_from_bytes(content.encode() if isinstance(content, str) else content, policy=email_policy)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
            self.arrived.notify_all()
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    with socket.socket() as probe:  # aiosmtpd checks its port by connecting to it, so it needs a real one up front
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return json.dumps({"id": "evt_1", "type": kind, "timestamp": "2026-12-01T08:00:00.000Z", "data": data}).encode()


SOURCE = {"id": "mfa-en-press", "name": "MFA press", "url": "https://www.fmprc.gov.cn/x/"}
ARTICLE = {"url": "https://www.fmprc.gov.cn/x/t1.shtml", "title": "Remarks", "published": "2020-06-30T00:00:00+08:00"}


@pytest.mark.parametrize(
    ("kind", "data", "title", "lines"),
    [
        (
            "article.published",
            {"source": SOURCE, "article": ARTICLE},
            "[New] Remarks",
            ["Remarks", "Source: MFA press", "Link: https://www.fmprc.gov.cn/x/t1.shtml",
             "Published: 2020-06-30T00:00:00+08:00", "Detected: 2026-12-01T08:00:00.000Z"],
        ),
        (
            "article.updated",
            {"source": SOURCE, "article": {**ARTICLE, "published": None},
             "changes": {"text": {"added": ["mistaken."], "removed": ["a brazen liar."], "diff": "…"}}},
            "[Edited] Remarks",
            ["Remarks", "Source: MFA press", "Link: https://www.fmprc.gov.cn/x/t1.shtml",
             "Published: no date on the page", "Detected: 2026-12-01T08:00:00.000Z", "Changed text:",
             "  − a brazen liar.", "  + mistaken."],
        ),
        (
            "source.failing",
            {"source": SOURCE, "consecutive_failures": 3, "reason": "HTTP 503"},
            "[Source failing] MFA press",
            ["Source failing: MFA press", "Source: https://www.fmprc.gov.cn/x/", "Reason: HTTP 503",
             "Detected: 2026-12-01T08:00:00.000Z"],
        ),
    ],
)  # fmt: skip
def test_event_messages(kind: str, data: dict[str, Any], title: str, lines: list[str]) -> None:
    message = event_message(_event(kind, data))
    assert message.title == title
    assert message.body.splitlines() == lines


def test_a_long_edit_is_cut_to_a_short_diff() -> None:
    runs = [f"run {n} " + "word " * 100 for n in range(10)]
    data = {"source": SOURCE, "article": ARTICLE, "changes": {"text": {"added": runs, "removed": [], "diff": ""}}}
    lines = event_message(_event("article.updated", data)).body.splitlines()
    assert len([line for line in lines if line.startswith("  + ")]) == 6
    assert all(len(line) <= 205 for line in lines) and lines[-1] == "  (and 4 more changes)"


def _notification(urls: list[str], extra: str = "") -> str:
    return f'[[notifications]]\nid = "desk"\nurls = {json.dumps(urls)}\n{extra}'


def test_notification_urls_are_secrets_and_bad_ones_fail_validate_in_one_line(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TG_TOKEN", "123456:secret-bot-token")
    good = Newsroom(ministry, tmp_path, run_cli, extra=_notification(["tgram://${TG_TOKEN}/12345"])).config_path
    code, out, err = run_cli("validate", "--config", str(good))
    assert code == 0 and "1 notifications" in out, err
    config = load_config(good)
    assert "secret-bot-token" not in repr(config) and config.notifications[0].apprise_urls[0].reveal().startswith(
        "tgram://123456"
    )

    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace("tgram://${TG_TOKEN}/12345", "nosuchservice://x"), encoding="utf-8")
    code, out, err = run_cli("validate", "--config", str(bad))
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert str(bad) in line and "notification desk" in line and "urls[0]" in line and "nosuchservice" in line


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[[notifications]]\nid = "desk"\nurls = []\n', "at least one Apprise URL"),
        ('[[notifications]]\nid = "desk"\nurls = ["json://${NOT_SET}/"]\n', "NOT_SET is not set"),
        ('[[notifications]]\nid = "desk"\nurls = ["json://x/"]\nevents = ["article.nope"]\n', "unknown event type"),
        ('[[webhooks]]\nid = "desk"\nurl = "http://127.0.0.1:9/"\n[[notifications]]\nid = "desk"\nurls = ["json://x/"]\n',
         "desk"),
    ],
)  # fmt: skip
def test_notification_config_mistakes(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(extra, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})


def test_news_is_mailed_one_message_per_event_with_the_short_diff(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, smtp: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp
    url = f"mailto://127.0.0.1:{port}?from=monitor@example.org&to=desk@example.org"
    room = Newsroom(ministry, tmp_path, run_cli, extra=_notification([url], 'sources = ["mfa-en-press"]\n'))
    room.baseline()
    assert inbox.messages == [], "a baseline announces nothing"
    room.news()

    subjects = sorted(str(message["subject"]) for message in inbox.messages)
    assert subjects == sorted([f"[New] {TITLE_C}", f"[Edited] {_title_of(room, A)}"])
    edited = next(m for m in inbox.messages if str(m["subject"]).startswith("[Edited]"))
    body = edited.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert f"Link: {room.url(A)}" in text and "  − a brazen liar." in text and "  + mistaken." in text
    code, out, _ = run_cli("deliveries", "--config", str(room.config_path), "--json")
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["webhook_id"], r["state"]) for r in records] == [("desk", "delivered")] * 2


def _title_of(room: Newsroom, doc: str) -> str:
    code, out, _ = room.run_cli("export", "--config", str(room.config_path), "--source", "mfa-en-press")
    titles = {json.loads(line)["url"]: str(json.loads(line)["title"]) for line in out.splitlines()}
    return titles[room.url(doc)]


def test_a_json_endpoint_that_fails_then_recovers_gets_each_message_once(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    with Receiver([Reply(503)]) as receiver:
        url = receiver.url.replace("http://", "json://")
        room = Newsroom(ministry, tmp_path, run_cli, extra=_notification([url], 'events = ["article.updated"]\n'))
        room.baseline()
        room.news()
        received = receiver.requests

    assert [r.method for r in received] == ["POST", "POST"], "one failure, then the retry"
    assert received[0].body == received[1].body
    message = received[1].json()
    assert message["title"].startswith("[Edited] ") and "+ mistaken." in message["message"]
    code, out, _ = run_cli("deliveries", "--config", str(room.config_path), "--json")
    [record] = [json.loads(line) for line in out.splitlines()]
    assert record["state"] == "delivered" and record["attempts"] == 2


def test_notify_test_sends_one_message_and_says_how_it_went(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    with Receiver() as receiver:
        url = receiver.url.replace("http://", "json://")
        room = Newsroom(ministry, tmp_path, run_cli, extra=_notification([url]))
        code, out, err = run_cli("notify-test", "--config", str(room.config_path), "desk")
        [request] = receiver.requests
    assert code == 0 and out.strip() == "desk: sent", err
    assert request.json()["title"] == "ministry-monitor: test notification"

    (tmp_path / "down").mkdir()
    with Receiver(default=Reply(500)) as receiver:
        url = receiver.url.replace("http://", "json://")
        room = Newsroom(ministry, tmp_path / "down", run_cli, extra=_notification([url]))
        code, out, _ = run_cli("notify-test", "--config", str(room.config_path), "desk")
    assert code == 1 and out.startswith("desk: apprise: 1 of 1 services failed")
    code, _, err = run_cli("notify-test", "--config", str(room.config_path), "nobody")
    assert code == 2 and "no such notification 'nobody'" in err
