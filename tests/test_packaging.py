"""An installed copy (the built wheel, not this checkout) carries what it needs and its commands run from it.

The checkout has files an installed copy lacks (config/, tests/fixtures/); a module reading one of those, or
package data left out of the wheel (the demo's saved pages, the SQL schema), works here and fails for a user.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_IN_COPY = (".git", ".venv", ".venvs", "__pycache__", "build", "*.egg-info", "results", ".*_cache", "data")


def build_and_unpack(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the checkout (offline, with the venv's setuptools) and unpack it."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*SKIP_IN_COPY))
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist)]
    subprocess.run([*pip, str(source)], check=True, timeout=300, capture_output=True)
    (wheel,) = dist.glob("ministry_monitor-*.whl")
    installed = tmp_path / "installed"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    return installed


def test_the_installed_copy_validates_simulates_and_checks(tmp_path: Path) -> None:
    installed = build_and_unpack(tmp_path)
    packaged = {str(p.relative_to(installed)) for p in installed.rglob("*") if p.is_file()}
    assert {"storage/schema.sql", "monitor/event.schema.json", "monitor/py.typed"} <= packaged
    assert len([p for p in packaged if p.startswith("monitor/sim/demo_pages/") and p.endswith(".html")]) == 4

    work = tmp_path / "work"  # outside the checkout: nothing can be found relative to it
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(installed)}

    def monitor(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "monitor", *args]
        return subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=120)

    where = subprocess.run(
        [sys.executable, "-c", "import monitor, storage; print(monitor.__file__); print(storage.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert all(Path(line).is_relative_to(installed) for line in where.stdout.split())

    shutil.copy(ROOT / "config" / "sources.toml", work / "sources.toml")
    validated = monitor("validate", "--config", "sources.toml")
    assert validated.returncode == 0, validated.stderr

    command = [sys.executable, "-m", "monitor", "simulate", "--sources", "2", "--articles", "3", "--port", "0"]
    with subprocess.Popen(
        [*command, "--config-out", "sim.toml"], cwd=work, env=env, stdout=subprocess.PIPE, text=True
    ) as server:
        try:
            assert server.stdout is not None
            started = time.monotonic()
            while "config:" not in server.stdout.readline():
                assert time.monotonic() - started < 30 and server.poll() is None, "monitor simulate did not start"
            checked = monitor("check", "--config", "sim.toml")
        finally:
            server.terminate()
            server.wait(timeout=10)

    assert checked.returncode == 0, checked.stderr
    with sqlite3.connect(work / "sim.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM versions").fetchone()[0] == 6
    assert server.returncode == 0
