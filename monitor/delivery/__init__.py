"""Delivery of stored events: the durable outbox, the webhook sender and Apprise notifications."""

from __future__ import annotations

from monitor.delivery.notify import Message, check_notifications, event_message, send_notification, test_message
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
    "Message",
    "Outbox",
    "OutboxStats",
    "RESPONSE_MAX_BYTES",
    "RetryPolicy",
    "USER_AGENT",
    "chat_body",
    "chat_text",
    "check_notifications",
    "classify",
    "event_message",
    "parse_retry_after",
    "secret_key",
    "send",
    "send_notification",
    "sign",
    "test_message",
]
