"""`monitor validate` refuses what `run` and `check` would refuse, and warns about probable mistakes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.config import load_config

ROOT = Path(__file__).resolve().parents[2]
RunCli = Callable[..., tuple[int, str, str]]

CONFIG = """\
[monitor]
database = "sqlite:///monitor.db"

[[sources]]
id = "mfa-en-press"
url = "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/"
interval = "10m"
[sources.listing]
links = "div.newsLst_mod ul li a"
[sources.article]
title = "h2.title"
body = "div.content"

[[webhooks]]
id = "newsroom"
url = "https://hooks.example.org/ministry"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
"""

LINKS = 'links = "div.newsLst_mod ul li a"'
REFUSED = [
    ("pages-without-n", LINKS, LINKS + '\npages = "default.shtml"', "source 'mfa-en-press': key 'listing.pages': "),
    ("max-pages-zero", LINKS, LINKS + "\nmax_pages = 0", "source 'mfa-en-press': key 'listing.max_pages': must be"),
    ("bad-next", LINKS, LINKS + '\nnext = "li..a"', "source 'mfa-en-press': key 'listing.next': bad CSS selector"),
    ("cron-minute", 'interval = "10m"', 'cron = "61 * * * *"', "source 'mfa-en-press': key 'cron': "),
    ("cron-day", 'interval = "10m"', 'cron = "0 9 32 * *"', "source 'mfa-en-press': key 'cron': "),
    ("cron-never", 'interval = "10m"', 'cron = "0 9 30 2 *"', "source 'mfa-en-press': key 'cron': "),
    (
        "database-scheme",
        'database = "sqlite:///monitor.db"',
        'database = "mysql://localhost/monitor"',
        "key 'database': unknown database URL scheme 'mysql'; use sqlite:/// or postgresql://",
    ),
]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new", "message"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_validate_refuses_what_run_refuses(tmp_path: Path, run_cli: RunCli, old: str, new: str, message: str) -> None:
    assert CONFIG.count(old) == 1
    path = _write(tmp_path, CONFIG.replace(old, new))

    validated = run_cli("validate", "--config", str(path))
    ran = run_cli("run", "--config", str(path))

    assert validated[0] == 2 and validated[1] == ""
    assert validated[2].startswith(f"monitor: {path}: {message}") and validated[2].count("\n") == 1, validated[2]
    assert ran[0] == 2 and ran[2] == validated[2], "run refuses it with the same line"
    assert not (tmp_path / "monitor.db").exists()


def test_postgresql_without_psycopg_is_refused_in_one_line_by_a_real_process(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    # What Python meets where psycopg is not installed, without uninstalling it from the test environment.
    (shadow / "psycopg.py").write_text("raise ImportError(\"No module named 'psycopg'\")\n", encoding="utf-8")
    path = _write(tmp_path, CONFIG.replace("sqlite:///monitor.db", "postgresql://postgres@127.0.0.1:5432/monitor"))
    env = {**os.environ, "PYTHONPATH": str(shadow)}

    for command in ("validate", "check", "status"):
        done = subprocess.run(
            [sys.executable, "-m", "monitor", command, "--config", str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=60,
        )
        assert done.returncode == 2, (command, done.stderr)
        assert done.stderr == (
            f"monitor: {path}: key 'database': a postgresql:// database needs psycopg: install the postgres extra "
            "from the checkout, pip install -e '.[postgres]'\n"
        )


WARNED = [
    ("short-interval", 'interval = "10m"', 'interval = "5s"', "key 'interval': 5 s is under 10 s"),
    (
        "interval-and-cron",
        'interval = "10m"',
        'interval = "10m"\ncron = "0 9 * * *"',
        "key 'interval': ignored, because 'cron' is set too",
    ),
    (
        "unsigned-webhook",
        'secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"',
        "",
        "webhook 'newsroom': key 'secret': none, so requests are unsigned",
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), [w[1:] for w in WARNED], ids=[w[0] for w in WARNED])
def test_validate_warns_about_probable_mistakes(
    tmp_path: Path, run_cli: RunCli, old: str, new: str, message: str
) -> None:
    path = _write(tmp_path, CONFIG.replace(old, new))

    code, out, err = run_cli("validate", "--config", str(path))
    strict = run_cli("validate", "--strict", "--config", str(path))

    assert code == 0
    assert out == f"{path}: OK with 1 warnings, 1 sources, 1 webhooks\n"
    assert err.startswith(f"monitor: warning: {path}: ") and message in err and err.count("\n") == 1, err
    assert strict[0] == 1 and strict[2] == err


def test_a_clean_config_has_no_warning_and_chat_webhooks_need_no_secret(tmp_path: Path, run_cli: RunCli) -> None:
    clean = _write(tmp_path, CONFIG)
    assert run_cli("validate", "--strict", "--config", str(clean)) == (0, f"{clean}: OK, 1 sources, 1 webhooks\n", "")

    slack = CONFIG.replace('secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"', 'format = "slack"')
    assert load_config(_write(tmp_path, slack)).warnings == ()
