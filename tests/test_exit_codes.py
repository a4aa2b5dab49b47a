"""Exit codes of the real CLI: 0 done, 1 a source failed or the store is unusable, 2 a usage or config mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, Ministry, RunCli, write_config
from sitekit import EN_DIR, EN_LIST, en_listing

WEBHOOK = """
[[webhooks]]
id = "newsroom"
url = "http://127.0.0.1:9/hook"
secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ="
"""


@pytest.fixture
def config(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> Path:
    """A config whose store holds one checked source (so read-only commands have something to read)."""
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), [("./t1793427.shtml", "a")]))
    path = write_config(tmp_path, ministry.base, extra=WEBHOOK)
    code, _, err = run_cli("check", "--config", str(path), "--source", "mfa-en-press")
    assert code == 0, err
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "--source", "nope"], "--source 'nope': no such source in"),
        (["events", "--source", "nope"], "--source 'nope': no such source in"),
        (["check", "--source", "nope"], "source 'nope': key 'id': no such source"),
        (["deliveries", "--webhook", "nope"], "--webhook 'nope': no such webhook in"),
        (["redeliver", "--failed", "--webhook", "nope"], "no such webhook or notification 'nope'"),
        (["webhook-test", "--webhook", "nope"], "no such webhook 'nope'"),
    ],
)
def test_an_unknown_id_is_a_usage_error_in_every_command(
    config: Path, run_cli: RunCli, args: list[str], message: str
) -> None:
    code, out, err = run_cli(*args, "--config", str(config))

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err, err


def test_a_stored_source_no_longer_configured_can_still_be_read(config: Path, run_cli: RunCli) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('id = "mfa-en-press"', 'id = "mfa-en-press-renamed"'), encoding="utf-8")

    code, out, err = run_cli("export", "--config", str(config), "--source", "mfa-en-press")

    assert code == 0, err
    assert '"doc_id": "t1793427"' in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["events", "--since", "yesterday"], "argument --since: 'yesterday' is not an ISO 8601 time"),
        (["events", "--type", "article.eaten"], "argument --type: invalid choice: 'article.eaten'"),
        (["check", "--bogus"], "unrecognized arguments: --bogus"),
        (["diff", "--to", "two", "https://example.org/a"], "argument --to: invalid int value: 'two'"),
        (["redeliver"], "give EVENT_ID ... or --failed"),
    ],
)
def test_a_bad_argument_exits_2(config: Path, run_cli: RunCli, args: list[str], message: str) -> None:
    code, out, err = run_cli(*args, "--config", str(config))

    assert code == 2
    assert out == ""
    assert message in err, err


def test_a_bad_config_exits_2_and_a_failed_source_exits_1(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    config = write_config(tmp_path, ministry.base, monitor={"retries": "0"})
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), [("./t1793427.shtml", "a")]))

    ok = run_cli("check", "--config", str(config), "--source", "mfa-en-press")
    failed = run_cli("check", "--config", str(config), "--source", "mfa-en-press", "--source", "mfa-en-news")
    config.write_text("bogus = 1\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    bad = run_cli("check", "--config", str(config))

    assert ok[0] == 0, ok[2]
    assert failed[0] == 1 and "mfa-en-news: FAILED (error): HTTP 404" in failed[1]
    assert "mfa-en-press: unchanged" in failed[1], "the other sources are still checked and reported"
    assert bad[0] == 2 and "key 'bogus': unknown key" in bad[2]


def test_exit_codes_of_the_real_process(ministry: Ministry, tmp_path: Path) -> None:
    config = write_config(tmp_path, ministry.base, monitor={"retries": "0"})

    def monitor(*args: str) -> int:
        command = [sys.executable, "-m", "monitor", *args, "--config", str(config)]
        return subprocess.run(command, capture_output=True, cwd=ROOT, timeout=60).returncode

    assert monitor("check", "--source", "mfa-en-news") == 1
    assert monitor("events", "--since", "yesterday") == 2
    assert monitor("check", "--source", "nope") == 2
    assert monitor("--help") == 0


def test_verbose_works_before_and_after_the_command(config: Path, run_cli: RunCli) -> None:
    before = run_cli("-v", "check", "--config", str(config), "--source", "mfa-en-press")
    after = run_cli("check", "-v", "--config", str(config), "--source", "mfa-en-press")
    quiet = run_cli("check", "--config", str(config), "--source", "mfa-en-press")

    assert before[0] == after[0] == quiet[0] == 0
    assert "fetch mfa-en-press listing" in before[2], "-v logs every fetch"
    assert "fetch mfa-en-press listing" in after[2], "-v after the command name works too"
    assert "fetch mfa-en-press listing" not in quiet[2]
