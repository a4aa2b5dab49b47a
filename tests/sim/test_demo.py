"""`monitor demo` runs offline end to end: the real service, a simulated site, verified webhooks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_demo_shows_publish_edit_delete_with_verified_webhooks(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "demo", "--dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    received = [line for line in result.stdout.splitlines() if "webhook received:" in line]
    assert [line.split()[2] for line in received] == ["article.published", "article.updated", "article.removed"]
    assert all("[signature verified," in line for line in received)
    assert "[-is a brazen liar.-]{+is, once again, mistaken.+}" in result.stdout, "plain diff when piped"
    assert "`monitor run` stopped with exit code 0" in result.stdout
    assert f"database and config are in {tmp_path}" in result.stdout
    events = subprocess.run(
        [sys.executable, "-m", "monitor", "events", "--config", str(tmp_path / "demo.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert [json.loads(line)["type"] for line in events.stdout.splitlines()] == [
        "article.published",
        "article.updated",
        "article.removed",
    ]
