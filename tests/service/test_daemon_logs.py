"""The daemon's log: one line per poll (WARNING when it failed), a routine reload at INFO, config warnings at start."""

from __future__ import annotations

import signal
from pathlib import Path

from conftest import Ministry
from daemonkit import DaemonProcess, daemon_config, wait_until
from sitekit import EN_DIR, EN_LIST, en_listing


def test_one_line_per_poll_and_an_unchanged_reload_is_info(ministry: Ministry, tmp_path: Path) -> None:
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), [("./t1793427.shtml", "a")]))
    sources = ("mfa-en-press", "mfa-en-news")  # mfa-en-news's listing is not on the site: every poll fails (404)
    config = daemon_config(tmp_path, ministry.base, sources=sources, interval="1s", monitor={"retries": "0"})

    with DaemonProcess(config) as daemon:
        wait_until(lambda: len(daemon.polls("mfa-en-news")) >= 2, timeout_s=30, what="two failed polls")
        daemon.send(signal.SIGHUP)
        reloaded = daemon.wait_for_log("config reloaded")[0]
        assert daemon.stop()[0] == 0
        logs = daemon.logs()

    failed = daemon.polls("mfa-en-news")
    about_news = [
        r for r in logs if "mfa-en-news" in r["message"] and r["message"].split()[0] not in ("event", "config")
    ]
    assert about_news == failed, "a failed poll is one line, not a second 'source failed' line"
    assert {r["level"] for r in failed} == {"WARNING"} and all("error=HTTP 404" in r["message"] for r in failed)
    assert {r["level"] for r in daemon.polls("mfa-en-press")} == {"INFO"}
    assert reloaded["level"] == "INFO"
    assert reloaded["message"].endswith("added none; removed none; changed none")
    warned = [r for r in logs if r["message"].startswith(f"config {config}: source 'mfa-en-press': key 'interval'")]
    assert len(warned) == 1 and warned[0]["level"] == "WARNING", "run logs validate's warnings once, at start"
