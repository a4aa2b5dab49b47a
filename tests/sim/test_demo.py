"""`monitor demo` runs offline end to end: the real service, a simulated site, verified webhooks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

from storage import SourceState, open_store


def _stale_demo_database(folder: Path) -> None:
    """Leave what an earlier demo leaves: a database whose baseline was taken at another port."""
    folder.mkdir()
    store = open_store(f"sqlite:///{folder}/demo.db")
    try:
        store.save_source_state(SourceState("mfa-en-press", baseline_done=True, link_count=2))
    finally:
        store.close()


def _demo(folder: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "monitor", "demo", "--dir", str(folder)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_demo_shows_publish_edit_delete_with_verified_webhooks(tmp_path: Path) -> None:
    # Two tours at once (each mostly waits for its 2 s polls): one in a folder that does not exist yet, one in the
    # folder of an earlier tour.
    new, reused = tmp_path / "new" / "demo", tmp_path / "reused"
    _stale_demo_database(reused)
    tours = {folder: _demo(folder) for folder in (new, reused)}
    results = {folder: process.communicate(timeout=110) for folder, process in tours.items()}

    for folder, (stdout, stderr) in results.items():
        assert tours[folder].returncode == 0, stderr
        _assert_tour(folder, stdout)


def _assert_tour(folder: Path, stdout: str) -> None:
    received = [line for line in stdout.splitlines() if "webhook received:" in line]
    assert [line.split()[2] for line in received] == ["article.published", "article.updated", "article.removed"]
    assert all("[signature verified," in line for line in received)
    assert "[-is a brazen liar.-]{+is, once again, mistaken.+}" in stdout, "plain diff when piped"
    assert "`monitor run` stopped with exit code 0" in stdout
    assert f"database and config are in {folder}" in stdout
    events = subprocess.run(
        [sys.executable, "-m", "monitor", "events", "--config", str(folder / "demo.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert [json.loads(line)["type"] for line in events.stdout.splitlines()] == [
        "article.published",
        "article.updated",
        "article.removed",
    ], "no false 'published' events for the articles of the baseline"
