"""Output hygiene: secrets in URLs masked, control characters escaped, CSV cells never formulas."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import RunCli
from test_hostile import hostile_config

from monitor.logs import configure_logging
from monitor.redact import printable, redact_url, redact_urls, spreadsheet_safe
from monitor.sim.hostile import Behaviour, hostile_server, listing, pages, response, source_toml

TOKEN = "T0KEN-b1c2d3"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://hooks.slack.com/services/T0/B0/{TOKEN}", "https://hooks.slack.com/…"),
        (f"hooks.slack.com/services/{TOKEN}", "hooks.slack.com/…"),
        (f"https://user:{TOKEN}@hooks.example.org/x", "https://hooks.example.org/…"),
        (f"https://hooks.example.org?token={TOKEN}", "https://hooks.example.org/…"),
        ("https://hooks.example.org", "https://hooks.example.org"),
    ],
)
def test_redact_url_keeps_scheme_and_host_only(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_urls_masks_passwords_in_free_text() -> None:
    text = f"cannot reach postgresql://monitor:{TOKEN}@db.internal/monitor or https://a:{TOKEN}@x.org/p"
    assert redact_urls(text) == "cannot reach postgresql://***@db.internal/monitor or https://***@x.org/p"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2Jtitle", "\\u001b[2Jtitle"),
        ("a\x9b31mb", "a\\u009b31mb"),
        ("line\nbreak\ttab", "line\\u000abreak\\u0009tab"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
        ("plain 中文 é", "plain 中文 é"),
    ],
)
def test_printable_escapes_controls_and_bidi_overrides(text: str, shown: str) -> None:
    assert printable(text) == shown


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain\ntext", "plain\ntext"),
        ("bell\x07", "bell\\u0007"),
    ],
)
def test_spreadsheet_safe_neutralises_formulas(cell: str, safe: str) -> None:
    assert spreadsheet_safe(cell) == safe


def test_logs_mask_url_passwords_and_escape_controls(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(False)
    logging.getLogger("monitor.test").warning("store %s said %s", f"postgresql://u:{TOKEN}@db/x", "\x1b[31mred")
    err = capsys.readouterr().err
    assert TOKEN not in err and "\x1b" not in err
    assert "postgresql://***@db/x said \\u001b[31mred" in err


HOSTILE_TITLE = '=HYPERLINK("http://evil")\x1b]0;pwned\x07\x1b[2J'


def test_a_hostile_title_is_escaped_in_history_and_neutralised_in_csv(tmp_path: Path, run_cli: RunCli) -> None:
    article = f'<html><body><h1>{HOSTILE_TITLE}</h1><div class="body"><p>Body text.</p></div></body></html>'
    site = pages({"/news/": response(200, listing(["/news/1.html"])), "/news/1.html": response(200, article.encode())})
    with hostile_server([Behaviour("site", site)]) as server:
        config = hostile_config(tmp_path, source_toml("site", server["site"].base + "/news/"))
        code, _out, err = run_cli("check", "--config", str(config))
        assert code == 0, err
        url = server["site"].base + "/news/1.html"
    _code, history, _err = run_cli("history", "--config", str(config), url)
    _code, exported, _err = run_cli("export", "--config", str(config), "--format", "csv")
    _code, events, _err = run_cli("events", "--config", str(config))

    for output in (history, exported, events):
        assert "\x1b" not in output and "\x07" not in output
    assert "\\u001b]0;pwned\\u0007" in history
    assert "\"'=HYPERLINK(" in exported and ",=" not in exported and ',"=' not in exported


def test_validate_never_prints_a_webhook_token(tmp_path: Path, run_cli: RunCli) -> None:
    hook = f'[[webhooks]]\nid = "chat"\nurl = "hooks.slack.com/services/T0/B0/{TOKEN}"\n'
    config = hostile_config(tmp_path, source_toml("site", "http://127.0.0.1:9/news/") + hook)
    code, out, err = run_cli("validate", "--config", str(config))
    assert code == 2
    assert TOKEN not in out + err
    assert "'hooks.slack.com/…' is not an http(s) URL" in err
