"""The shipped deployment files agree with the service: compose.yaml's structure, its watch-list, the Dockerfile.

These read them as data: the suite needs no Docker. `.ci/image` builds the image and runs it (docs/service.md).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from conftest import ROOT, RunCli

from monitor.config import load_config


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return data


def _seconds(text: str) -> float:
    return float(text.removesuffix("s"))


def test_compose_runs_the_service_against_its_postgresql_with_safe_defaults() -> None:
    compose = _compose()
    db, monitor = compose["services"]["db"], compose["services"]["monitor"]
    command = monitor["command"]
    option = dict(zip(command, command[1:], strict=False))

    assert monitor["depends_on"]["db"]["condition"] == "service_healthy" and "healthcheck" in db
    assert command[:4] == ["monitor", "--log-format", "json", "run"]
    mounts = dict(volume.split(":")[:2] for volume in monitor["volumes"])  # source: target
    assert mounts["./config/compose.toml"] == option["--config"]
    assert f"./config/compose.toml:{option['--config']}:ro" in monitor["volumes"], "the watch-list is read-only"
    assert (ROOT / "config" / "compose.toml").is_file()
    assert option["--pid-file"].startswith(mounts["monitor-data"] + "/"), "the pid file lives on the data volume"
    assert all(port.startswith("127.0.0.1:") for port in monitor["ports"]), "probes published on loopback only"
    assert float(option["--stop-timeout"]) < _seconds(monitor["stop_grace_period"])
    assert monitor["read_only"] is True and monitor["cap_drop"] == ["ALL"]
    assert set(compose["volumes"]) == {"pgdata", "monitor-data"}
    assert set(compose["secrets"]) == set(db["secrets"]) | set(monitor["secrets"])
    assert monitor["environment"]["PGPASSFILE"] == "/run/secrets/pgpass"


def test_the_compose_watch_list_is_the_shipped_one_on_the_compose_database(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The container's web view listens on all addresses, so its watch-list takes a token from the environment.
    monkeypatch.setenv("MONITOR_HTTP_TOKEN", "a-token-of-sixteen-plus-characters")
    shipped = load_config(ROOT / "config" / "sources.toml")
    compose = load_config(ROOT / "config" / "compose.toml")
    user, host = _compose()["services"]["db"]["environment"]["POSTGRES_USER"], "db"

    assert compose.sources == shipped.sources and compose.http == shipped.http
    assert compose.database == f"postgresql://{user}@{host}:5432/{user}"
    assert run_cli("validate", "--strict", "--config", str(ROOT / "config" / "compose.toml"))[0] == 0


def test_the_image_checks_readiness_and_stops_within_dockers_bound() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    healthcheck = dockerfile.split("HEALTHCHECK", 1)[1].split("\n\n", 1)[0]
    stop = re.search(r'"--stop-timeout", "(\d+)"', dockerfile)

    assert "http://127.0.0.1:8787/readyz" in healthcheck and "/healthz" not in healthcheck
    assert stop is not None and int(stop.group(1)) < 10, "docker stop waits 10 s by default"


def test_the_image_is_built_from_python_3_11_slim_unless_told_otherwise() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")

    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE) == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    assert re.search(r"^USER monitor:monitor$", dockerfile, re.MULTILINE)


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_else() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line for line in ignore if line and not line.startswith("#")]
    kept = {pattern.removeprefix("!").rstrip("/") for pattern in patterns if pattern.startswith("!")}
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copies = re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.MULTILINE)
    copied = {source.rstrip("*") for sources in copies for source in sources.split()}

    assert patterns[0] == "*", "everything is left out but what is named"
    assert copied == kept, "each COPY source is in the context, and the context has nothing else"
