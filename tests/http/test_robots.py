"""robots.txt per RFC 9309 against a server of our own: redirects, 4xx, 5xx, unreachable, size cap."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_hostile import hostile_config

from monitor.config import load_config
from monitor.errors import RobotsDeniedError
from monitor.http import Fetcher, build_transport
from monitor.sim.hostile import Behaviour, healthy, hostile_server, pages, response, source_toml

DENY_ALL = b"User-agent: *\nDisallow: /\n"


def robots_outcomes(tmp_path: Path, routes: dict[str, bytes], fetches: int = 1) -> tuple[list[str], list[str]]:
    """Fetch the site's listing `fetches` times; return each outcome and the paths the server was asked for."""
    asked: list[str] = []
    site_pages = healthy()

    async def handle(target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked.append(target)
        if target in routes:
            await pages(routes)(target, reader, writer)
        else:
            await site_pages(target, reader, writer)

    with hostile_server([Behaviour("site", handle)]) as server:
        config = load_config(hostile_config(tmp_path, source_toml("site", server["site"].base + "/news/")))
        source = config.source("site")

        async def fetch_all() -> list[str]:
            transport = build_transport(config.http)
            async with transport:
                fetcher = Fetcher(transport, config.http)
                outcomes = []
                for _ in range(fetches):
                    try:
                        outcomes.append(str((await fetcher.fetch(source, source.url, kind="listing")).status))
                    except RobotsDeniedError as exc:
                        outcomes.append(exc.reason)
                return outcomes

        return asyncio.run(fetch_all()), asked


def redirect(to: str) -> bytes:
    return response(301, b"", {"Location": to})


def test_robots_behind_a_redirect_is_read(tmp_path: Path) -> None:
    routes = {"/robots.txt": redirect("/moved/robots.txt"), "/moved/robots.txt": response(200, DENY_ALL)}
    outcomes, asked = robots_outcomes(tmp_path, routes)
    assert outcomes == ["robots.txt disallows this URL for our User-Agent"]
    assert asked == ["/robots.txt", "/moved/robots.txt"]


def test_five_redirects_are_followed_and_a_sixth_means_unavailable(tmp_path: Path) -> None:
    chain = {f"/r{n}": redirect(f"/r{n + 1}") for n in range(6)}
    five = {"/robots.txt": redirect("/r1"), **chain, "/r5": response(200, DENY_ALL)}
    assert robots_outcomes(tmp_path, five)[0] == ["robots.txt disallows this URL for our User-Agent"]
    six = {"/robots.txt": redirect("/r1"), **chain, "/r6": response(200, DENY_ALL)}
    assert robots_outcomes(tmp_path, six)[0] == ["200"]


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_a_4xx_robots_txt_allows_everything(tmp_path: Path, status: int) -> None:
    assert robots_outcomes(tmp_path, {"/robots.txt": response(status, b"no")})[0] == ["200"]


def test_a_5xx_robots_txt_disallows_everything_for_a_while(tmp_path: Path) -> None:
    outcomes, asked = robots_outcomes(tmp_path, {"/robots.txt": response(503, b"busy")}, fetches=3)
    assert outcomes == ["robots.txt: HTTP 503 (robots.txt unreachable: everything is disallowed for now)"] * 3
    assert asked == ["/robots.txt"]


def test_a_robots_txt_over_500_kib_is_read_up_to_the_cap(tmp_path: Path) -> None:
    huge = DENY_ALL + b"# padding\n" * 100_000
    assert robots_outcomes(tmp_path, {"/robots.txt": response(200, huge)})[0] == [
        "robots.txt disallows this URL for our User-Agent"
    ]
