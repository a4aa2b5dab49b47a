"""Origins are scheme + host + port: another port on the listing's host is another site; IPv6 literals work."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import RunCli
from test_hostile import hostile_config, lines_by_source

from monitor.http import same_site
from monitor.pages import normalise_url
from monitor.sim.hostile import ARTICLE, Behaviour, healthy, hostile_server, listing, pages, response, source_toml

HOME = "http://news.example:8080/list/"


@pytest.mark.parametrize(
    ("url", "allow", "expected"),
    [
        ("http://news.example:8080/a.html", (), True),
        ("http://NEWS.example:8080/a.html", (), True),
        ("http://news.example:8081/a.html", (), False),
        ("http://news.example/a.html", (), False),
        ("http://news.example:8081/a.html", ("news.example:8081",), True),
        ("http://news.example:8081/a.html", ("news.example:8082",), False),
        ("http://news.example:8081/a.html", ("news.example",), True),
        ("http://cdn.news.example/a.html", ("news.example",), True),
        ("http://evilnews.example/a.html", ("news.example",), False),
        ("ftp://news.example:8080/a.html", (), False),
        ("http://news.example:99999/a.html", (), False),
    ],
)
def test_same_site_compares_scheme_host_and_port(url: str, allow: tuple[str, ...], expected: bool) -> None:
    assert same_site(url, HOME, allow) is expected


@pytest.mark.parametrize(
    ("url", "home", "expected"),
    [
        ("https://site.example/a", "http://site.example/list/", True),  # the usual move to https
        ("http://site.example/a", "https://site.example/list/", True),
        ("https://site.example:8443/a", "http://site.example/list/", False),
        ("http://[::1]:8080/a", "http://[::1]:8080/list/", True),
        ("http://[::1]:8081/a", "http://[::1]:8080/list/", False),
    ],
)
def test_default_ports_and_ipv6_literals(url: str, home: str, expected: bool) -> None:
    assert same_site(url, home) is expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://[::1]:8080/news/1.html#top", "http://[::1]:8080/news/1.html"),
        ("HTTP://[::1]:80/news/", "http://[::1]/news/"),
        ("http://[2001:DB8::1]/x", "http://[2001:db8::1]/x"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
    ],
)
def test_ipv6_literals_round_trip_through_normalising(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


def test_links_and_redirects_to_another_port_are_not_followed(tmp_path: Path, run_cli: RunCli) -> None:
    decoy = Behaviour("decoy", pages({}), host="127.0.0.9")
    site = Behaviour("site", pages({}), host="127.0.0.9")
    with hostile_server([decoy, site]) as server:
        other = server["decoy"].base
        decoy.handler = pages({f"/news/{n}.html": response(200, ARTICLE.format(n="decoy").encode()) for n in range(3)})
        site.handler = pages(
            {
                "/news/": response(200, listing(["/news/0.html", other + "/news/1.html", "/news/2.html"])),
                "/news/0.html": response(200, ARTICLE.format(n=0).encode()),
                "/news/2.html": response(302, b"", {"Location": other + "/news/2.html"}),
            }
        )
        config = hostile_config(tmp_path, source_toml("site", server["site"].base + "/news/"))
        code, out, err = run_cli("check", "--config", str(config))

    assert code == 0, err
    assert "site: 2 links, 2 new, 2 fetched" in lines_by_source(out)["site"]
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        titles = [row[0] for row in db.execute("SELECT title FROM versions")]
    assert titles == ["Article 0"]


def test_an_ipv6_literal_source_is_checked(tmp_path: Path, run_cli: RunCli) -> None:
    with hostile_server([Behaviour("site", healthy(), host="::1")]) as server:
        config = hostile_config(tmp_path, source_toml("site", server["site"].base + "/news/"))
        code, out, err = run_cli("check", "--config", str(config))
    assert code == 0, err
    assert "site: 3 links, 3 new, 3 fetched" in lines_by_source(out)["site"]
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        urls = sorted(row[0] for row in db.execute("SELECT url FROM articles"))
    assert urls == [f"{server['site'].base}/news/{n}.html" for n in range(3)]
