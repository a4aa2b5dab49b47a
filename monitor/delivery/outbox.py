"""Deliver the outbox: take due deliveries from the store, send them (webhook POST or Apprise notification), record
every outcome in the store.

One task per webhook or notification, so a dead receiver never holds up another; one order key's events go
strictly in order.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt, wait_exponential_jitter
from tenacity.stop import stop_base

from monitor.config import NOTIFICATION_FORMAT, Config, Endpoint
from monitor.delivery.notify import event_message, send_notification
from monitor.delivery.webhooks import Attempt, send
from storage import DeliveryRecord, EventRecord, StorageError, Store

if TYPE_CHECKING:  # the client is only passed through to webhooks.send; httpx stays at the edges
    import httpx

__all__ = ["DEFAULT_RETRY_POLICY", "Outbox", "OutboxStats", "RetryPolicy", "deferral_count"]

logger = logging.getLogger(__name__)

DUE_BATCH = 500
LEASE_MARGIN_S = 60.0  # beyond the longest a run can spend on one delivery (its quick tries and their waits)
DEFAULT_KEY_CONCURRENCY = 4
MIN_PAUSE_S = 0.01
UNCONFIGURED = "webhook no longer configured"
EXPIRED = "max age exceeded"
CUT_OFF = Attempt(None, False, True, None, "cut off by the delivery run's time limit", "")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: a few quick retries inside one run, then a persisted exponential backoff with jitter."""

    quick_retries: int = 2
    quick_initial_s: float = 0.2
    quick_max_s: float = 2.0
    quick_retry_after_max_s: float = 5.0
    backoff_base_s: float = 5.0
    backoff_cap_s: float = 3600.0

    def backoff_s(self, attempts: int, retry_after_s: float | None) -> float:
        """Return the wait before the next run: base · 2^(attempts-1) capped, half of it jittered, ≥ Retry-After."""
        delay = min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** min(max(attempts - 1, 0), 32))
        return max(delay / 2 + random.uniform(0, delay / 2), retry_after_s or 0.0)


DEFAULT_RETRY_POLICY = RetryPolicy()


@dataclass(slots=True)
class OutboxStats:
    """What one run did: deliveries delivered, put back for a later retry, and dead-lettered ('failed')."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(slots=True)
class _Run:
    deadline: float | None
    stop: asyncio.Event | None
    poll_s: float
    stats: OutboxStats = field(default_factory=OutboxStats)

    def over(self) -> bool:
        if self.stop is not None and self.stop.is_set():
            return True
        return self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline


class _OutOfTime(stop_base):
    """Stop quick retries when the run is stopping or the next try would start after its deadline."""

    def __init__(self, run: _Run) -> None:
        self._run = run

    def __call__(self, retry_state: RetryCallState) -> bool:
        if self._run.stop is not None and self._run.stop.is_set():
            return True
        deadline = self._run.deadline
        return deadline is not None and asyncio.get_running_loop().time() + retry_state.upcoming_sleep >= deadline


class Outbox:
    """Sends pending deliveries from the store to the configured webhooks; the clock is injected."""

    def __init__(
        self,
        config: Config,
        store: Store,
        client: httpx.AsyncClient,
        clock: Callable[[], datetime],
        *,
        policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        key_concurrency: int = DEFAULT_KEY_CONCURRENCY,
    ) -> None:
        self._config = config
        self._store = store
        self._client = client
        self._clock = clock
        self._policy = policy
        self._key_concurrency = key_concurrency
        self._quick_wait = wait_exponential_jitter(
            multiplier=policy.quick_initial_s, max=policy.quick_max_s, jitter=policy.quick_initial_s
        )
        self._wakers: set[asyncio.Event] = set()
        # Who claims rows (storage/lease.py): check, redeliver and the service may share one outbox.
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def wake(self) -> None:
        """Make `run_forever` look for due deliveries now rather than at its next periodic look (events were stored)."""
        for waker in self._wakers:
            waker.set()

    async def run_until_idle(self, timeout_s: float) -> OutboxStats:
        """Deliver everything due, waiting for short retries, until nothing is due before `timeout_s` has passed.

        Returns the counts; whatever is left stays pending in the store. Raises StorageError if the store fails.
        """
        run = _Run(asyncio.get_running_loop().time() + timeout_s, None, 0.0)
        self._fail_unconfigured(run.stats)
        await _run_all(self._serve_until_idle(endpoint, run) for endpoint in self._config.channels)
        return run.stats

    async def run_forever(self, stop: asyncio.Event, poll_s: float = 1.0) -> OutboxStats:
        """Deliver deliveries as they fall due, looking at least every `poll_s`, until `stop` is set; return counts.

        `wake()` makes it look at once (the daemon calls it when a poll has stored events). A store error is logged
        and retried after `poll_s`; cancelling the task abandons sends in flight (they stay pending and go again
        later with the same webhook-id).
        """
        run = _Run(None, stop, poll_s)
        self._fail_unconfigured(run.stats)
        await _run_all(self._serve_forever(endpoint, run) for endpoint in self._config.channels)
        return run.stats

    async def _serve_until_idle(self, endpoint: Endpoint, run: _Run) -> None:
        while (pause_s := await self._cycle(endpoint, run)) is not None:
            await asyncio.sleep(pause_s)

    async def _serve_forever(self, endpoint: Endpoint, run: _Run) -> None:
        waker = asyncio.Event()
        self._wakers.add(waker)
        try:
            while not run.over():
                # Cleared before the store is asked: a wake during the cycle makes the pause below end at once.
                waker.clear()
                try:
                    pause_s = await self._cycle(endpoint, run)
                except StorageError as exc:
                    # A busy or briefly unreachable database must not end the daemon's delivery loop.
                    logger.warning(
                        "webhook %s: outbox store error, retrying in %.1fs: %s", endpoint.id, run.poll_s, exc
                    )
                    pause_s = run.poll_s
                await _pause(run, run.poll_s if pause_s is None else pause_s, waker)
        finally:
            self._wakers.discard(waker)

    async def _cycle(self, endpoint: Endpoint, run: _Run) -> float | None:
        """Deliver what is due for one webhook; return the seconds to wait before the next cycle, or None: done."""
        self._release_dead_claims()
        self._expire(endpoint, run.stats)
        busy: set[str] = set()
        await _run_all(self._work(endpoint, run, busy) for _ in range(self._key_concurrency))
        if run.over():
            return None
        next_due = self._next_due(endpoint)
        if run.deadline is None:
            wait_s = run.poll_s if next_due is None else (next_due - self._clock()).total_seconds()
            return min(max(wait_s, MIN_PAUSE_S), run.poll_s)
        if next_due is None:
            return None
        wait_s = max((next_due - self._clock()).total_seconds(), MIN_PAUSE_S)
        return None if asyncio.get_running_loop().time() + wait_s >= run.deadline else wait_s

    async def _work(self, endpoint: Endpoint, run: _Run, busy: set[str]) -> None:
        """Take one due queue head at a time (never two of one order key), deliver it, then ask the store again."""
        while not run.over():
            delivery = self._next_head(endpoint, busy)
            if delivery is None:
                return
            busy.add(delivery.order_key)
            try:
                await self._deliver(endpoint, delivery, run)
            finally:
                busy.discard(delivery.order_key)

    def _next_head(self, endpoint: Endpoint, busy: set[str]) -> DeliveryRecord | None:
        """Return the first due queue head not in `busy` that this outbox could claim (no other process has it)."""
        now = self._clock()
        until = now + self._lease(endpoint)
        for delivery in self._store.due_deliveries(now, DUE_BATCH, endpoint.id):
            if delivery.order_key not in busy and self._store.claim_delivery(delivery.id, self._owner, now, until):
                return delivery
        return None

    def _expire(self, endpoint: Endpoint, stats: OutboxStats) -> None:
        """Dead-letter deliveries past the webhook's max_age on schedule, not only when their next attempt comes."""
        now = self._clock()
        expired = self._store.expire_deliveries(endpoint.id, now - endpoint.max_age, now, EXPIRED)
        if expired:
            stats.failed += expired
            logger.warning("webhook %s: %d deliveries dead-lettered: %s", endpoint.id, expired, EXPIRED)

    def _release_dead_claims(self) -> None:
        """Free the rows claimed by processes of this host that are gone (killed mid-send), without their lease."""
        host = socket.gethostname()
        for owner in self._store.lease_holders():
            owner_host, _sep, rest = owner.partition(":")
            pid = rest.partition(":")[0]
            if owner_host == host and pid.isdigit() and not _alive(int(pid)):
                released = self._store.release_leases(owner)
                logger.info("outbox: released %d deliveries claimed by %s, which is gone", released, owner)

    def _lease(self, endpoint: Endpoint) -> timedelta:
        tries = self._policy.quick_retries + 1
        waits_s = self._policy.quick_retries * max(self._policy.quick_max_s, self._policy.quick_retry_after_max_s)
        return timedelta(seconds=tries * endpoint.timeout.total_seconds() + waits_s + LEASE_MARGIN_S)

    def _next_due(self, endpoint: Endpoint) -> datetime | None:
        return self._store.next_due(endpoint.id)

    async def _deliver(self, endpoint: Endpoint, delivery: DeliveryRecord, run: _Run) -> None:
        if self._clock() - delivery.created_at > endpoint.max_age:
            self._dead_letter(delivery, EXPIRED, run.stats)
            return
        event = self._store.event(delivery.event_id)
        if event is None:
            self._dead_letter(delivery, "event not found in the store", run.stats)
            return
        tries = 0

        async def attempt_once() -> Attempt:
            nonlocal tries
            tries += 1
            return await self._attempt(endpoint, event, run)

        attempt: Attempt = await self._retrying(run)(attempt_once)
        self._record(delivery, attempt, tries, run.stats)

    def _retrying(self, run: _Run) -> AsyncRetrying:
        """Return the quick in-run retry loop: retryable answers only, Retry-After honoured when it is short."""

        def worth_retrying(attempt: Attempt) -> bool:
            short = attempt.retry_after_s is None or attempt.retry_after_s <= self._policy.quick_retry_after_max_s
            return attempt.retryable and short

        return AsyncRetrying(
            retry=retry_if_result(worth_retrying),
            stop=stop_after_attempt(self._policy.quick_retries + 1) | _OutOfTime(run),
            wait=self._wait,
            retry_error_callback=_last_attempt,
        )

    def _wait(self, state: RetryCallState) -> float:
        base: float = self._quick_wait(state)
        attempt = _last_attempt(state)
        return max(base, attempt.retry_after_s or 0.0)

    async def _attempt(self, endpoint: Endpoint, event: EventRecord, run: _Run) -> Attempt:
        started = time.perf_counter()
        try:
            async with asyncio.timeout_at(run.deadline):
                attempt = await self._send(endpoint, event)
        except TimeoutError:
            attempt = CUT_OFF
        level = logging.INFO if attempt.delivered else logging.WARNING
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.log(level, "webhook %s %s %s %.0fms", endpoint.id, event.id, attempt.outcome, elapsed_ms)
        return attempt

    async def _send(self, endpoint: Endpoint, event: EventRecord) -> Attempt:
        if endpoint.format == NOTIFICATION_FORMAT:
            return await send_notification(endpoint, event_message(event.body))
        return await send(self._client, endpoint, event.id, event.body, self._clock())

    def _record(self, delivery: DeliveryRecord, attempt: Attempt, tries: int, stats: OutboxStats) -> None:
        now = self._clock()
        delivery.attempts += tries
        delivery.last_status, delivery.last_error = attempt.status, attempt.error
        delivery.last_response = attempt.response or None
        if attempt.delivered:
            delivery.state, delivery.delivered_at = "delivered", now
            stats.delivered += 1
        elif attempt.retryable:
            # The exponent counts deferrals since the first attempt (measured by time), not the quick retries.
            deferrals = deferral_count((now - delivery.created_at).total_seconds(), self._policy.backoff_base_s)
            wait_s = self._policy.backoff_s(deferrals, attempt.retry_after_s)
            delivery.next_attempt_at = now + timedelta(seconds=wait_s)
            stats.retried += 1
        else:
            delivery.state = "failed"
            stats.failed += 1
            logger.warning("webhook %s %s dead-lettered: %s", delivery.webhook_id, delivery.event_id, attempt.error)
        self._store.save_delivery(delivery)

    def _dead_letter(self, delivery: DeliveryRecord, reason: str, stats: OutboxStats) -> None:
        delivery.state, delivery.last_error = "failed", reason
        self._store.save_delivery(delivery)
        stats.failed += 1
        logger.warning("webhook %s %s dead-lettered: %s", delivery.webhook_id, delivery.event_id, reason)

    def _fail_unconfigured(self, stats: OutboxStats) -> None:
        known = {endpoint.id for endpoint in self._config.channels}
        for delivery in self._store.deliveries(state="pending"):
            if delivery.webhook_id not in known:
                self._dead_letter(delivery, UNCONFIGURED, stats)


def deferral_count(elapsed_s: float, base_s: float) -> int:
    """Return which deferral this is, from the time since the first attempt: 1 until `base_s`, 2 until twice it, ...

    Backing off base · 2^(n-1) for the n-th deferral keeps each wait about as long as the time already waited, so
    a receiver back after an outage of T seconds is tried again within about T more.
    """
    if base_s <= 0 or elapsed_s <= base_s:
        return 1
    return 1 + int(math.log2(elapsed_s / base_s))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _last_attempt(state: RetryCallState) -> Attempt:
    attempt: Attempt = state.outcome.result() if state.outcome is not None else CUT_OFF
    return attempt


async def _pause(run: _Run, seconds: float, waker: asyncio.Event | None = None) -> None:
    """Sleep `seconds`, or less if the run is stopped or `waker` is set."""
    events = [event for event in (run.stop, waker) if event is not None]
    if not events:
        await asyncio.sleep(seconds)
        return
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


async def _run_all(jobs: Iterable[Awaitable[None]]) -> None:
    """Run the jobs concurrently; if one raises, cancel the rest and re-raise that error (not an ExceptionGroup)."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
