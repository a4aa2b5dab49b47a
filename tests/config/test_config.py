"""Tests for monitor.config via the real `monitor validate` command: one line naming file, source and key; exit 2."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import Config, Interner, Secret, call_in_child, load_config, parse_config, parse_duration
from monitor.config import parse as config_module
from monitor.errors import ConfigError
from monitor.pages import check_selectors

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "sources.toml"
RunCli = Callable[..., tuple[int, str, str]]  # the conftest `run_cli` fixture
SECRET_VALUE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # Standard Webhooks: whsec_ + base64
LITERAL_SECRET = "literal-Pr1vate-"

BASE = """\
[monitor]
database = "sqlite:///monitor.db"
timeout = "20s"

[[sources]]
id = "mfa-en-press"
name = "MFA (China): Regular Press Conferences"
url = "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/"
interval = "10m"
timezone = "Asia/Shanghai"
[sources.listing]
links = "div.newsLst_mod ul li a"
[sources.article]
title = "div.content_mod h2.title"
body = "div.content_mod div.content"
remove = ["script", "style"]

[[webhooks]]
id = "newsroom"
url = "https://hooks.example.org/ministry"
secret = "${HOOK_SECRET}"
events = ["article.published", "article.updated"]
"""

SECOND_SOURCE = """
[[sources]]
id = "mfa-en-press"
url = "https://www.fmprc.gov.cn/mfa_eng/zxxx_662805/"
[sources.listing]
links = "li a"
[sources.article]
title = "h1"
body = "div.content"
"""

SOURCE = "source 'mfa-en-press': "
WEBHOOK = "source 'webhook newsroom': "
DURATION_HELP = "is not a duration like '30s', '10m', '2h' or '1d'"

# (id, replace this text of BASE, with this, expected message after "monitor: <path>: ")
BAD_CONFIGS = [
    ("unknown-top-level-key", "[monitor]\n", 'colour = "auto"\n[monitor]\n', "key 'colour': unknown key"),
    ("unknown-monitor-key", 'timeout = "20s"', 'timeout = "20s"\ndatabse = "x"', "key 'monitor.databse': unknown key"),
    ("unknown-source-key", 'interval = "10m"', 'intervall = "10m"', SOURCE + "key 'intervall': unknown key"),
    ("unknown-listing-key", 'links = "div', 'link = "div', SOURCE + "key 'listing.link': unknown key"),
    ("unknown-article-key", 'body = "div', 'bodyy = "div', SOURCE + "key 'article.bodyy': unknown key"),
    ("unknown-webhook-key", 'events = ["', 'event = ["', WEBHOOK + "key 'event': unknown key"),
    (
        "bad-selector-links",
        '"div.newsLst_mod ul li a"',
        '"div[[["',
        SOURCE + "key 'listing.links': bad CSS selector 'div[[['",
    ),
    (
        "bad-selector-body",
        '"div.content_mod div.content"',
        '"div.content >"',
        SOURCE + "key 'article.body': bad CSS selector 'div.content >'",
    ),
    (
        "bad-selector-remove",
        '["script", "style"]',
        '["script", "a..b"]',
        SOURCE + "key 'article.remove': bad CSS selector 'a..b'",
    ),
    (
        "duplicate-source-id",
        "\n[[webhooks]]",
        SECOND_SOURCE + "\n[[webhooks]]",
        SOURCE + "key 'id': duplicate source id",
    ),
    ("interval-words", '"10m"', '"10 minutes"', SOURCE + f"key 'interval': '10 minutes' {DURATION_HELP}"),
    ("interval-negative", '"10m"', '"-5m"', SOURCE + f"key 'interval': '-5m' {DURATION_HELP}"),
    ("interval-zero", '"10m"', '"0"', SOURCE + "key 'interval': must be longer than zero"),
    ("interval-bare-number", '"10m"', "600", SOURCE + f"key 'interval': '600' {DURATION_HELP}"),
    ("interval-bool", '"10m"', "true", SOURCE + "key 'interval': must be a duration string like '10m', not bool"),
    ("monitor-timeout-zero", 'timeout = "20s"', 'timeout = "0s"', "key 'monitor.timeout': must be longer than zero"),
    (
        "bad-timezone",
        '"Asia/Shanghai"',
        '"Mars/Olympus_Mons"',
        SOURCE + "key 'timezone': unknown time zone 'Mars/Olympus_Mons'",
    ),
    (
        "timezone-path",
        '"Asia/Shanghai"',
        '"../../etc/passwd"',
        SOURCE + "key 'timezone': unknown time zone '../../etc/passwd'",
    ),
    (
        "url-renamed",
        'url = "https://www.fmprc.gov.cn/mfa_eng/xwfw',
        'home = "https://www.fmprc.gov.cn/mfa_eng/xwfw',
        SOURCE + "key 'home': unknown key",
    ),
    (
        "missing-url",
        'url = "https://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/"\n',
        "",
        SOURCE + "key 'url': missing required key",
    ),
    ("missing-id", 'id = "mfa-en-press"\n', "", "source 'sources[0]': key 'id': missing required key"),
    (
        "bad-url-no-scheme",
        '"https://www.fmprc.gov.cn/mfa_eng/xwfw',
        '"www.fmprc.gov.cn/mfa_eng/xwfw',
        SOURCE + "key 'url': 'www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/' is not an http(s) URL",
    ),
    (
        "bad-url-ftp",
        '"https://www.fmprc.gov.cn/mfa_eng/xwfw',
        '"ftp://www.fmprc.gov.cn/mfa_eng/xwfw',
        SOURCE
        + "key 'url': 'ftp://www.fmprc.gov.cn/mfa_eng/xwfw_665399/s2510_665401/2511_665403/' is not an http(s) URL",
    ),
    (
        "bad-webhook-url",
        '"https://hooks.example.org/ministry"',
        '"hooks.example.org/ministry"',
        # Cut to the host: a webhook URL carries its token in the path (issue 12).
        WEBHOOK + "key 'url': 'hooks.example.org/…' is not an http(s) URL",
    ),
    (
        "secret-env-missing",
        '"${HOOK_SECRET}"',
        f'"{LITERAL_SECRET}${{HOOK_SECRET}}${{MISSING_VAR}}"',
        WEBHOOK + "key 'secret': environment variable MISSING_VAR is not set",
    ),
    (
        "whsec-secret-not-base64",
        '"${HOOK_SECRET}"',
        f'"whsec_{LITERAL_SECRET}"',
        WEBHOOK + "key 'secret': a 'whsec_' secret must be followed by base64 (Standard Webhooks)",
    ),
    (
        "unknown-event-type",
        '"article.updated"]',
        '"article.deleted"]',
        WEBHOOK + "key 'events': unknown event type 'article.deleted'",
    ),
]


@pytest.fixture(autouse=True)
def hook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET_VALUE)
    monkeypatch.delenv("MISSING_VAR", raising=False)


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "sources.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def assert_one_line_error(code: int, out: str, err: str, expected: str) -> None:
    assert (code, out) == (2, "")
    assert err == expected + "\n"
    assert "Traceback" not in err
    assert SECRET_VALUE not in err and LITERAL_SECRET not in err


# -- good configs --------------------------------------------------------------------------------------------------
def test_shipped_config_validates(run_cli: RunCli) -> None:
    code, out, err = run_cli("validate", "--config", str(SHIPPED))
    assert (code, out, err) == (0, f"{SHIPPED}: OK, 7 sources, 0 webhooks\n", "")


def test_shipped_config_parses_into_typed_values() -> None:
    config = load_config(SHIPPED)
    check_selectors(config)
    assert [s.id for s in config.sources] == [
        "mfa-en-press",
        "mfa-zh-fyrbt",
        "mfa-zh-zyxw",
        "mfa-en-news",
        "embassy-uk-news",
        "govuk-home-secretary-news",
        "govuk-publications",
    ]
    press = config.source("mfa-en-press")
    assert press.interval == timedelta(minutes=10)
    assert press.timezone == ZoneInfo("Asia/Shanghai")
    assert press.error_urls == ("/error.htm",)
    assert press.article.date_from == ("selector", "title", "url")
    assert press.article.remove == ("script", "style")
    assert config.source("govuk-publications").interval == timedelta(hours=1)
    assert config.source("embassy-uk-news").timezone == ZoneInfo("Europe/London")
    assert config.http.timeout == timedelta(seconds=20)
    assert config.http.host_delay == timedelta(seconds=1)
    assert (config.http.concurrency, config.http.host_concurrency) == (32, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        press.interval = timedelta(0)  # type: ignore[misc]


def test_base_config_validates(tmp_path: Path, run_cli: RunCli) -> None:
    path = write(tmp_path, BASE)
    assert run_cli("validate", "--config", str(path)) == (0, f"{path}: OK, 1 sources, 1 webhooks\n", "")


# Issue 13 moved three cases out of BAD_CONFIGS ("missing-listing-links", "missing-article-body",
# "missing-article-table"): a source may leave out its selectors, each one read generically instead.
@pytest.mark.parametrize(
    ("old", "new", "links", "title", "body"),
    [
        ('links = "div.newsLst_mod ul li a"\n', "", None, "div.content_mod h2.title", "div.content_mod div.content"),
        ('body = "div.content_mod div.content"\n', "", "div.newsLst_mod ul li a", "div.content_mod h2.title", None),
        (
            '[sources.article]\ntitle = "div.content_mod h2.title"\n'
            'body = "div.content_mod div.content"\nremove = ["script", "style"]\n',
            "",
            "div.newsLst_mod ul li a",
            None,
            None,
        ),
        ('[sources.listing]\nlinks = "div.newsLst_mod ul li a"\n', "", None, "div.content_mod h2.title", None),
    ],
    ids=["no-listing-links", "no-article-body", "no-article-table", "no-listing-table"],
)
def test_selectors_are_optional_key_by_key(
    tmp_path: Path, run_cli: RunCli, old: str, new: str, links: str | None, title: str | None, body: str | None
) -> None:
    text = BASE.replace(old, new)
    if "[sources.listing]" not in text:
        text = text.replace('body = "div.content_mod div.content"\n', "")
    path = write(tmp_path, text)
    assert run_cli("validate", "--config", str(path)) == (0, f"{path}: OK, 1 sources, 1 webhooks\n", "")
    source = load_config(path).source("mfa-en-press")
    assert (source.listing.links, source.article.title, source.article.body) == (links, title, body)


def test_url_only_source(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[sources]]\nid = "bmwk"\nurl = "https://www.bmwk.de/Navigation/DE/Presse/presse.html"\nlanguage = "de"\n',
    )
    source = load_config(path).source("bmwk")
    assert (source.listing.links, source.article.title, source.article.body, source.article.date) == (None,) * 4
    assert source.article.date_from == ("page", "title", "url")
    assert source.language == "de"


def test_date_from_defaults_to_the_selector_when_there_is_one() -> None:
    press = load_config(SHIPPED).source("mfa-zh-fyrbt")
    assert press.article.date_from == ("selector", "title", "url")


# -- bad configs ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("old", "new", "message"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config(tmp_path: Path, run_cli: RunCli, old: str, new: str, message: str) -> None:
    assert BASE.count(old) == 1
    path = write(tmp_path, BASE.replace(old, new))
    code, out, err = run_cli("validate", "--config", str(path))
    assert_one_line_error(code, out, err, f"monitor: {path}: {message}")


def test_missing_file(tmp_path: Path, run_cli: RunCli) -> None:
    path = tmp_path / "nowhere" / "sources.toml"
    code, out, err = run_cli("validate", "--config", str(path))
    assert_one_line_error(code, out, err, f"monitor: {path}: cannot read config: No such file or directory")


def test_directory_instead_of_file(tmp_path: Path, run_cli: RunCli) -> None:
    code, out, err = run_cli("validate", "--config", str(tmp_path))
    assert_one_line_error(code, out, err, f"monitor: {tmp_path}: cannot read config: Is a directory")


NOT_UTF8 = BASE.encode() + b"\n# caf\xe9\n"


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        # tomllib words the problem; we only promise it is on the one line, with its place in the file.
        (BASE.replace("[[sources]]", "[[sources]", 1), r".+ \(at line 5, column \d+\)"),
        (BASE.replace('interval = "10m"', "interval = 10m"), r".+ \(at line 9, column \d+\)"),
        (NOT_UTF8, rf"'utf-8' codec can't decode byte 0xe9 in position {len(NOT_UTF8) - 2}: .+"),
    ],
    ids=["unclosed-table", "unquoted-string", "not-utf8"],
)
def test_invalid_toml(tmp_path: Path, run_cli: RunCli, text: str | bytes, detail: str) -> None:
    path = write(tmp_path, text)
    code, out, err = run_cli("validate", "--config", str(path))
    assert (code, out) == (2, "")
    assert re.fullmatch(re.escape(f"monitor: {path}: not valid TOML: ") + detail + "\n", err)


def test_secret_is_resolved_and_never_shown(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE.replace('"${HOOK_SECRET}"', f'"{LITERAL_SECRET}${{HOOK_SECRET}}"')))
    endpoint = config.webhook("newsroom")
    assert endpoint.secret is not None
    assert endpoint.secret.reveal() == LITERAL_SECRET + SECRET_VALUE
    for shown in (
        repr(config),
        str(config),
        repr(endpoint),
        f"{endpoint}",
        repr(config.webhooks),
        str(endpoint.secret),
    ):
        assert SECRET_VALUE not in shown and LITERAL_SECRET not in shown
    assert "secret=Secret('**********')" in repr(endpoint)


# -- parse_duration and Secret ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", timedelta(0)),
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("250ms", timedelta(milliseconds=250)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        (" 10M ", timedelta(minutes=10)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "10", "m", "10 minutes", "-5m", "5m-3s", "10m5", "1e3s", "ten minutes", "1y", "10m,", "PT10M"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a duration like '30s', '10m', '2h' or '1d'$"):
        parse_duration(text)


def test_secret_masks_itself() -> None:
    secret = Secret("hunter2")
    assert repr(secret) == "Secret('**********')"
    assert str(secret) == "**********"
    assert f"{secret} {secret!r}" == "********** Secret('**********')"
    assert "hunter2" not in repr([secret, {"k": secret}])
    assert secret.reveal() == "hunter2"
    assert secret == Secret("hunter2") and secret != Secret("hunter3") and secret != "hunter2"


# -- memory: shared values, large files parsed in a child process ---------------------------------------------------
def test_sources_share_equal_selectors_lists_and_durations() -> None:
    def source(ident: str, links: str) -> dict[str, object]:
        return {
            "id": ident,
            "url": f"https://example.org/{ident}/",
            "interval": "20s",
            "error_urls": ["/error.htm"],
            "listing": {"links": links},
            "article": {"title": "h1", "body": "div.content", "ignore_text": ["^Share"], "remove": ["script"]},
        }

    # Equal tables but separate objects, as the TOML parser gives each source its own.
    tables = [source("a", "li a"), source("b", "li a"), source("c", "ul a")]
    a, b, c = parse_config({"sources": tables}, path="test.toml", environ={}).sources
    assert a.listing is b.listing and a.listing is not c.listing
    assert a.article is b.article is c.article
    assert a.interval is b.interval and a.error_urls is b.error_urls
    assert a.article.ignore_text is c.article.ignore_text and a.article.remove is c.article.remove


def test_interner_returns_the_first_equal_value_of_the_same_type() -> None:
    share = Interner()
    big = share(int("9" * 30))
    assert share(int("9" * 30)) is big
    assert share(timedelta(seconds=20)) is share(timedelta(seconds=20))
    share(1)
    assert share(True) is True  # 1 == True, but they are not interchangeable


CHILD_CASES = {"unknown-listing-key", "secret-env-missing"}


@pytest.fixture
def parsed_in_child(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the path of every config that load_config parses in a child process."""
    parsed: list[str] = []

    def spy(function: Callable[..., Config], *args: object, path: str) -> Config:
        parsed.append(path)
        return call_in_child(function, *args, path=path)

    monkeypatch.setattr(config_module, "call_in_child", spy)
    return parsed


@pytest.fixture
def in_child(monkeypatch: pytest.MonkeyPatch, parsed_in_child: list[str]) -> list[str]:
    """Parse every config in a child process; return the paths parsed there."""
    monkeypatch.setattr(config_module, "CHILD_PARSE_BYTES", 0)
    return parsed_in_child


def test_only_a_large_file_is_parsed_in_a_child(tmp_path: Path, parsed_in_child: list[str]) -> None:
    small = write(tmp_path, BASE)
    large = tmp_path / "large.toml"
    large.write_text(BASE + "#" * config_module.CHILD_PARSE_BYTES + "\n", encoding="utf-8")
    assert load_config(small) == dataclasses.replace(load_config(large), path=str(small))
    assert parsed_in_child == [str(large)]


def test_config_parsed_in_a_child_equals_one_parsed_here(tmp_path: Path, in_child: list[str]) -> None:
    path = write(tmp_path, SHIPPED.read_text(encoding="utf-8") + BASE[BASE.index("[[webhooks]]") :])
    here = config_module._load(str(path), os.environ)
    there = load_config(path)
    assert in_child == [str(path)]
    assert there == here
    en, zh = there.source("mfa-en-press"), there.source("mfa-zh-fyrbt")
    assert en.error_urls is zh.error_urls and en.interval is zh.interval  # still shared after the trip
    assert en.timezone is ZoneInfo("Asia/Shanghai")
    secret = there.webhook("newsroom").secret
    assert secret is not None and secret.reveal() == SECRET_VALUE


def test_config_error_from_a_child_keeps_its_parts(tmp_path: Path, in_child: list[str]) -> None:
    path = write(tmp_path, BASE.replace('links = "div', 'link = "div'))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert (error.path, error.source_id, error.key) == (str(path), "mfa-en-press", "listing.link")
    assert str(error) == f"{path}: source 'mfa-en-press': key 'listing.link': unknown key"


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [(old, new, re.escape(message)) for name, old, new, message in BAD_CONFIGS if name in CHILD_CASES]
    + [("[[sources]]", "[[sources]", r"not valid TOML: .+ \(at line 5, column \d+\)")],
)
def test_bad_config_parsed_in_a_child(
    tmp_path: Path, run_cli: RunCli, in_child: list[str], old: str, new: str, pattern: str
) -> None:
    path = write(tmp_path, BASE.replace(old, new, 1))
    code, out, err = run_cli("validate", "--config", str(path))
    assert in_child == [str(path)]
    assert (code, out) == (2, "")
    assert re.fullmatch(re.escape(f"monitor: {path}: ") + pattern + "\n", err)


def test_a_child_that_dies_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        call_in_child(os._exit, 3, path="big.toml")
    assert str(caught.value) == "big.toml: the process parsing the config died (exit code 3)"
