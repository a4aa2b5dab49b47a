"""`monitor simulate` serves a live simulated ministry that the real `monitor check` watches via the written config."""

from __future__ import annotations

import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import RunCli

from monitor.sim import MFA_EN_PRESS, Newsroom, SimSite, packaged_pages

ROOT = Path(__file__).resolve().parents[2]
LINE_TIMEOUT_S = 10.0


@dataclass
class Simulator:
    """A running `monitor simulate` process and what it printed on start."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str]
    url: str
    config: Path
    reader: threading.Thread

    def next_line(self, word: str) -> str:
        """Return the next printed line whose second field is `word` (e.g. "published")."""
        deadline = time.monotonic() + LINE_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line.split()[1:2] == [word]:
                return line
        raise AssertionError(f"no {word!r} line within {LINE_TIMEOUT_S} s")

    def stop(self) -> tuple[int, list[str]]:
        """SIGTERM the simulator; return its exit code and the lines printed after start."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=10)
        self.reader.join(timeout=5)
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        return code, rest


StartSimulator = Callable[..., Simulator]


def _pump(stream: Iterator[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))


@pytest.fixture
def simulate(tmp_path: Path) -> Iterator[StartSimulator]:
    """Start `monitor simulate` (3 listings x 5 articles, seed 1) with its steps given as extra arguments."""
    started: list[Simulator] = []

    def start(*steps: str) -> Simulator:
        command = [sys.executable, "-m", "monitor", "simulate", "--sources", "3", "--articles", "5", "--port", "0"]
        command += ["--config-out", str(tmp_path / "s.toml"), "--seed", "1", *steps]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert process.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
        reader.start()
        seen: dict[str, str] = {}
        while "script" not in seen:
            line = lines.get(timeout=LINE_TIMEOUT_S)
            key, _, value = line.partition(": ")
            seen[key] = value
        sim = Simulator(process, lines, seen["simulated ministry site"].split()[0], Path(seen["config"]), reader)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        if sim.process.poll() is None:
            sim.process.kill()
        sim.process.wait()
        sim.reader.join(timeout=5)
        assert sim.process.stdout is not None
        sim.process.stdout.close()


def _events(config: Path, event_type: str) -> list[str]:
    with sqlite3.connect(config.with_suffix(".db")) as db:
        rows = db.execute("SELECT article_url FROM events WHERE type = ?", (event_type,)).fetchall()
    return [url for (url,) in rows]


def _articles(config: Path) -> int:
    with sqlite3.connect(config.with_suffix(".db")) as db:
        count: int = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    return count


def test_check_stores_every_article_then_reports_the_published_one(simulate: StartSimulator, run_cli: RunCli) -> None:
    sim = simulate("--publish-every", "0.3s", "--edit-every", "0", "--delete-every", "0")
    assert run_cli("check", "--config", str(sim.config))[0] == 0
    assert _articles(sim.config) == 15
    url = sim.next_line("published").split()[2]
    assert url.startswith(sim.url)
    assert run_cli("check", "--config", str(sim.config))[0] == 0
    assert url in _events(sim.config, "article.published")


def test_a_silent_edit_becomes_article_updated(simulate: StartSimulator, run_cli: RunCli) -> None:
    sim = simulate("--publish-every", "0", "--edit-every", "0.3s", "--delete-every", "0")
    assert run_cli("check", "--config", str(sim.config))[0] == 0
    while not sim.lines.empty():  # edits made while the first check ran may already be in its baseline
        sim.lines.get_nowait()
    url = sim.next_line("edited").split()[2]
    assert run_cli("check", "--revisit", "--config", str(sim.config))[0] == 0
    assert url in _events(sim.config, "article.updated")
    assert _events(sim.config, "article.published") == []


def test_a_deleted_article_answers_404_and_is_removed_once_confirmed(simulate: StartSimulator, run_cli: RunCli) -> None:
    sim = simulate("--publish-every", "0", "--edit-every", "0", "--delete-every", "0.3s")
    assert run_cli("check", "--config", str(sim.config))[0] == 0
    url = sim.next_line("deleted").split()[2]
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(url, timeout=5)
    missing.value.close()
    assert missing.value.code == 404
    assert run_cli("check", "--revisit", "--config", str(sim.config))[0] == 0
    time.sleep(2.1)  # the written config's confirm_removal_after
    assert run_cli("check", "--revisit", "--config", str(sim.config))[0] == 0
    assert url in _events(sim.config, "article.removed")


def test_sigterm_stops_cleanly_with_a_request_summary(simulate: StartSimulator) -> None:
    sim = simulate("--publish-every", "0")
    with urllib.request.urlopen(sim.url + "/mfa_eng/s00000/", timeout=5) as reply:
        etag = reply.headers["ETag"]
    request = urllib.request.Request(sim.url + "/mfa_eng/s00000/", headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as not_modified:
        urllib.request.urlopen(request, timeout=5)
    not_modified.value.close()
    assert not_modified.value.code == 304
    code, rest = sim.stop()
    assert code == 0
    assert rest[-1].startswith("stopped: 2 requests: 1 × 200, 1 × 304")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--publish-every", "2x"], "--publish-every: '2x' is not a duration"),
        (["--sources", "0"], "--sources 0 is out of range"),
        (["--bind", "localhost"], "--bind 'localhost' is not an IPv4 address"),
    ],
)
def test_a_bad_argument_exits_2_with_one_line(run_cli: RunCli, tmp_path: Path, args: list[str], message: str) -> None:
    code, out, err = run_cli("simulate", "--config-out", str(tmp_path / "s.toml"), *args)
    assert code == 2
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "s.toml").exists()


def test_the_same_seed_replays_the_same_changes() -> None:
    def changes(seed: int) -> list[object]:
        room = Newsroom(SimSite(), 3, 5, random.Random(seed), packaged_pages())
        return [step() for _ in range(10) for step in (room.publish, room.edit, room.delete)]

    assert changes(7) == changes(7)
    assert changes(7) != changes(8)


def test_the_selectors_are_the_shipped_mfa_en_press_ones() -> None:
    shipped = tomllib.loads((ROOT / "config" / "sources.toml").read_text(encoding="utf-8"))
    source = next(s for s in shipped["sources"] if s["id"] == "mfa-en-press")
    assert {k: source[k] for k in MFA_EN_PRESS} == MFA_EN_PRESS


QUIET = ("--publish-every", "0", "--edit-every", "0", "--delete-every", "0")
USER_WEBHOOK = '\n[[webhooks]]\nid = "mine"\nurl = "http://127.0.0.1:9/hook"\nevents = ["source.failing"]\n'


def test_a_second_run_keeps_the_config_and_the_port_so_nothing_is_announced_twice(
    simulate: StartSimulator, run_cli: RunCli
) -> None:
    first = simulate(*QUIET)
    assert run_cli("check", "--config", str(first.config))[0] == 0
    with first.config.open("a", encoding="utf-8") as config:
        config.write(USER_WEBHOOK)  # the user's own addition, which a rewrite would drop
    written = first.config.read_bytes()
    assert first.stop()[0] == 0

    second = simulate(*QUIET)
    code, out, err = run_cli("check", "--config", str(second.config))

    assert second.url == first.url, "--port 0 on a second run reuses the first run's port"
    assert second.config.read_bytes() == written
    assert code == 0, err
    assert out.count(", 0 new, ") == 3, out
    assert _events(second.config, "article.published") == [], "the same articles at the same URLs: no false news"


def test_a_second_run_that_does_not_match_the_config_is_refused(
    simulate: StartSimulator, run_cli: RunCli, tmp_path: Path
) -> None:
    first = simulate(*QUIET)
    assert first.stop()[0] == 0
    written = first.config.read_bytes()

    code, out, err = run_cli("simulate", "--config-out", str(first.config), "--sources", "4", "--port", "0")

    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "was written for 3 listings at" in err and "--force to overwrite it" in err
    assert first.config.read_bytes() == written
    foreign = tmp_path / "mine.toml"
    foreign.write_text("[monitor]\nbogus = 1\n", encoding="utf-8")
    code, _, err = run_cli("simulate", "--config-out", str(foreign), "--port", "0")
    assert code == 2 and "is not a config this command wrote; --force overwrites it" in err
    assert foreign.read_text(encoding="utf-8") == "[monitor]\nbogus = 1\n"


def test_force_rewrites_the_config_and_still_keeps_the_port(simulate: StartSimulator) -> None:
    first = simulate(*QUIET)
    with first.config.open("a", encoding="utf-8") as config:
        config.write(USER_WEBHOOK)
    assert first.stop()[0] == 0

    second = simulate(*QUIET, "--force")

    assert second.url == first.url
    assert "[[webhooks]]" not in second.config.read_text(encoding="utf-8")
