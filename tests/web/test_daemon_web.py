"""`monitor run --http` serves the web view and feeds beside its probes, while it polls."""

from __future__ import annotations

from pathlib import Path

from conftest import Ministry
from daemonkit import DaemonProcess, daemon_config
from sitekit import EN_DIR, EN_LIST, en_listing


def test_the_daemon_serves_pages_feeds_and_probes_on_one_address(ministry: Ministry, tmp_path: Path) -> None:
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), [("./t1793427.shtml", "June 30")]))
    config = daemon_config(tmp_path, ministry.base, interval="0.5s")

    with DaemonProcess(config, "--http", "127.0.0.1:0") as daemon:
        daemon.wait_for_log("poll mfa-en-press", count=2)
        dashboard = daemon.get("/")
        source = daemon.get("/sources/mfa-en-press")
        feed = daemon.get("/feeds/all.atom")
        probes = [daemon.get(path)[0] for path in ("/healthz", "/readyz", "/metrics")]
        assert daemon.stop()[0] == 0

    assert dashboard[0] == 200 and dashboard[1] == "text/html; charset=utf-8"
    assert b'<a href="/sources/mfa-en-press">' in dashboard[2] and b'class="badge ok"' in dashboard[2]
    assert source[0] == 200 and b"t1793427" in source[2]
    assert feed[0] == 200 and feed[1] == "application/atom+xml; charset=utf-8"
    assert probes == [200, 200, 200]
