"""The tools we compare against, each installed into its own venv under bench/.venvs/ on first use.

urlwatch: same listing URLs, reporters off, its own cache. trafilatura: `extract` on the same saved pages.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.measure import Run, run_measured

__all__ = ["Urlwatch", "clean_env", "ensure_venv"]

VENVS = Path(__file__).resolve().parent / ".venvs"
_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}

# urlwatch reports to stdout by default; every reporter is switched off so only checking is measured.
_URLWATCH_CONFIG = """\
display:
  new: false
  error: true
  unchanged: false
  empty-diff: false
report:
  stdout:
    enabled: false
    color: false
  email:
    enabled: false
  html:
    separate: false
  text:
    details: false
    footer: false
"""


def clean_env(home: Path) -> dict[str, str]:
    """Return the environment for a measured child: no proxies (loopback only), HOME and XDG dirs in `home`."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"))
    return env


def ensure_venv(name: str, packages: Sequence[str]) -> Path:
    """Return the venv `bench/.venvs/<name>` with `packages` installed, creating it on first use."""
    venv = VENVS / name
    marker = venv / ".bench-installed"
    wanted = " ".join(packages)
    if marker.exists() and marker.read_text() == wanted:
        return venv
    print(f"bench: installing {wanted} into {venv} ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *packages], check=True)
    marker.write_text(wanted)
    return venv


def package_version(venv: Path, package: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    done = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


class Urlwatch:
    """urlwatch watching the given URLs, with its files in `workdir`."""

    def __init__(self, workdir: Path, urls: Sequence[str]) -> None:
        self.venv = ensure_venv("urlwatch", ["urlwatch"])
        self.version = package_version(self.venv, "urlwatch")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        jobs = "".join(f"---\nname: listing {n}\nurl: {url}\n" for n, url in enumerate(urls))
        (workdir / "urls.yaml").write_text(jobs, encoding="utf-8")
        (workdir / "urlwatch.yaml").write_text(_URLWATCH_CONFIG, encoding="utf-8")

    def argv(self) -> list[str]:
        w = self.workdir
        return [
            str(self.venv / "bin" / "urlwatch"),
            "--urls",
            str(w / "urls.yaml"),
            "--config",
            str(w / "urlwatch.yaml"),
            "--cache",
            str(w / "cache.db"),
            "--hooks",
            str(w / "hooks.py"),
        ]

    def run(self) -> Run:
        """Check every URL once and return the measurements."""
        return run_measured(self.argv(), env=clean_env(self.workdir), cwd=self.workdir)

    def startup(self) -> Run:
        """Load urlwatch and its job list without checking anything (`--list`): the fixed cost of a run."""
        return run_measured([*self.argv(), "--list"], env=clean_env(self.workdir), cwd=self.workdir)
