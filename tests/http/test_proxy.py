"""Proxies through the real `monitor check`: environment, [monitor] proxy, a source's, NO_PROXY, CONNECT, SOCKS5.

A forward proxy on loopback (tests/proxykit.py) records what it forwarded; the simulated ministry records what
reached it. conftest's autouse fixture clears the machine's proxy variables; each test sets its own.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Ministry, RunCli, write_config
from proxykit import ForwardProxy, running_proxy
from sitekit import EN_DIR, EN_LIST, en_listing
from tlskit import tls_ministry_in

SOURCE = "mfa-en-press"
PASSWORD = "pr0xy-S3cret"
ARTICLE = EN_DIR + "t1793427.shtml"


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with running_proxy() as running:
        yield running


@pytest.fixture
def site(ministry: Ministry) -> Ministry:
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), [("./t1793427.shtml", "a")]))
    return ministry


def check(run_cli: RunCli, path: Path) -> tuple[int, str, str]:
    return run_cli("check", "--config", str(path), "--source", SOURCE)


def forwarded_paths(proxy: ForwardProxy) -> list[str]:
    return [r.target.split("/", 3)[3] for r in proxy.records if r.method == "GET" and EN_DIR[1:] in r.target]


def test_http_proxy_from_the_environment(
    site: Ministry, proxy: ForwardProxy, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    code, out, err = check(run_cli, write_config(tmp_path, site.base))
    assert code == 0, out + err
    assert forwarded_paths(proxy) == [EN_DIR[1:], ARTICLE[1:]]
    assert all(r.target.startswith(site.base + "/") for r in proxy.records)  # absolute-form: the proxy resolves
    assert [r.path for r in site.site.requests if r.path.startswith(EN_DIR)] == [EN_DIR, ARTICLE]


def test_no_proxy_exempts_the_host(
    site: Ministry, proxy: ForwardProxy, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", proxy.url())
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.0/8")
    code, out, err = check(run_cli, write_config(tmp_path, site.base))
    assert code == 0, out + err
    assert proxy.records == []
    assert [r.path for r in site.site.requests if r.path.startswith(EN_DIR)] == [EN_DIR, ARTICLE]


def test_monitor_proxy_with_credentials_from_the_environment_never_shown(
    site: Ministry,
    proxy: ForwardProxy,
    tmp_path: Path,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("MM_PROXY_PASSWORD", PASSWORD)
    caplog.set_level(logging.DEBUG)
    url = proxy.url(userinfo="watcher:${MM_PROXY_PASSWORD}")
    code, out, err = run_cli(
        "-v",
        "check",
        "--config",
        str(write_config(tmp_path, site.base, monitor={"proxy": f'"{url}"'})),
        "--source",
        SOURCE,
    )
    assert code == 0, out + err
    assert forwarded_paths(proxy) == [EN_DIR[1:], ARTICLE[1:]]
    expected = "Basic " + base64.b64encode(f"watcher:{PASSWORD}".encode()).decode()
    assert {r.headers.get("proxy-authorization") for r in proxy.records} == {expected}
    assert all("proxy-authorization" not in r.headers for r in site.site.requests)  # the proxy's, not the site's
    assert PASSWORD not in out + err + caplog.text
    assert f"through the proxy http://127.0.0.1:{proxy.port}" in caplog.text


def test_a_source_proxy_wins_over_no_proxy(
    site: Ministry, proxy: ForwardProxy, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "*")
    path = write_config(tmp_path, site.base, source_overrides={"proxy": f'"{proxy.url()}"'})
    code, out, err = check(run_cli, path)
    assert code == 0, out + err
    assert forwarded_paths(proxy) == [EN_DIR[1:], ARTICLE[1:]]


def test_https_through_connect_trusts_the_ca_bundle(
    proxy: ForwardProxy, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tls_ministry_in(tmp_path) as tls_site:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url())
        port = tls_site.base.rsplit(":", 1)[1]
        refused = write_config(tmp_path, tls_site.base)
        code, out, _err = check(run_cli, refused)
        assert code == 1
        assert "TLS certificate of 127.0.0.1 refused: unable to get local issuer certificate" in out
        assert out.count("\n") == 1
        trusted = write_config(tmp_path, tls_site.base, monitor={"ca_bundle": '"national-ca.pem"'})
        code, out, err = check(run_cli, trusted)
        assert code == 0, out + err
        assert {(r.method, r.target) for r in proxy.records} == {("CONNECT", f"127.0.0.1:{port}")}
        assert [r.path for r in tls_site.site.requests if r.path.startswith(EN_DIR)] == [EN_DIR, ARTICLE]


def test_socks5_proxy(site: Ministry, proxy: ForwardProxy, tmp_path: Path, run_cli: RunCli) -> None:
    path = write_config(tmp_path, site.base, monitor={"proxy": f'"{proxy.url("socks5")}"'})
    code, out, err = check(run_cli, path)
    assert code == 0, out + err
    assert {(r.method, r.target) for r in proxy.records} == {("SOCKS5", site.base.removeprefix("http://"))}
    assert [r.path for r in site.site.requests if r.path.startswith(EN_DIR)] == [EN_DIR, ARTICLE]
