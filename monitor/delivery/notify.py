"""Apprise notifications (mail, Telegram, Matrix, Teams, a JSON endpoint, …): one message per event, from the outbox.

Apprise is synchronous: each send runs in a thread, bounded by the notification's timeout. Apprise is imported only
here (and only when a config has [[notifications]]), like httpx in webhooks.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from types import ModuleType
from typing import Any

from monitor.config import Config, Endpoint
from monitor.delivery.webhooks import Attempt
from monitor.errors import ConfigError

__all__ = ["Message", "check_notifications", "event_message", "send_notification", "test_message"]

MAX_RUNS = 6
MAX_RUN_CHARS = 200
_HEADLINES = {
    "article.published": "New",
    "article.updated": "Edited",
    "article.removed": "Removed",
    "article.restored": "Back online",
    "source.failing": "Source failing",
    "source.recovered": "Source recovered",
    "test": "Test",
}


@dataclass(frozen=True, slots=True)
class Message:
    """A notification: a one-line title and a plain-text body."""

    title: str
    body: str


def _clip(text: str, limit: int = MAX_RUN_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _change_lines(changes: dict[str, Any]) -> list[str]:
    """Return the short diff: per changed field, the runs deleted (−) and inserted (+), a few of each."""
    lines = []
    for field in ("title", "published", "text"):
        change = changes.get(field)
        if not change:
            continue
        lines.append(f"Changed {field}:")
        lines += [f"  − {_clip(run)}" for run in change.get("removed", [])[:MAX_RUNS]]
        lines += [f"  + {_clip(run)}" for run in change.get("added", [])[:MAX_RUNS]]
        hidden = max(0, len(change.get("removed", [])) - MAX_RUNS) + max(0, len(change.get("added", [])) - MAX_RUNS)
        if hidden:
            lines.append(f"  (and {hidden} more changes)")
    return lines


def event_message(body: bytes) -> Message:
    """Return the message for a stored event (its JSON body): title, source, link, date, and for an edit the diff."""
    payload = json.loads(body)
    kind = payload.get("type", "")
    data = payload.get("data") or {}
    article = data.get("article") or {}
    source = data.get("source") or {}
    source_name = source.get("name") or source.get("id") or ""
    headline = _HEADLINES.get(kind, kind)
    if kind == "test":
        return Message("ministry-monitor: test", data.get("message", "test"))
    if not article:
        reason = data.get("reason")
        lines = [f"{headline}: {source_name}", f"Source: {source.get('url', '')}"] + (
            [f"Reason: {reason}"] if reason else []
        )
        return Message(f"[{headline}] {source_name}", "\n".join(lines + [f"Detected: {payload.get('timestamp', '')}"]))
    lines = [
        article.get("title", ""),
        f"Source: {source_name}",
        f"Link: {article.get('url', '')}",
        f"Published: {article.get('published') or 'no date on the page'}",
        f"Detected: {payload.get('timestamp', '')}",
    ]
    lines += _change_lines(data.get("changes") or {})
    return Message(_clip(f"[{headline}] {article.get('title', '')}", 250), "\n".join(lines))


def test_message(now: datetime) -> Message:
    """Return the message `monitor notify-test` sends."""
    return Message(
        "ministry-monitor: test notification",
        f"If you can read this, ministry-monitor can notify you here. Sent {now.isoformat(timespec='seconds')}.",
    )


@cache
def _apprise() -> ModuleType:
    """Import Apprise and load its plugins once (the first notification or config check pays for it)."""
    with warnings.catch_warnings():
        # Apprise's e-mail plugin imports the standard library's imghdr, deprecated since 3.11; not ours to report.
        warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
        import apprise
        from apprise.manager_plugins import NotificationManager

        NotificationManager().load_modules()  # type: ignore[no-untyped-call]
    return apprise


def _notify(endpoint: Endpoint, message: Message) -> tuple[bool, str | None]:
    apprise = _apprise()
    sender = apprise.Apprise()
    for url in endpoint.apprise_urls:
        if not sender.add(url.reveal()):
            return False, "an Apprise URL is not valid"
    result = sender.notify(body=message.body, title=message.title, body_format=apprise.NotifyFormat.TEXT)
    if result:
        return True, None
    return False, f"apprise: {result.failed_count} of {len(endpoint.apprise_urls)} services failed"


async def send_notification(endpoint: Endpoint, message: Message) -> Attempt:
    """Send the message to every URL of the notification within its timeout; return how it went; never raises.

    A failure is worth retrying (the services are remote); a retry sends to all the notification's URLs again.
    """
    seconds = endpoint.timeout.total_seconds()
    try:
        async with asyncio.timeout(seconds):
            delivered, error = await asyncio.to_thread(_notify, endpoint, message)
    except TimeoutError:
        return Attempt(None, False, True, None, f"timed out after {seconds:g}s", "")
    return Attempt(None, delivered, not delivered, None, error, "")


def check_notifications(config: Config) -> None:
    """Raise ConfigError naming the notification and key of the first URL Apprise cannot use."""
    if not config.notifications:
        return
    apprise = _apprise()
    for endpoint in config.notifications:
        for index, url in enumerate(endpoint.apprise_urls):
            if _instantiate(apprise, url.reveal()) is None:
                scheme = url.reveal().partition("://")[0] or "?"
                raise ConfigError(
                    f"not a valid Apprise URL (scheme {scheme!r}; see https://github.com/caronc/apprise/wiki)",
                    path=config.path,
                    source_id=f"notification {endpoint.id}",
                    key=f"urls[{index}]",
                )


def _instantiate(apprise: ModuleType, url: str) -> object | None:
    """Return Apprise's plugin for `url`, or None; Apprise's own log line (which quotes the URL, secrets and all) is
    kept quiet: the caller reports the mistake without the URL."""
    log = logging.getLogger("apprise")
    disabled, log.disabled = log.disabled, True
    try:
        plugin: object | None = apprise.Apprise.instantiate(url)
        return plugin
    finally:
        log.disabled = disabled
