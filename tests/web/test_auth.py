"""Who may read the web view: loopback by default, a token elsewhere (bearer, Basic, `?token=` on feeds)."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, Ministry, RunCli
from webkit import Newsroom, served

from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.web.auth import is_loopback, presented_tokens

TOKEN = "t" * 32
TOKEN_SETTING = {"http_token": '"${MONITOR_HTTP_TOKEN}"'}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("::", False), ("192.168.1.4", False), ("example.org", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def _basic(password: str, user: str = "reader") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("headers", "query", "path", "offered"),
    [
        ({"authorization": "Bearer abc"}, "", "/", ["abc"]),
        ({"authorization": _basic("abc")}, "", "/", ["abc"]),
        ({"authorization": "Basic !!notbase64"}, "", "/", []),
        ({}, "token=abc", "/feeds/all.atom", ["abc"]),
        ({}, "token=abc", "/sources/x", []),  # only feed readers, which cannot send headers, use the URL
        ({}, "", "/", []),
    ],
)
def test_presented_tokens(headers: dict[str, str], query: str, path: str, offered: list[str]) -> None:
    assert presented_tokens(headers, query, path) == offered


@pytest.fixture
def guarded(ministry: Ministry, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Newsroom:
    monkeypatch.setenv("MONITOR_HTTP_TOKEN", TOKEN)
    room = Newsroom(ministry, tmp_path, run_cli, monitor=TOKEN_SETTING)
    room.baseline()
    return room


def test_with_a_token_every_page_and_feed_asks_for_it(guarded: Newsroom) -> None:
    with served(guarded.config) as web:
        for path in ("/", "/sources/mfa-en-press", "/search?q=x", "/events", "/feeds/all.atom", "/metrics"):
            response = web.get(path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"].startswith("Basic realm=")
        assert web.get("/", headers={"Authorization": "Bearer wrong-token-of-some-length"}).status_code == 401
        assert web.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert web.get("/", headers={"Authorization": _basic(TOKEN)}).status_code == 200
        assert web.get("/feeds/all.atom", params={"token": TOKEN}).status_code == 200
        assert web.get("/feeds/all.json", params={"token": "nope"}).status_code == 401
        assert web.get("/", params={"token": TOKEN}).status_code == 401
        assert web.get("/healthz").status_code == 200 and web.get("/readyz").status_code == 200


def test_feed_documents_do_not_repeat_the_token(guarded: Newsroom) -> None:
    with served(guarded.config) as web:
        document = web.get("/feeds/all.json", params={"token": TOKEN, "limit": "5"}).json()
    assert TOKEN not in document["feed_url"] and "limit=5" in document["feed_url"]


@pytest.mark.parametrize("command", ["web", "run"])
def test_a_non_loopback_address_without_a_token_refuses_to_start(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, command: str
) -> None:
    room = Newsroom(ministry, tmp_path, run_cli)
    code, out, err = run_cli(command, "--config", str(room.config_path), "--http", "0.0.0.0:0")
    assert code == 2 and out == ""
    assert "monitor.http_token" in err and "0.0.0.0" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("value", "environ", "message"),
    [
        ('"plain-text-token-in-the-file"', {}, "must come from the environment"),
        ('"${MONITOR_HTTP_TOKEN}"', {}, "environment variable MONITOR_HTTP_TOKEN is not set"),
        ('"${MONITOR_HTTP_TOKEN}"', {"MONITOR_HTTP_TOKEN": "short"}, "at least 16 characters"),
    ],
)
def test_http_token_mistakes_are_config_errors(
    tmp_path: Path, value: str, environ: dict[str, str], message: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[monitor]\nhttp_token = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ=environ)
    token = load_config(path, environ={"MONITOR_HTTP_TOKEN": TOKEN}) if "${" in value else None
    assert token is None or repr(token.http_token) == "Secret('**********')"


def test_monitor_web_runs_as_a_real_process_and_stops_on_sigterm(guarded: Newsroom) -> None:
    command = [sys.executable, "-m", "monitor", "web", "--config", str(guarded.config_path), "--http", "127.0.0.1:0"]
    env = {**os.environ, "MONITOR_HTTP_TOKEN": TOKEN}
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None and process.stderr is not None
            line = process.stdout.readline()
            assert line.startswith("web view of sqlite:///"), line + process.stderr.read()
            base = line.split(" on ")[1].split()[0].rstrip("/")
            with httpx.Client(base_url=base, timeout=30) as web:
                assert web.get("/healthz").text == "ok\n"
                page = web.get("/sources/mfa-en-press", headers={"Authorization": f"Bearer {TOKEN}"})
                assert page.status_code == 200 and "t1793427" in page.text
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
