"""Send one event to one webhook receiver, signed per the Standard Webhooks spec, and classify the answer.

httpx is used only here and in fetch.py; every outcome, network errors included, comes back as an `Attempt`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx

from monitor.config import Endpoint
from monitor.http import parse_retry_after

__all__ = [
    "RESPONSE_MAX_BYTES",
    "USER_AGENT",
    "Attempt",
    "chat_body",
    "chat_text",
    "classify",
    "parse_retry_after",
    "secret_key",
    "send",
    "sign",
]

try:
    _VERSION = version("ministry-monitor")
except PackageNotFoundError:  # running from a source tree that was never installed
    _VERSION = "0.0.0"

USER_AGENT = f"ministry-monitor/{_VERSION} (+webhooks)"
SECRET_PREFIX = "whsec_"
RESPONSE_MAX_BYTES = 2048
RETRY_STATUSES = frozenset({408, 429})
CHAT_LIMITS = {"slack": 4000, "discord": 2000}
MAX_SNIPPETS = 6
SNIPPET_CHARS = 160
HEADLINES = {
    "article.published": "New article",
    "article.updated": "Article updated",
    "article.removed": "Article removed",
    "article.restored": "Article restored",
    "source.failing": "Source failing",
    "source.recovered": "Source recovered",
    "source.layout_changed": "Source layout changed",
}


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one POST: delivered (2xx), worth retrying (408, 429, 5xx, network), or final (other)."""

    status: int | None
    delivered: bool
    retryable: bool
    retry_after_s: float | None
    error: str | None
    response: str

    @property
    def outcome(self) -> str:
        """Return the status code, or the error when there was no answer, for log lines and tables."""
        return str(self.status) if self.status is not None else self.error or "no answer"


def secret_key(secret: str) -> bytes:
    """Return the HMAC key of a webhook secret; raise ValueError if a `whsec_` secret is not base64.

    A `whsec_...` secret is base64 after the prefix, as the spec and the `standardwebhooks` libraries expect.
    A secret without the prefix is used as its UTF-8 bytes (receivers using a library must pass those bytes).
    """
    if not secret.startswith(SECRET_PREFIX):
        key = secret.encode("utf-8")
    else:
        text = secret[len(SECRET_PREFIX) :]
        try:
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except binascii.Error as exc:
            raise ValueError(f"webhook secret is not valid base64 after {SECRET_PREFIX!r}") from exc
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.

    Raises ValueError for an unusable secret (see `secret_key`).
    """
    digest = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


async def send(client: httpx.AsyncClient, endpoint: Endpoint, event_id: str, body: bytes, now: datetime) -> Attempt:
    """POST the event to the endpoint, within `endpoint.timeout` in all, and return how it went; never raises."""
    payload = body if endpoint.format == "standard" else chat_body(endpoint.format, event_id, body)
    timestamp = int(now.timestamp())
    headers = {
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
    }
    if endpoint.secret is not None:
        try:
            headers["webhook-signature"] = sign(endpoint.secret.reveal(), event_id, timestamp, payload)
        except ValueError as exc:
            return _failure(str(exc), retryable=False)
    seconds = endpoint.timeout.total_seconds()
    try:
        async with asyncio.timeout(seconds):
            status, response_headers, text = await _post(client, endpoint.url, payload, headers, seconds)
    except (TimeoutError, httpx.TimeoutException):
        return _failure(f"timed out after {seconds:g}s", retryable=True)
    except httpx.HTTPError as exc:
        return _failure(f"{type(exc).__name__}: {exc}", retryable=True)
    except httpx.InvalidURL as exc:
        return _failure(f"invalid URL: {exc}", retryable=False)
    return classify(status, response_headers, text, now)


async def _post(
    client: httpx.AsyncClient, url: str, payload: bytes, headers: dict[str, str], seconds: float
) -> tuple[int, httpx.Headers, str]:
    # Read only the start of the answer: a receiver's body is for diagnosis, not worth a large download.
    async with client.stream("POST", url, content=payload, headers=headers, timeout=seconds) as response:
        received = b""
        async for chunk in response.aiter_bytes():
            received += chunk
            if len(received) >= RESPONSE_MAX_BYTES:
                break
        text = received[:RESPONSE_MAX_BYTES].decode("utf-8", errors="replace")
        return response.status_code, response.headers, text


def classify(status: int, headers: httpx.Headers, response: str, now: datetime) -> Attempt:
    """Return the Attempt an HTTP answer means: 2xx delivered; 408, 429 and 5xx retryable; anything else final."""
    if 200 <= status < 300:
        return Attempt(status, True, False, None, None, response)
    if status in RETRY_STATUSES or status >= 500:
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        return Attempt(status, False, True, retry_after, f"HTTP {status}", response)
    error = f"HTTP {status}"
    if 300 <= status < 400:
        error += f" redirect to {headers.get('location', '?')}; webhooks are not redirected, update the URL"
    return Attempt(status, False, False, None, error, response)


def _failure(error: str, *, retryable: bool) -> Attempt:
    return Attempt(None, False, retryable, None, error, "")


def chat_body(fmt: str, event_id: str, body: bytes) -> bytes:
    """Return the Slack (`{"text"}`) or Discord (`{"content"}`) message body for an event's JSON bytes."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    text = chat_text(payload) if isinstance(payload, dict) else f"ministry-monitor event {event_id}"
    limit = CHAT_LIMITS.get(fmt, CHAT_LIMITS["discord"])
    if fmt == "slack":
        # Slack reads <, > and & as markup; these three are the only characters it asks to escape.
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        message: dict[str, Any] = {"text": _clip(text, limit)}
    else:
        # Article text may contain "@everyone"; a monitor must never ping a whole server.
        message = {"content": _clip(text, limit), "allowed_mentions": {"parse": []}}
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def chat_text(payload: dict[str, Any]) -> str:
    """Return a short human summary of an event, e.g. `Article updated — MFA (China): <title> <url>`, plus changes."""
    kind = _field(payload, "type")
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    if kind == "test":
        return _field(data, "message") or "ministry-monitor webhook test"
    headline = HEADLINES.get(kind, kind or "Event")
    source = _field(data, "source", "name") or _field(data, "source", "id")
    if kind.startswith("article."):
        line = f"{headline} — {source}: {_field(data, 'article', 'title')} {_field(data, 'article', 'url')}"
        return "\n".join([line.strip(), *_change_lines(data.get("changes"))])
    failures = _field(data, "consecutive_failures")
    if kind == "source.failing":
        reason = _field(data, "reason")
        return f"{headline} — {source}: {failures} failed checks in a row" + (f" ({reason})" if reason else "")
    if kind == "source.recovered":
        return f"{headline} — {source} after {failures} failed checks"
    if kind == "source.layout_changed":
        return f"{headline} — {source}: {_field(data, 'reason')}; now read with {json.dumps(data.get('proposed'))}"
    return f"{headline} — {source}".strip(" —")


def _change_lines(changes: Any) -> list[str]:
    """Return up to MAX_SNIPPETS `+ added` / `- removed` lines, half of each kind when both are there."""
    if not isinstance(changes, dict):
        return []
    runs: dict[str, list[str]] = {"+": [], "-": []}
    for name, change in changes.items():
        label = "" if name == "text" else f"({name}) "
        for mark, key in (("+", "added"), ("-", "removed")):
            found = change.get(key) if isinstance(change, dict) else None
            for run in found if isinstance(found, list) else []:
                runs[mark].append(f"{mark} {label}{_clip(' '.join(str(run).split()), SNIPPET_CHARS)}")
    added_n = max(MAX_SNIPPETS // 2, MAX_SNIPPETS - len(runs["-"]))
    added = runs["+"][:added_n]
    return added + runs["-"][: MAX_SNIPPETS - len(added)]


def _field(mapping: dict[str, Any], *keys: str) -> str:
    value: Any = mapping
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
