"""`monitor status` (table and --json) and `monitor reload` without a daemon, against a store filled by real checks."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

from conftest import Ministry, RunCli
from daemonkit import daemon_config
from sitekit import EN_DIR, EN_LIST, ZH_DIR, en_listing

from monitor.commands.service import format_table, pid_lock, pid_path
from monitor.config import load_config

SOURCES = ("mfa-en-press", "mfa-zh-fyrbt", "mfa-zh-zyxw")


def checked(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> Path:
    """Return a config of three sources after four checks: one source fine, one failing, one never checked."""
    entries = [("./t1793427.shtml", "a"), ("./t1739548.shtml", "b")]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries))
    ministry.site.fault(ZH_DIR, "status", status=503, headers={"Retry-After": "0"})
    config = daemon_config(tmp_path, ministry.base, sources=SOURCES, monitor={"retries": "0"})
    for _ in range(3):
        code, _, err = run_cli("check", "--config", str(config), "--source", "mfa-en-press", "--source", "mfa-zh-fyrbt")
        assert code == 1, err  # mfa-zh-fyrbt failed: `check` says so in its exit code
    return config


def test_status_json_has_one_record_per_source(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    config = checked(ministry, tmp_path, run_cli)

    code, out, _ = run_cli("status", "--config", str(config), "--json")

    status = json.loads(out)
    assert code == 0
    assert status["daemon"] == {"running": False, "pid": None}
    rows = {row["source"]: row for row in status["sources"]}
    assert list(rows) == list(SOURCES)
    fine, failing, new = rows["mfa-en-press"], rows["mfa-zh-fyrbt"], rows["mfa-zh-zyxw"]
    assert (fine["state"], fine["last_outcome"], fine["articles"], fine["consecutive_failures"]) == (
        "ok",
        "not_modified",
        2,
        0,
    )
    assert fine["last_success"].endswith("Z") and fine["configured"] is True and fine["last_error"] is None
    assert (failing["state"], failing["failing"], failing["consecutive_failures"]) == ("failing", True, 3)
    assert failing["last_error"] == "HTTP 503" and failing["last_success"] is None
    assert (new["state"], new["last_success"], new["articles"]) == ("new", None, 0)


def test_status_table_is_readable(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    config = checked(ministry, tmp_path, run_cli)

    code, out, _ = run_cli("status", "--config", str(config))

    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "daemon: not running"
    assert lines[1].split("  ")[0] == "SOURCE"
    for name in ("STATE", "LAST SUCCESS", "NEXT DUE", "FAILS", "ARTICLES", "LAST ERROR"):
        assert name in lines[1]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["mfa-en-press"][1:5] == ["ok", "0s", "ago", "-"]
    assert rows["mfa-zh-fyrbt"][1:3] == ["failing", "never"] and rows["mfa-zh-fyrbt"][-2:] == ["HTTP", "503"]
    assert rows["mfa-zh-zyxw"][1:] == ["new", "never", "-", "0", "0", "-"]


def test_status_names_the_running_daemon_and_sources_no_longer_configured(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    config = checked(ministry, tmp_path, run_cli)
    daemon_config(tmp_path, ministry.base, sources=("mfa-zh-fyrbt",))

    with pid_lock(pid_path(load_config(config))):
        code, out, _ = run_cli("status", "--config", str(config), "--json")

    status = json.loads(out)
    assert code == 0
    assert status["daemon"]["running"] is True and isinstance(status["daemon"]["pid"], int)
    assert [(row["source"], row["state"]) for row in status["sources"]] == [
        ("mfa-zh-fyrbt", "failing"),
        ("mfa-en-press", "removed"),
    ]


def test_table_times_are_relative_to_now() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    row = {
        "source": "s",
        "state": "ok",
        "last_success": "2024-05-01T11:57:00.000Z",
        "next_due": "2024-05-01T14:00:00.000Z",
        "consecutive_failures": 0,
        "articles": 7,
        "last_error": "a long\nerror " + "x" * 100,
    }

    header, line = format_table([row], now)

    assert line.split()[:2] == ["s", "ok"]
    assert "3m ago" in line and "in 2h" in line
    assert line.endswith("…") and "\n" not in line
    assert len(header) <= len(line)


def test_reload_without_a_running_daemon_is_an_error(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    config = daemon_config(tmp_path, ministry.base)

    code, _, err = run_cli("reload", "--config", str(config))

    assert code == 1
    assert f"no running `monitor run` holds {tmp_path}/monitor.pid" in err


def test_pid_file_beside_sqlite_else_beside_the_config(ministry: Ministry, tmp_path: Path) -> None:
    config = load_config(daemon_config(tmp_path, ministry.base))
    postgres = dataclasses.replace(config, database="postgresql://monitor@db/monitor")

    assert pid_path(config) == tmp_path / "monitor.pid"
    assert pid_path(postgres) == tmp_path / "sources.pid"
    assert pid_path(config, "/run/monitor.pid") == Path("/run/monitor.pid")


def test_status_shows_failing_articles_and_their_last_reason(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    # The real EN listing links 40 articles; only one was saved, the other 39 answer 404.
    config = daemon_config(tmp_path, ministry.base, sources=("mfa-en-press",))
    code, out, err = run_cli("check", "--config", str(config), "--source", "mfa-en-press")
    assert code == 0, err
    assert "39 failed fetches (first: HTTP 404 at " in out

    code, out, _ = run_cli("status", "--config", str(config), "--json")
    [row] = json.loads(out)["sources"]
    assert (row["state"], row["articles"], row["failing_articles"], row["article_error"]) == ("ok", 40, 39, "HTTP 404")
    assert row["last_error"] is None

    code, out, _ = run_cli("status", "--config", str(config))
    line = out.splitlines()[2]
    assert "40 (39 failing)" in line and line.endswith("article: HTTP 404")
