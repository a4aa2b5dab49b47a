"""Relative paths in a config are relative to the config file's folder, whatever the working directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, Ministry, RunCli, write_config
from sitekit import EN_DIR, EN_LIST, en_listing

from monitor.config import database_beside, load_config, relative_to_config

CASES = [
    ("sqlite:///data/monitor.db", "/etc/mm/sources.toml", "sqlite:////etc/mm/data/monitor.db"),
    ("sqlite:///../data/monitor.db", "/srv/mm/config/sources.toml", "sqlite:////srv/mm/data/monitor.db"),
    ("sqlite:///monitor.db", "/etc/mm/sources.toml", "sqlite:////etc/mm/monitor.db"),
    ("sqlite:////var/lib/mm/monitor.db", "/etc/mm/sources.toml", "sqlite:////var/lib/mm/monitor.db"),
    ("sqlite:///:memory:", "/etc/mm/sources.toml", "sqlite:///:memory:"),
    ("postgresql://mm@db/monitor", "/etc/mm/sources.toml", "postgresql://mm@db/monitor"),
]


@pytest.mark.parametrize(("url", "config", "expected"), CASES)
def test_database_url_is_resolved_beside_the_config(url: str, config: str, expected: str) -> None:
    assert database_beside(url, config) == expected


def test_a_relative_config_path_resolves_against_the_working_directory_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert relative_to_config("conf/sources.toml", "ca.pem") == str(tmp_path / "conf" / "ca.pem")
    assert relative_to_config("conf/sources.toml", "/etc/ssl/ca.pem") == "/etc/ssl/ca.pem"


def test_the_shipped_config_keeps_its_database_in_data_at_the_top_of_the_checkout() -> None:
    assert load_config(ROOT / "config" / "sources.toml").database == f"sqlite:///{ROOT}/data/monitor.db"


def test_check_from_another_folder_uses_the_database_beside_the_config(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), [("./t1793427.shtml", "a")]))
    folder = tmp_path / "etc"
    folder.mkdir()
    config = write_config(folder, ministry.base)
    text = config.read_text(encoding="utf-8").replace(f"sqlite:///{folder}/monitor.db", "sqlite:///state/monitor.db")
    config.write_text(text, encoding="utf-8")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    command = [sys.executable, "-m", "monitor", "check", "--config", str(config), "--source", "mfa-en-press"]

    done = subprocess.run(command, capture_output=True, text=True, cwd=elsewhere, timeout=60)
    exported = run_cli("export", "--config", str(config))

    assert done.returncode == 0, done.stderr
    assert (folder / "state" / "monitor.db").is_file()
    assert list(elsewhere.iterdir()) == [], "nothing is written in the working directory"
    assert exported[0] == 0 and '"doc_id": "t1793427"' in exported[1]
