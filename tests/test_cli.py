"""The real `monitor` CLI against the loopback ministry site: check, export, events, history, diff."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import ROOT, Ministry, RunCli, write_config
from sitekit import EN_ARTICLES, EN_DIR, EN_LIST, en_listing

EXPORT_KEYS = {
    "source",
    "url",
    "doc_id",
    "title",
    "published",
    "text",
    "version",
    "first_seen",
    "last_changed",
    "status",
}

EXPECTED_EN = {
    "t1793427": (
        "Foreign Ministry Spokesperson Zhao Lijian's Regular Press Conference on June 30, 2020",
        "2020-06-30T00:00:00+08:00",
        "CCTV: On June 29, US Secretary of State Mike Pompeo said",
    ),
    "t1739548": (
        "Foreign Ministry Spokesperson Hua Chunying's Daily Briefing Online on February 3, 2020",
        "2020-02-03T00:00:00+08:00",
        "Good afternoon. I'm Hua Chunying, spokesperson of the Ministry of Foreign Affairs.",
    ),
    "t1686638": (
        "Foreign Ministry Spokesperson Hua Chunying's Remarks on US House Speaker Nancy Pelosi's Erroneous Remarks "
        "on Hong Kong",
        None,
        "Q: US House Speaker Pelosi issued a statement on August 6,",
    ),
    "t1617471": (
        "Foreign Ministry Spokesperson Geng Shuang's Regular Press Conference on November 29, 2018",
        "2018-11-29T00:00:00+08:00",
        "Q: We have noted that the Foreign Ministry today announced that German President Frank-Walter Steinmeier",
    ),
    "t1558711": (
        "Foreign Ministry Spokesperson Geng Shuang's Regular Press Conference on May 11, 2018",
        "2018-05-11T00:00:00+08:00",
        "At the invitation of President Julius Maada Wonie Bio of the Republic of Sierra Leone,",
    ),
}


def _all_en_articles_listed(ministry: Ministry) -> None:
    entries = [(f"./{doc}.shtml", EXPECTED_EN[doc][0]) for doc in EN_ARTICLES]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries), content_type="text/html")


def _export(run_cli: RunCli, config: Path, fmt: str = "jsonl") -> list[dict[str, Any]]:
    code, out, err = run_cli("export", "--config", str(config), "--format", fmt)
    assert code == 0, err
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(out)))
    return [json.loads(line) for line in out.splitlines()]


def test_check_and_export_give_exactly_the_articles_that_exist(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    _all_en_articles_listed(ministry)
    config = write_config(tmp_path, ministry.base)

    code, out, err = run_cli("check", "--config", str(config), "--source", "mfa-en-press")

    assert code == 0, err
    assert out.strip() == (
        "mfa-en-press: 5 links, 5 new, 5 fetched (0 not modified), 0 failed fetches; events: none"
    ), "the first check is a baseline: no article.published events"
    records = _export(run_cli, config)
    assert sorted(r["doc_id"] for r in records) == sorted(EN_ARTICLES)
    for record in records:
        title, published, first = EXPECTED_EN[str(record["doc_id"])]
        assert set(record) == EXPORT_KEYS
        assert record["source"] == "mfa-en-press"
        assert record["url"] == ministry.url(f"{EN_DIR}{record['doc_id']}.shtml")
        assert record["title"] == title
        assert record["published"] == published
        assert str(record["text"]).startswith(first)
        assert record["version"] == 1
        assert record["status"] == "live"
        assert str(record["first_seen"]).endswith("Z")


def test_second_check_adds_nothing_and_uses_conditional_requests(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    _all_en_articles_listed(ministry)
    config = write_config(tmp_path, ministry.base)
    run_cli("check", "--config", str(config), "--source", "mfa-en-press")
    before = _export(run_cli, config)
    ministry.site.clear_requests()

    code, out, _ = run_cli("check", "--config", str(config), "--source", "mfa-en-press")

    assert code == 0
    assert "mfa-en-press: unchanged, 0 new, 0 fetched" in out
    assert _export(run_cli, config) == before
    listing_requests = [r for r in ministry.site.requests if r.path == EN_DIR]
    assert [(r.status, r.conditional) for r in listing_requests] == [(304, True)]


def test_real_listing_counts_failed_fetches_and_does_not_export_them(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    config = write_config(tmp_path, ministry.base)

    code, out, _ = run_cli("check", "--config", str(config), "--source", "mfa-en-press", "--source", "mfa-zh-fyrbt")

    assert code == 0
    lines = out.splitlines()
    # The real listings link 40 and 15 articles; only t1793427 and t1793459 were saved, the rest answer 404.
    # Issue 13 added "(first: <reason> at <url>)" after the failed-fetch count; the counts are unchanged.
    en_first, zh_first = (re.search(r"\(first: HTTP 404 at (\S+)\)", line) for line in lines[:2])
    assert en_first is not None and zh_first is not None
    assert lines[0] == (
        "mfa-en-press: 40 links, 40 new, 40 fetched (0 not modified), 39 failed fetches "
        f"(first: HTTP 404 at {en_first.group(1)}); events: none"
    )
    assert lines[1] == (
        "mfa-zh-fyrbt: 15 links, 15 new, 15 fetched (0 not modified), 14 failed fetches "
        f"(first: HTTP 404 at {zh_first.group(1)}); events: none"
    )
    assert en_first.group(1).startswith(ministry.url(EN_DIR)) and zh_first.group(1).startswith(ministry.base)
    records = _export(run_cli, config, "csv")
    assert [(r["source"], r["doc_id"], r["published"]) for r in records] == [
        ("mfa-en-press", "t1793427", "2020-06-30T00:00:00+08:00"),
        ("mfa-zh-fyrbt", "t1793459", "2020-06-30T00:00:00+08:00"),
    ]
    zh = records[1]
    assert zh["title"] == "外交部发言人就全国人大常委会审议通过香港国安法发表谈话"
    assert zh["text"].startswith("国务院港澳办和香港中联办已分别就十三届全国人大常委会第二十次会议通过")


def test_listing_with_no_links_is_a_source_failure_not_no_news(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    ministry.site.put(EN_DIR, ministry.body("fmprc/zh_error-page_2020-07-04.html"))
    config = write_config(tmp_path, ministry.base)

    code, out, _ = run_cli("check", "--config", str(config), "--source", "mfa-en-press")

    assert code == 1, "a source that could not be checked is an outage cron and CI must see"
    assert out.startswith("mfa-en-press: FAILED (layout): ")
    assert "matched no article link" in out
    assert _export(run_cli, config) == []


def test_dead_host_is_reported_and_the_command_still_runs(tmp_path: Path, run_cli: RunCli) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", monitor={"retries": "0"})

    code, out, _ = run_cli("check", "--config", str(config), "--source", "mfa-en-press")

    assert code == 1, "the command runs, reports the failure, and exits 1"
    assert out.startswith("mfa-en-press: FAILED (error): ConnectError")


def test_unknown_source_is_a_config_error(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    config = write_config(tmp_path, ministry.base)

    code, out, err = run_cli("check", "--config", str(config), "--source", "nope")

    assert code == 2
    assert err.strip() == f"monitor: {config}: source 'nope': key 'id': no such source"


def test_console_script_runs_as_a_real_process(ministry: Ministry, tmp_path: Path) -> None:
    _all_en_articles_listed(ministry)
    config = write_config(tmp_path, ministry.base)
    command = [sys.executable, "-m", "monitor", "check", "--config", str(config), "--source", "mfa-en-press"]

    checked = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)
    exported = subprocess.run(
        [sys.executable, "-m", "monitor", "export", "--config", str(config), "--format", "jsonl"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )

    assert checked.returncode == 0, checked.stderr
    assert "5 new" in checked.stdout
    assert len(exported.stdout.splitlines()) == 5


def test_user_agent_and_no_requests_off_site(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    entries = [("./t1793427.shtml", "a"), ("http://127.0.0.2:9/elsewhere.shtml", "b")]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries))
    config = write_config(tmp_path, ministry.base, monitor={"user_agent": '"test-agent/1.0"'})

    code, out, _ = run_cli("check", "--config", str(config), "--source", "mfa-en-press")

    assert code == 0
    assert "1 links, 1 new" in out
    assert {r.headers.get("user-agent") for r in ministry.site.requests} == {"test-agent/1.0"}


def test_check_and_export_on_postgresql(ministry: Ministry, tmp_path: Path, run_cli: RunCli, pg_url: str) -> None:
    _all_en_articles_listed(ministry)
    config = write_config(tmp_path, ministry.base)
    config.write_text(config.read_text().replace(f"sqlite:///{tmp_path}/monitor.db", pg_url))

    code, out, err = run_cli("check", "--config", str(config), "--source", "mfa-en-press")
    second = run_cli("check", "--config", str(config), "--source", "mfa-en-press")

    assert code == 0, err
    assert "5 new" in out and "0 new" in second[1]
    records = _export(run_cli, config)
    assert sorted(r["doc_id"] for r in records) == sorted(EN_ARTICLES)
    assert {r["published"] for r in records} == {v[1] for v in EXPECTED_EN.values()}


def test_check_shows_a_progress_bar_on_a_terminal_and_plain_lines_when_piped(
    ministry: Ministry, tmp_path: Path
) -> None:
    import os
    import pty

    _all_en_articles_listed(ministry)
    config = write_config(tmp_path, ministry.base, monitor={"retries": "0"})
    command = [sys.executable, "-m", "monitor", "check", "--config", str(config)]
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen(command, cwd=ROOT, stdin=child_fd, stdout=child_fd, stderr=child_fd)
    os.close(child_fd)
    chunks = []
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main_fd)
    assert process.wait(timeout=60) == 1, "three shipped sources have no saved listing (404): check exits 1"
    screen = b"".join(chunks).decode("utf-8", "replace")

    assert "checking" in screen and "/7" in screen, "a progress bar over the 7 shipped sources"
    assert "mfa-en-press: 5 links, 5 new" in screen
    piped = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "checking" not in piped.stdout
    assert len(piped.stdout.splitlines()) == 7
    assert piped.returncode == 1 and piped.stdout.count(": FAILED (error): HTTP 404") == 3
