"""Per-source request settings on the wire: `monitor check` against the loopback ministry, which records headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Ministry, RunCli, write_config
from sitekit import EN_DIR, EN_LIST, en_listing

from monitor.config import DEFAULT_USER_AGENT

COOKIE = "sess-4d3c2b1a"
UA = "Mozilla/5.0 (compatible; research-desk; +mailto:desk@example.org)"


def test_headers_user_agent_and_secret_cookie_reach_the_site(
    ministry: Ministry,
    tmp_path: Path,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("MM_COOKIE", COOKIE)
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), [("./t1793427.shtml", "a")]))
    headers = '{ "Accept-Language" = "zh-CN,zh;q=0.9", Cookie = "session=${MM_COOKIE}" }'
    path = write_config(tmp_path, ministry.base, source_overrides={"headers": headers, "user_agent": f'"{UA}"'})
    code, out, err = run_cli("-v", "check", "--config", str(path), "--source", "mfa-en-press")
    assert code == 0, err
    seen = [r for r in ministry.site.requests if r.path.startswith(EN_DIR)]
    assert {r.path for r in seen} >= {EN_DIR, EN_DIR + "t1793427.shtml"}  # the listing and its article
    for record in seen:
        assert record.headers["accept-language"] == "zh-CN,zh;q=0.9"
        assert record.headers["cookie"] == f"session={COOKIE}"
        assert record.headers["user-agent"] == UA
        assert "gzip" in record.headers["accept-encoding"]  # the fetcher's own headers stay
    assert COOKIE not in out + err + caplog.text


def test_a_source_without_settings_sends_the_monitor_defaults(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), [("./t1793427.shtml", "a")]))
    path = write_config(tmp_path, ministry.base)
    code, _out, err = run_cli("check", "--config", str(path), "--source", "mfa-en-press")
    assert code == 0, err
    listing = ministry.site.requests_for(EN_DIR)[0]
    assert listing.headers["user-agent"] == DEFAULT_USER_AGENT
    assert "cookie" not in listing.headers and "accept-language" not in listing.headers


def test_a_source_timeout_overrides_the_monitor_timeout(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), []))
    ministry.site.fault(EN_DIR, "delay", seconds=3.0)  # within [monitor] timeout (20s), past the source's 0.3s
    overrides = {"timeout": '"0.3s"'}
    path = write_config(
        tmp_path, ministry.base, monitor={"timeout": '"20s"', "retries": "0"}, source_overrides=overrides
    )
    code, out, err = run_cli("check", "--config", str(path), "--source", "mfa-en-press")
    assert (code, out) == (1, "mfa-en-press: FAILED (error): timed out (ReadTimeout)\n"), err
