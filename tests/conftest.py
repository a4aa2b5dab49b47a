"""Shared fixtures: a loopback ministry site built from the real saved pages, and configs that point at it."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from monitor.cli import main
from monitor.sim import FixtureRow, SimServer, SimSite, load_fixture_site

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHIPPED_CONFIG = ROOT / "config" / "sources.toml"
REAL_ORIGINS = ("https://www.fmprc.gov.cn", "https://www.gov.uk", "http://gb.china-embassy.gov.cn")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
FAST_MONITOR = {
    "host_delay": '"0s"',
    "retry_backoff": '"0.01s"',
    "timeout": '"5s"',
    "check_delivery_timeout": '"10s"',
}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy settings from the machine may reach a test (httpx reads them)."""
    for name in list(os.environ):
        if name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name, raising=False)


class Ministry:
    """A running loopback copy of the saved ministry pages, plus the fixture rows to derive variants from."""

    def __init__(self, site: SimSite, server: SimServer, rows: dict[str, FixtureRow]) -> None:
        self.site = site
        self.server = server
        self.rows = rows
        self.base = server.base_url()

    def url(self, path: str) -> str:
        """Return the loopback URL of a path on the site."""
        return self.base + path

    def body(self, fixture: str) -> bytes:
        """Return the raw bytes of a saved page (e.g. "fmprc/en_article_t1793427_...html")."""
        return self.rows[fixture].body()

    def path_of(self, fixture: str) -> str:
        """Return the URL path where a saved page is served."""
        return self.rows[fixture].path


@pytest.fixture
def ministry() -> Iterator[Ministry]:
    """A fresh loopback ministry site per test (tests change pages freely)."""
    site = SimSite()
    rows = load_fixture_site(site, FIXTURES)
    with SimServer(site) as server:
        yield Ministry(site, server, rows)


def write_config(
    tmp_path: Path,
    base_url: str,
    *,
    monitor: dict[str, str] | None = None,
    extra: str = "",
    source_overrides: dict[str, str] | None = None,
    article_overrides: dict[str, str] | None = None,
) -> Path:
    """Write the shipped config with every real origin pointed at `base_url` and the store in `tmp_path`.

    `monitor` adds raw TOML values to [monitor]; `source_overrides` adds raw TOML lines to every source;
    `extra` is appended (e.g. [[webhooks]] tables).
    """
    text = SHIPPED_CONFIG.read_text(encoding="utf-8")
    for origin in REAL_ORIGINS:
        text = text.replace(origin, base_url)
    text = re.sub(r'(?m)^database = ".*"$', f'database = "sqlite:///{tmp_path}/monitor.db"', text)
    settings = {**FAST_MONITOR, **(monitor or {})}
    for key in settings:
        text = re.sub(rf"(?m)^{key} = .*\n", "", text)
    text = text.replace("[monitor]\n", "[monitor]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()), 1)
    if source_overrides:
        text = _override_tables(text, "[[sources]]\n", "[sources.", source_overrides)
    if article_overrides:
        text = _override_tables(text, "[sources.article]\n", "\n[", article_overrides)
    path = tmp_path / "sources.toml"
    path.write_text(text + "\n" + extra, encoding="utf-8")
    return path


def _override_tables(text: str, header: str, end: str, overrides: dict[str, str]) -> str:
    """Set keys in every table that starts with `header` (up to `end`), replacing the shipped values."""
    head, *tables = text.split(header)
    out = [head]
    for table in tables:
        own, sep, rest = table.partition(end)
        kept = [line for line in own.split("\n") if line.split(" = ")[0] not in overrides]
        out.append("\n".join([*(f"{k} = {v}" for k, v in overrides.items()), *kept]) + sep + rest)
    return header.join(out)


RunCli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """Run the real `monitor` command line in-process; return (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """Create a fresh PostgreSQL database of its own; yield its URL; drop it afterwards."""
    name = f"mm_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database of this test's own, dropped afterwards."""
    with fresh_pg_database() as url:
        yield url
