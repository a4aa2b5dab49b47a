"""From a change on the ministry site to a verified webhook: the real CLI, a real receiver, a real SIGKILL."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Ministry, RunCli, write_config
from receiver import Receiver, Reply, Request
from sitekit import EN_ARTICLES, EN_DIR, EN_LIST, en_listing
from standardwebhooks.webhooks import Webhook

SECRET = "whsec_" + base64.b64encode(b"ministry-monitor-test-secret-32b").decode()
DOCS = list(EN_ARTICLES)


def _list(ministry: Ministry, docs: list[str]) -> None:
    entries = [(f"./{doc}.shtml", doc) for doc in docs]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries))


def _config(ministry: Ministry, tmp_path: Path, receiver: Receiver) -> Path:
    webhook = f"""
[[webhooks]]
id = "newsroom"
url = "{receiver.url}"
secret = "${{TEST_WEBHOOK_SECRET}}"
events = ["article.published", "article.updated", "article.removed"]
timeout = "10s"
"""
    return write_config(tmp_path, ministry.base, extra=webhook)


def _verified(requests: list[Request]) -> list[dict[str, Any]]:
    verifier = Webhook(SECRET)
    return [verifier.verify(r.body, r.headers) for r in requests]


def test_new_articles_reach_the_webhook_signed_and_byte_identical(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    with Receiver() as receiver:
        config = _config(ministry, tmp_path, receiver)
        _list(ministry, DOCS[:2])
        run_cli("check", "--config", str(config), "--source", "mfa-en-press")
        _list(ministry, DOCS)

        code, out, err = run_cli("check", "--config", str(config), "--source", "mfa-en-press")

        assert code == 0, err
        requests = receiver.requests
    _, events_out, _ = run_cli("events", "--config", str(config))
    stored = [line.encode() for line in events_out.splitlines()]
    # Byte for byte; order is promised per article only, and these are three articles delivered in parallel.
    assert sorted(r.body for r in requests) == sorted(stored), "the webhook body is the stored event, byte for byte"
    assert sorted(p["data"]["article"]["doc_id"] for p in _verified(requests)) == sorted(DOCS[2:])
    assert {r.headers["webhook-id"] for r in requests} == {json.loads(b)["id"] for b in stored}
    assert all(r.headers["user-agent"].startswith("ministry-monitor/") for r in requests)
    assert SECRET not in out + err


def test_sigkill_in_the_middle_of_a_delivery_run_loses_nothing(
    ministry: Ministry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    env = {**os.environ, "TEST_WEBHOOK_SECRET": SECRET}
    with Receiver(default=Reply(hang=True)) as down:
        config = _config(ministry, tmp_path, down)
        _list(ministry, DOCS[:2])
        _run(config, env)
        _list(ministry, DOCS)
        process = subprocess.Popen(_check_command(config), cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        try:
            down.wait_for(1, timeout_s=30)  # the first delivery is in flight, the receiver hangs
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL

    with Receiver() as up:
        config.write_text(config.read_text().replace(down.url, up.url))
        _run(config, env)
        received = up.requests

    payloads = _verified(received)
    assert sorted(p["data"]["article"]["doc_id"] for p in payloads) == sorted(DOCS[2:])
    assert len({r.headers["webhook-id"] for r in received}) == len(received) == 3


def _check_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "monitor", "check", "--config", str(config), "--source", "mfa-en-press"]


def _run(config: Path, env: dict[str, str]) -> None:
    started = time.monotonic()
    result = subprocess.run(_check_command(config), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60
