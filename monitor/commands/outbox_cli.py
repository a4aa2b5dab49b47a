"""The outbox on the command line: `deliveries` lists it, `redeliver` re-sends, `webhook-test` and `notify-test`
ping one webhook or notification."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from dataclasses import dataclass

from monitor.app import open_app, utc_now
from monitor.commands._common import (
    Command,
    add_config_argument,
    check_webhook_id,
    fmt_time,
    load,
    opened_store,
    write_records,
)
from monitor.config import Config, Endpoint
from monitor.delivery import Attempt, Outbox, send, send_notification, test_message
from monitor.events import test_event
from monitor.redact import printable
from storage import DeliveryRecord

__all__ = ["COMMANDS", "DELIVERY_FIELDS"]

DELIVERY_FIELDS = [
    "id",
    "event_id",
    "webhook_id",
    "order_key",
    "state",
    "attempts",
    "last_status",
    "next_attempt_at",
    "last_error",
    "last_response",
    "created_at",
    "delivered_at",
]
TABLE_HEADER = ["ID", "EVENT", "WEBHOOK", "STATE", "ATTEMPTS", "STATUS", "NEXT ATTEMPT", "LAST ERROR"]
ERROR_WIDTH = 60
STATES = ["pending", "failed", "delivered"]


def _deliveries_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--state", choices=STATES, help="only deliveries in this state")
    parser.add_argument("--webhook", metavar="ID", help="only deliveries to this webhook or notification")
    parser.add_argument("--json", action="store_true", help="write JSON lines instead of a table")


def _deliveries(args: argparse.Namespace) -> int:
    config = load(args.config, secrets=False)
    with opened_store(config) as store:
        check_webhook_id(config, store, args.webhook)
        records = store.deliveries(state=args.state, webhook_id=args.webhook)
    if args.json:
        write_records([_as_dict(record) for record in records], "jsonl", DELIVERY_FIELDS)
        return 0
    for line in _table([TABLE_HEADER, *(_row(record) for record in records)]):
        print(printable(line))  # last errors quote the receivers' answers
    return 0


def _as_dict(record: DeliveryRecord) -> dict[str, object]:
    times = {"created_at", "next_attempt_at", "delivered_at"}
    return {
        name: fmt_time(getattr(record, name)) if name in times else getattr(record, name) for name in DELIVERY_FIELDS
    }


def _row(record: DeliveryRecord) -> list[str]:
    error = " ".join((record.last_error or "").split())
    return [
        str(record.id),
        record.event_id,
        record.webhook_id,
        record.state,
        str(record.attempts),
        "-" if record.last_status is None else str(record.last_status),
        (fmt_time(record.next_attempt_at) or "-") if record.state == "pending" else "-",
        error if len(error) <= ERROR_WIDTH else error[: ERROR_WIDTH - 1] + "…",
    ]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def _redeliver_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("event_ids", nargs="*", metavar="EVENT_ID", help="re-send these events")
    parser.add_argument("--failed", action="store_true", help="re-send every dead-lettered ('failed') delivery")
    parser.add_argument("--webhook", metavar="ID", help="only deliveries to this webhook")


@dataclass(slots=True)
class _Redelivery:
    requeued: int = 0
    delivered: int = 0
    pending: int = 0
    failed: int = 0


def _redeliver(args: argparse.Namespace) -> int:
    config = load(args.config)
    if not args.event_ids and not args.failed:
        print("monitor redeliver: give EVENT_ID ... or --failed", file=sys.stderr)
        return 2
    if args.webhook is not None:
        config.channel(args.webhook)  # an unknown id is a ConfigError, not a silent "re-queued 0"
    result, unknown = asyncio.run(_requeue_and_deliver(config, args.event_ids, args.failed, args.webhook))
    for event_id in unknown:
        print(f"monitor: no such event {event_id}", file=sys.stderr)
    print(
        f"re-queued {result.requeued} deliveries: {result.delivered} delivered, "
        f"{result.pending} pending (will retry), {result.failed} failed"
    )
    return 0 if not unknown and result.delivered == result.requeued else 1


async def _requeue_and_deliver(
    config: Config, event_ids: list[str], failed: bool, webhook_id: str | None
) -> tuple[_Redelivery, list[str]]:
    """Re-queue the matching deliveries, run the outbox within the check bound, and say how each one ended."""
    async with open_app(config) as app:
        store = app.store
        unknown = [event_id for event_id in event_ids if store.event(event_id) is None]
        targets = {
            record.id
            for record in store.deliveries(state="failed" if failed else None, webhook_id=webhook_id)
            if not event_ids or record.event_id in event_ids
        }
        requeued = store.requeue(event_ids=event_ids or None, failed=failed, webhook_id=webhook_id, now=app.clock())
        await Outbox(config, store, app.client, app.clock).run_until_idle(config.check_delivery_timeout.total_seconds())
        states = Counter(record.state for record in store.deliveries(webhook_id=webhook_id) if record.id in targets)
    result = _Redelivery(requeued, states["delivered"], states["pending"], states["failed"])
    return result, unknown


def _webhook_test_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--webhook", metavar="ID", required=True, help="the webhook to send a test event to")


def _webhook_test(args: argparse.Namespace) -> int:
    config = load(args.config)
    endpoint = config.webhook(args.webhook)
    attempt = asyncio.run(_send_test(config, endpoint))
    line = f"{endpoint.id}: {attempt.error or f'HTTP {attempt.status}'}"
    first = attempt.response.strip().splitlines()[0] if attempt.response.strip() else ""
    print(printable(f"{line}: {first[:200]}" if first else line))
    return 0 if attempt.delivered else 1


async def _send_test(config: Config, endpoint: Endpoint) -> Attempt:
    async with open_app(config) as app:
        now = app.clock()
        event = test_event(now)
        return await send(app.client, endpoint, event.id, event.body, now)


def _notify_test_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("notification", metavar="ID", help="the [[notifications]] entry to send a test message to")


def _notify_test(args: argparse.Namespace) -> int:
    config = load(args.config)
    endpoint = config.notification(args.notification)
    attempt = asyncio.run(send_notification(endpoint, test_message(utc_now())))
    print(f"{endpoint.id}: {'sent' if attempt.delivered else attempt.error}")
    return 0 if attempt.delivered else 1


COMMANDS = {
    "deliveries": Command(_deliveries_arguments, _deliveries),
    "redeliver": Command(
        _redeliver_arguments,
        _redeliver,
    ),
    "webhook-test": Command(
        _webhook_test_arguments,
        _webhook_test,
    ),
    "notify-test": Command(_notify_test_arguments, _notify_test),
}
