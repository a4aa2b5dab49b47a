"""Run the built image against a simulated ministry and check it as an operator would (.ci/image calls this).

`monitor simulate` serves the site on the host's loopback; the image runs with --network host, a fresh data volume
and a watch-list mounted over /app/config/sources.toml, with its own command and health check (only the port is
changed, so that runs do not clash on 8787). Each check prints what it measured; the first failure exits 1.
Not a pytest module: the test suite does not need Docker.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from monitor.sim import MFA_EN_PRESS, write_sources_config

IMAGE_PORT = 8787
USER_ID = 10001
DOCKER_STOP_S = 10.0  # `docker stop` sends SIGKILL after this long by default
READY_WITHIN_S = 60.0
ARTICLE_WITHIN_S = 60.0
CONFIG_IN_IMAGE = "/app/config/sources.toml"
DATABASE_IN_IMAGE = Path("/app/data/monitor.db")

T = TypeVar("T")


class CheckError(Exception):
    """A check failed: the message says what was expected and what was seen."""


@dataclass(frozen=True, slots=True)
class Run:
    """One container under test: its name, data volume, watch-list file on the host, port and token."""

    image: str
    name: str
    volume: str
    config: Path
    port: int
    token: str


def docker(*args: str, timeout_s: float = 60.0) -> str:
    """Return `docker ARGS`'s output; raise CheckError with its error output if it fails."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise CheckError(f"docker {shlex.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout.strip()


def wait_for(what: str, within_s: float, probe: Callable[[], T | None], every_s: float = 0.25) -> T:
    """Return the first value `probe` gives that is not None; raise CheckError after `within_s`."""
    deadline = time.monotonic() + within_s
    while (value := probe()) is None:
        if time.monotonic() > deadline:
            raise CheckError(f"{what}: not within {within_s:g} s")
        time.sleep(every_s)
    return value


def say(check: str, text: str) -> None:
    print(f"  ok  {check:<10} {text}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def simulated_ministry(folder: Path) -> Iterator[list[tuple[str, str, str]]]:
    """Serve `monitor simulate` (two listings, no scripted changes) on loopback; yield its (id, name, url)s."""
    config = folder / "simulate.toml"
    monitor = str(Path(sys.executable).with_name("monitor"))  # this venv's
    command = [monitor, "simulate", "--port", "0", "--sources", "2", "--articles", "3", "--seed", "15"]
    command += ["--publish-every", "0", "--edit-every", "0", "--delete-every", "0", "--config-out", str(config)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process, lines), daemon=True).start()
    try:
        wait_for("monitor simulate's ready line", 30.0, lambda: _serving(lines, process))
        sources = tomllib.loads(config.read_text(encoding="utf-8"))["sources"]
        yield [(source["id"], source["name"], source["url"]) for source in sources]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _read_lines(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    for line in process.stdout or ():
        lines.put(line)


def _serving(lines: queue.Queue[str], process: subprocess.Popen[str]) -> bool | None:
    if process.poll() is not None:
        raise CheckError(f"monitor simulate exited {process.returncode}")
    while not lines.empty():
        if lines.get().startswith("script:"):  # the last line it prints once its config is written
            return True
    return None


def write_watch_list(path: Path, sources: list[tuple[str, str, str]]) -> None:
    """Write (in place: the container sees the same file) a watch-list of `sources` on the volume's database."""
    monitor = {"http_token": "${MONITOR_HTTP_TOKEN}", "host_delay": "0s", "timeout": "5s"}
    text = path.with_suffix(".new")
    source = {"interval": "10s"}  # polled within a second of starting (the phase is up to a tenth of the interval)
    write_sources_config(text, sources, DATABASE_IN_IMAGE, template=MFA_EN_PRESS, monitor=monitor, source=source)
    with path.open("w", encoding="utf-8") as file:
        file.write(text.read_text(encoding="utf-8"))
    text.unlink()
    path.chmod(0o644)


def image_config(image: str) -> tuple[list[str], list[str]]:
    """Return the image's command and health check test with the web view's port replaced by "{port}"."""
    config: dict[str, Any] = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image))
    command: list[str] = config.get("Cmd") or []
    test: list[str] = (config.get("Healthcheck") or {}).get("Test") or [""]
    at = command.index("--http") + 1 if "--http" in command[:-1] else None
    if at is None or command[at] != f"0.0.0.0:{IMAGE_PORT}":
        raise CheckError(f"the image's command does not serve on 0.0.0.0:{IMAGE_PORT}: {command}")
    if test[0] != "CMD" or f":{IMAGE_PORT}/readyz" not in test[-1]:
        raise CheckError(f"the image's health check does not ask :{IMAGE_PORT}/readyz: {test}")
    command[at] = "0.0.0.0:{port}"
    return command, [*test[1:-1], test[-1].replace(f":{IMAGE_PORT}/", ":{port}/")]


def start(run: Run) -> float:
    """Start the container as an operator would (its own command and health check, on `run.port`)."""
    command, health = image_config(run.image)
    port = str(run.port)
    health_cmd = shlex.join(part.replace("{port}", port) for part in health)
    docker("volume", "create", run.volume)
    started = time.monotonic()
    docker(
        "run", "--detach", "--name", run.name, "--network", "host",
        "--env", f"MONITOR_HTTP_TOKEN={run.token}",
        "--volume", f"{run.volume}:/app/data", "--volume", f"{run.config}:{CONFIG_IN_IMAGE}:ro",
        "--health-cmd", health_cmd, "--health-interval", "1s", "--health-start-period", "30s",
        run.image, *(part.replace("{port}", port) for part in command),
    )  # fmt: skip
    return started


def http_status(url: str, token: str | None = None) -> int:
    """Return the status `url` answers with (0: no answer); proxies from the environment are not used."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with opener.open(request, timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def check_user(run: Run) -> None:
    state = json.loads(docker("inspect", "--format", "{{json .State}}", run.name))
    if not state["Running"]:
        raise CheckError(f"the container is not running: it exited {state['ExitCode']}")
    pid = state["Pid"]
    status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    uids, gids = status["Uid"].split(), status["Gid"].split()
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    if set(uids) != {str(USER_ID)} or set(gids) != {str(USER_ID)}:
        raise CheckError(f"the daemon (host pid {pid}) runs as uid {uids}, gid {gids}, not {USER_ID}")
    inside = docker("exec", run.name, "id")
    say("user", f"the daemon (pid 1; host pid {pid}: {b' '.join(args[1:4]).decode()} ...) runs as {inside}")


def check_ready(run: Run, started: float) -> None:
    base = f"http://127.0.0.1:{run.port}"
    wait_for("/readyz answering 200", READY_WITHIN_S, lambda: _ready(run, f"{base}/readyz"))
    ready_s = time.monotonic() - started
    metrics = http_status(f"{base}/metrics"), http_status(f"{base}/metrics", run.token)
    if metrics != (401, 200):
        raise CheckError(f"/metrics answered {metrics[0]} without the token and {metrics[1]} with it, not 401, 200")
    say("ready", f"/readyz 200 {ready_s:.1f} s after `docker run`; /metrics 401 without the token, 200 with it")
    health = wait_for("Docker's health check passing", 30.0, lambda: _health(run.name, "healthy"))
    say("health", f"Docker's health check (the image's, on port {run.port}) reports {health}")


def _ready(run: Run, url: str) -> bool | None:
    if http_status(url) == 200:
        return True
    state = json.loads(docker("inspect", "--format", "{{json .State}}", run.name))
    if not state["Running"]:
        raise CheckError(f"the container stopped before /readyz answered: it exited {state['ExitCode']}")
    return None


def _health(name: str, wanted: str) -> str | None:
    status = docker("inspect", "--format", "{{.State.Health.Status}}", name)
    return status if status == wanted else None


def articles(run: Run) -> dict[str, int]:
    """Return each source's stored article count, as `monitor status --json` in the container reports it."""
    report = json.loads(docker("exec", run.name, "monitor", "status", "--config", CONFIG_IN_IMAGE, "--json"))
    return {row["source"]: row["articles"] for row in report["sources"]}


def check_article(run: Run, source_id: str) -> None:
    started = time.monotonic()
    count = wait_for(
        f"an article of {source_id} stored", ARTICLE_WITHIN_S, lambda: articles(run).get(source_id) or None
    )
    mountpoint = Path(docker("volume", "inspect", "--format", "{{.Mountpoint}}", run.volume))
    database = mountpoint / DATABASE_IN_IMAGE.name
    if os.access(mountpoint, os.R_OK):  # root's: the volumes live under /var/lib/docker
        size = f"{sum(path.stat().st_size for path in mountpoint.glob(database.name + '*')) / 1e3:.0f} kB with its WAL"
    else:
        size = "size not readable"
    say("article", f"{count} articles of {source_id} stored in {time.monotonic() - started:.1f} s: {database}, {size}")


def check_reload(run: Run, sources: list[tuple[str, str, str]]) -> None:
    write_watch_list(run.config, sources)
    before = len(_logs(run.name))
    started = time.monotonic()
    docker("kill", "--signal", "HUP", run.name)
    line = wait_for("a 'config reloaded' log line", 20.0, lambda: _reloaded(run.name, before))
    new = sources[-1][0]
    count = wait_for(
        f"an article of {new} (added by the reload)", ARTICLE_WITHIN_S, lambda: articles(run).get(new) or None
    )
    say("reload", f"SIGHUP logged {line!r}; {count} articles of the added {new} {time.monotonic() - started:.1f} s on")


def _logs(name: str) -> list[str]:
    done = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=30)
    return (done.stdout + done.stderr).splitlines()


def _message(line: str) -> str:
    """Return a JSON log line's message (a line that is not JSON, such as a traceback's, as it is)."""
    try:
        message: str = json.loads(line)["message"]
    except (ValueError, TypeError, KeyError):
        return line
    return message


def _reloaded(name: str, after: int) -> str | None:
    return next((_message(line) for line in _logs(name)[after:] if "config reloaded" in line), None)


def check_stop(run: Run) -> None:
    started = time.monotonic()
    docker("stop", run.name, timeout_s=DOCKER_STOP_S + 20)
    took_s = time.monotonic() - started
    state = json.loads(docker("inspect", "--format", "{{json .State}}", run.name))
    if state["ExitCode"] != 0 or state["OOMKilled"] or took_s >= DOCKER_STOP_S:
        raise CheckError(f"`docker stop` took {took_s:.1f} s and the daemon exited {state['ExitCode']}")
    last = _message((_logs(run.name) or [""])[-1])
    say("stop", f"`docker stop`: exit 0 in {took_s:.1f} s (Docker kills at {DOCKER_STOP_S:g} s); last log: {last!r}")


def check_volume(run: Run, sources: list[tuple[str, str, str]]) -> None:
    """A new container, with no network, reads the articles back from the volume."""
    export = docker(
        "run", "--rm", "--network", "none", "--env", f"MONITOR_HTTP_TOKEN={run.token}",
        "--volume", f"{run.volume}:/app/data", "--volume", f"{run.config}:{CONFIG_IN_IMAGE}:ro",
        run.image, "monitor", "export", "--config", CONFIG_IN_IMAGE, "--format", "jsonl",
    )  # fmt: skip
    rows = [json.loads(line) for line in export.splitlines()]
    found = {row.get("source") for row in rows}
    if not rows or not found >= {source_id for source_id, _, _ in sources}:
        raise CheckError(f"a new container read {len(rows)} articles back from the volume, of sources {found}")
    say("volume", f"a new container read {len(rows)} articles back from {run.volume}, e.g. {rows[0].get('title')!r}")


def check(run: Run, sources: list[tuple[str, str, str]]) -> None:
    write_watch_list(run.config, sources[:1])
    started = start(run)
    check_user(run)
    check_ready(run, started)
    check_article(run, sources[0][0])
    check_reload(run, sources)
    check_stop(run)
    check_volume(run, sources)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", required=True)
    image = parser.parse_args().image
    tag = f"ministry-monitor-check-{os.getpid()}"
    with tempfile.TemporaryDirectory() as folder, simulated_ministry(Path(folder)) as sources:
        token = secrets.token_hex(24)
        run = Run(image, tag, tag, Path(folder) / "sources.toml", free_port(), token)
        print(f".ci/image: checking {image} as {tag} on port {run.port} against {sources[0][2]}", flush=True)
        try:
            check(run, sources)
        except (CheckError, subprocess.TimeoutExpired) as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            for line in _logs(run.name)[-30:]:
                print(f"  | {line}", file=sys.stderr)
            return 1
        finally:
            subprocess.run(["docker", "rm", "--force", run.name], capture_output=True)
            subprocess.run(["docker", "volume", "rm", run.volume], capture_output=True)
    print(".ci/image: the image passed every check", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
