"""Read-only commands need no secrets and never create a database; sending commands still refuse an unset secret."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Ministry, RunCli, write_config
from sitekit import EN_DIR, EN_LIST, en_listing

from monitor.config import Secret, load_config
from monitor.errors import ConfigError
from storage import StorageError, check_url, open_store

SECRET_VAR = "MM_TEST_NEWSROOM_SECRET"
WEBHOOK = f"""
[[webhooks]]
id = "newsroom"
url = "http://127.0.0.1:9/hook"
secret = "${{{SECRET_VAR}}}"
"""


def _read_only_commands(article: str) -> list[list[str]]:
    return [
        ["status"],
        ["status", "--json"],
        ["events"],
        ["export"],
        ["export", "--format", "csv"],
        ["history", article],
        ["diff", article, "--from", "1", "--to", "1"],
        ["deliveries"],
        ["deliveries", "--json"],
    ]


def test_read_only_commands_work_with_the_webhook_secret_unset(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), [("./t1793427.shtml", "a")]))
    config = write_config(tmp_path, ministry.base, extra=WEBHOOK)
    monkeypatch.setenv(SECRET_VAR, "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=")
    assert run_cli("check", "--config", str(config), "--source", "mfa-en-press")[0] == 0
    monkeypatch.delenv(SECRET_VAR)
    article = ministry.url(f"{EN_DIR}t1793427.shtml")

    for args in _read_only_commands(article):
        code, out, err = run_cli(*args, "--config", str(config))
        assert code == 0, (args, err)
        assert SECRET_VAR not in out + err
        if args[0] in ("export", "history", "status"):
            assert "t1793427" in out or "mfa-en-press" in out, args

    for args in (["check"], ["run"], ["validate"], ["webhook-test", "--webhook", "newsroom"]):
        code, out, err = run_cli(*args, "--config", str(config))
        assert code == 2, args
        assert err.strip().endswith(f"key 'secret': environment variable {SECRET_VAR} is not set"), (args, err)


def test_an_unset_secret_masks_itself_and_refuses_to_be_revealed(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(WEBHOOK, encoding="utf-8")

    lenient = load_config(path, environ={}, secrets=False)
    secret = lenient.webhooks[0].secret

    assert secret is not None and not secret.is_set
    assert repr(secret) == "Secret('**********')" and str(secret) == "**********"
    with pytest.raises(ConfigError, match=f"environment variable {SECRET_VAR} is not set"):
        secret.reveal()
    with pytest.raises(ConfigError, match=f"environment variable {SECRET_VAR} is not set"):
        load_config(path, environ={})
    strict = load_config(path, environ={SECRET_VAR: "s3cret"})
    assert strict.webhooks[0].secret == Secret("s3cret") and strict.webhooks[0].secret.is_set


def test_read_only_commands_never_create_the_database(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    config = write_config(tmp_path, ministry.base)
    text = config.read_text(encoding="utf-8").replace(f"{tmp_path}/monitor.db", f"{tmp_path}/data/monitor.db")
    config.write_text(text, encoding="utf-8")
    database = tmp_path / "data" / "monitor.db"

    for args in _read_only_commands(ministry.url(f"{EN_DIR}t1793427.shtml")):
        code, out, err = run_cli(*args, "--config", str(config))
        assert code == 1, args
        assert out == ""
        assert err == (
            f"monitor: no database at {database} yet: nothing has been checked (run `monitor check` or "
            "`monitor run` first)\n"
        ), args
    assert not database.parent.exists(), "not even the database's folder is created"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sources.toml"]


def test_a_read_only_store_refuses_writes_and_foreign_files(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    open_store(url).close()
    (tmp_path / "other.db").write_bytes(b"")

    store = open_store(url, read_only=True)
    try:
        assert store.source_states() == []
        with pytest.raises(StorageError, match="readonly"), store.transaction():
            store.requeue(event_ids=None, failed=True, webhook_id=None, now=datetime.now(UTC))
    finally:
        store.close()
    with pytest.raises(StorageError, match="is not a ministry-monitor database"):
        open_store(f"sqlite:///{tmp_path}/other.db", read_only=True)


def test_postgresql_without_psycopg_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what `import psycopg` meets where it is not installed

    with pytest.raises(StorageError) as missing:
        check_url("postgresql://postgres@127.0.0.1/monitor")

    assert str(missing.value) == (
        "a postgresql:// database needs psycopg: install the postgres extra from the checkout, "
        "pip install -e '.[postgres]'"
    )
    with pytest.raises(StorageError, match="unknown database URL scheme 'mysql'"):
        check_url("mysql://localhost/monitor")
