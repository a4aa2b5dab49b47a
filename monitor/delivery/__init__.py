"""Delivery of stored events: the durable outbox and the webhook sender."""

from __future__ import annotations

from monitor.delivery.outbox import DEFAULT_RETRY_POLICY, Outbox, OutboxStats, RetryPolicy
from monitor.delivery.webhooks import (
    RESPONSE_MAX_BYTES,
    USER_AGENT,
    Attempt,
    chat_body,
    chat_text,
    classify,
    parse_retry_after,
    secret_key,
    send,
    sign,
)

__all__ = [
    "Attempt",
    "DEFAULT_RETRY_POLICY",
    "Outbox",
    "OutboxStats",
    "RESPONSE_MAX_BYTES",
    "RetryPolicy",
    "USER_AGENT",
    "chat_body",
    "chat_text",
    "classify",
    "parse_retry_after",
    "secret_key",
    "send",
    "sign",
]
