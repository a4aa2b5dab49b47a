"""Per-source request settings and [monitor] proxy / ca_bundle in the config: parsed, masked, refused in one line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import load_config

RunCli = Callable[..., tuple[int, str, str]]
COOKIE = "sess-9f8e7d6c5b4a"
PROXY_PASSWORD = "pr0xy-Pa55word"

BASE = """\
[monitor]
database = "sqlite:///monitor.db"
timeout = "20s"
# MONITOR

[[sources]]
id = "mfa-en"
url = "https://www.fmprc.gov.cn/mfa_eng/"
# SOURCE
"""
WHERE = "source 'mfa-en': "


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_COOKIE", COOKIE)
    monkeypatch.setenv("MM_PROXY_PASSWORD", PROXY_PASSWORD)
    monkeypatch.delenv("MM_MISSING", raising=False)


def write(tmp_path: Path, source: str = "", monitor: str = "") -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(BASE.replace("# SOURCE", source).replace("# MONITOR", monitor), encoding="utf-8")
    return path


def test_per_source_settings_are_parsed_and_secrets_never_shown(tmp_path: Path, run_cli: RunCli) -> None:
    source = (
        'user_agent = "Mozilla/5.0 (research; contact@example.org)"\ntimeout = "45s"\n'
        'proxy = "http://watcher:${MM_PROXY_PASSWORD}@proxy.example:3128"\ntls_verify = true\n'
        '[sources.headers]\nAccept-Language = "zh-CN,zh;q=0.9"\nCookie = "session=${MM_COOKIE}"\n'
    )
    path = write(tmp_path, source, 'proxy = "socks5://127.0.0.1:1080"')
    config = load_config(path)
    parsed = config.source("mfa-en")
    assert parsed.user_agent == "Mozilla/5.0 (research; contact@example.org)"
    assert parsed.timeout == timedelta(seconds=45)
    assert [(name, value.reveal()) for name, value in parsed.headers] == [
        ("Accept-Language", "zh-CN,zh;q=0.9"),
        ("Cookie", f"session={COOKIE}"),
    ]
    assert parsed.proxy is not None and parsed.proxy.reveal() == f"http://watcher:{PROXY_PASSWORD}@proxy.example:3128"
    assert config.http.proxy is not None and config.http.proxy.reveal() == "socks5://127.0.0.1:1080"
    shown = repr(config) + repr(parsed) + str(parsed)
    assert COOKIE not in shown and PROXY_PASSWORD not in shown
    code, out, err = run_cli("validate", "--config", str(path))
    assert code == 0, err
    assert COOKIE not in out + err and PROXY_PASSWORD not in out + err


def test_defaults_leave_the_monitor_settings_in_charge(tmp_path: Path) -> None:
    config = load_config(write(tmp_path))
    source = config.source("mfa-en")
    assert (source.headers, source.user_agent, source.timeout, source.proxy, source.tls_verify) == (
        (),
        None,
        None,
        None,
        True,
    )
    assert (config.http.proxy, config.http.ca_bundle) == (None, None)


def test_read_only_commands_accept_unset_header_and_proxy_secrets(tmp_path: Path, run_cli: RunCli) -> None:
    source = 'proxy = "http://u:${MM_MISSING}@proxy.example:3128"\n[sources.headers]\nCookie = "${MM_MISSING}"\n'
    path = write(tmp_path, source)
    code, _out, err = run_cli("status", "--config", str(path))
    assert (code, "no database" in err, "MM_MISSING" in err) == (1, True, False)  # read the config, then the store
    parsed = load_config(path, secrets=False).source("mfa-en")
    assert parsed.proxy is not None and not parsed.proxy.is_set
    code, _out, err = run_cli("validate", "--config", str(path))
    assert code == 2
    assert err.startswith(f"monitor: {path}: {WHERE}key 'headers.Cookie': environment variable MM_MISSING is not set")


def test_ca_bundle_is_relative_to_the_config_folder(tmp_path: Path) -> None:
    import certifi

    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_bytes(Path(certifi.where()).read_bytes())
    config = load_config(write(tmp_path, monitor='ca_bundle = "certs/ca.pem"'))
    assert config.http.ca_bundle == str(tmp_path / "certs" / "ca.pem")


BAD = [
    (
        "header-name",
        '[sources.headers]\n"Bad Name" = "x"',
        WHERE + "key 'headers.Bad Name': 'Bad Name' is not a valid header name",
    ),
    (
        "header-host",
        '[sources.headers]\nHost = "evil"',
        WHERE + "key 'headers.Host': is set by the fetcher itself and cannot be configured",
    ),
    (
        "header-ua",
        '[sources.headers]\nUser-Agent = "x"',
        WHERE + "key 'headers.User-Agent': use the 'user_agent' key instead",
    ),
    ("header-number", "[sources.headers]\nX-Count = 3", WHERE + "key 'headers.X-Count': must be a string, not int"),
    (
        "header-crlf",
        '[sources.headers]\nX-A = "a\\r\\nX-B: b"',
        WHERE + "key 'headers.X-A': must not contain a line break or NUL",
    ),
    (
        "header-unset",
        '[sources.headers]\nCookie = "${MM_MISSING}"',
        WHERE + "key 'headers.Cookie': environment variable MM_MISSING is not set",
    ),
    ("headers-not-table", 'headers = "Cookie: x"', WHERE + "key 'headers': must be a table, not str"),
    ("ua-newline", 'user_agent = "a\\nb"', WHERE + "key 'user_agent': must not contain a line break or NUL"),
    ("timeout-zero", 'timeout = "0s"', WHERE + "key 'timeout': must be longer than zero"),
    ("tls-verify-string", 'tls_verify = "no"', WHERE + "key 'tls_verify': must be true or false, not str"),
    (
        "proxy-scheme",
        'proxy = "ftp://proxy:21"',
        WHERE + "key 'proxy': 'ftp://proxy:21' is not a proxy URL like 'http://proxy.example:3128'",
    ),
    (
        "proxy-literal-password",
        'proxy = "http://u:' + PROXY_PASSWORD + '@proxy:3128"',
        WHERE + "key 'proxy': put the proxy's user and password in the environment, as ${VAR}, not in the file",
    ),
]


@pytest.mark.parametrize(("source", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_request_settings(tmp_path: Path, run_cli: RunCli, source: str, message: str) -> None:
    path = write(tmp_path, source)
    code, out, err = run_cli("validate", "--config", str(path))
    assert (code, out) == (2, "")
    assert err == f"monitor: {path}: {message}\n"
    assert PROXY_PASSWORD not in err and COOKIE not in err


@pytest.mark.parametrize(
    ("monitor", "message"),
    [
        (
            'ca_bundle = "nowhere.pem"',
            "key 'monitor.ca_bundle': cannot load CA certificates from {dir}/nowhere.pem: No such file or directory",
        ),
        (
            'ca_bundle = "sources.toml"',
            "key 'monitor.ca_bundle': cannot load CA certificates from {dir}/sources.toml: ",
        ),
        (
            'proxy = "proxy.example:3128"',
            "key 'monitor.proxy': 'proxy.example:3128' is not a proxy URL like 'http://proxy.example:3128'",
        ),
    ],
    ids=["ca-missing", "ca-not-pem", "proxy-no-scheme"],
)
def test_bad_monitor_settings(tmp_path: Path, run_cli: RunCli, monitor: str, message: str) -> None:
    path = write(tmp_path, monitor=monitor)
    code, out, err = run_cli("validate", "--config", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"monitor: {path}: " + message.format(dir=tmp_path))
    assert err.count("\n") == 1 and "Traceback" not in err
