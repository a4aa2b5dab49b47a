"""HTTPS against a private CA made here: trusted through `ca_bundle` or SSL_CERT_FILE, refused in one line without.

The simulated ministry serves the saved pages over TLS with a certificate for 127.0.0.1 signed by a CA that exists
only in this test; the real `monitor check` reads it (through the direct transport, aiohttp: no proxy is set).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Ministry, RunCli, write_config
from sitekit import EN_DIR
from tlskit import TlsMinistry, tls_ministry_in

SOURCE = "mfa-en-press"


@pytest.fixture
def tls_ministry(tmp_path: Path) -> Iterator[TlsMinistry]:
    with tls_ministry_in(tmp_path) as ministry:
        yield ministry


def check(run_cli: RunCli, path: Path) -> tuple[int, str, str]:
    return run_cli("check", "--config", str(path), "--source", SOURCE)


def test_a_private_ca_in_ca_bundle_is_trusted(tls_ministry: TlsMinistry, tmp_path: Path, run_cli: RunCli) -> None:
    assert tls_ministry.base.startswith("https://127.0.0.1:")
    path = write_config(tmp_path, tls_ministry.base, monitor={"ca_bundle": '"national-ca.pem"'})  # beside the config
    code, out, err = check(run_cli, path)
    assert code == 0, out + err
    assert [r.path for r in tls_ministry.site.requests if r.path.startswith(EN_DIR)] == [
        EN_DIR,
        EN_DIR + "t1793427.shtml",
    ]


def test_without_the_ca_the_certificate_is_refused_in_one_line(
    tls_ministry: TlsMinistry, tmp_path: Path, run_cli: RunCli
) -> None:
    path = write_config(tmp_path, tls_ministry.base)
    code, out, _err = check(run_cli, path)
    assert code == 1
    assert out == (
        f"{SOURCE}: FAILED (error): TLS certificate of 127.0.0.1 refused: unable to get local issuer certificate "
        "(a private CA belongs in [monitor] ca_bundle) (robots.txt unreachable: everything is disallowed for now)\n"
    )  # robots.txt is the first request to the host
    assert not [r for r in tls_ministry.site.requests if r.path.startswith(EN_DIR)]  # nothing was sent


def test_ssl_cert_file_is_honoured(
    tls_ministry: TlsMinistry, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_ministry.ca_file))
    code, out, err = check(run_cli, write_config(tmp_path, tls_ministry.base))
    assert code == 0, out + err


def test_tls_verify_false_on_one_source_works_and_warns_at_start(
    tls_ministry: TlsMinistry, tmp_path: Path, run_cli: RunCli
) -> None:
    path = write_config(tmp_path, tls_ministry.base, source_overrides={"tls_verify": "false"})
    code, out, err = check(run_cli, path)
    assert code == 0, out + err
    assert f"source {SOURCE}: tls_verify = false: its site's certificate is NOT checked" in err


@pytest.fixture
def unreadable_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """SSL_CERT_FILE naming a file that holds no certificate."""
    path = tmp_path / "not-a-bundle.pem"
    path.write_text("this is not a certificate\n", encoding="utf-8")
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    return path


def test_ssl_cert_file_that_cannot_be_loaded_fails_https_in_one_line_naming_it(
    tls_ministry: TlsMinistry, tmp_path: Path, run_cli: RunCli, unreadable_roots: Path
) -> None:
    code, out, err = check(run_cli, write_config(tmp_path, tls_ministry.base))
    assert code == 1 and "Traceback" not in err, err
    assert out == (
        f"{SOURCE}: FAILED (error): cannot load the CA certificates of "
        f"SSL_CERT_FILE={unreadable_roots}: NO_CERTIFICATE_OR_CRL_FOUND "
        "(robots.txt unreachable: everything is disallowed for now)\n"
    )
    assert tls_ministry.site.requests == []  # nothing was sent


def test_plain_http_sources_never_load_the_ca_certificates(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, unreadable_roots: Path
) -> None:
    code, out, err = check(run_cli, write_config(tmp_path, ministry.base))
    assert code == 0, out + err
