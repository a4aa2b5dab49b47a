"""Log setup: text or JSON lines on stderr, one handler however often it is configured, quiet third parties."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from monitor.logs import configure_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_message_and_the_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(verbose=False, fmt="json")

    logging.getLogger("monitor.service.daemon").info(
        "poll %s ok", "mfa-en-press", extra={"source_id": "mfa-en-press", "new": 2}
    )
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("monitor.service.daemon").exception("poll %s crashed", "x")

    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["message"] == "poll mfa-en-press ok"
    assert (first["level"], first["logger"], first["source_id"], first["new"]) == (
        "INFO",
        "monitor.service.daemon",
        "mfa-en-press",
        2,
    )
    assert first["time"].endswith("+00:00")
    assert second["level"] == "ERROR" and "RuntimeError: boom" in second["exc"]


def test_text_lines_and_levels(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(verbose=False, fmt="text")
    configure_logging(verbose=False, fmt="text")  # again: still one line per record

    logging.getLogger("monitor.http.fetch").info("fetch line, only with --verbose")
    logging.getLogger("monitor.service.daemon").info("poll line, always")
    logging.getLogger("httpx").warning("a third-party warning")
    logging.getLogger("httpx").info("HTTP Request: GET ...")

    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" ", 3)[3] for line in lines] == [
        "monitor.service.daemon: poll line, always",
        "httpx: a third-party warning",
    ]


def test_verbose_shows_every_fetch_but_not_httpx_requests(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(verbose=True, fmt="text")

    logging.getLogger("monitor.http.fetch").info("fetch line")
    logging.getLogger("httpx").info("HTTP Request: GET ...")

    assert capsys.readouterr().err.count("\n") == 1


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log format"):
        configure_logging(verbose=False, fmt="xml")
