"""The pure parts of transport routing: which proxy variables count, and which hosts NO_PROXY exempts."""

from __future__ import annotations

import httpx
import pytest

from monitor.config import HttpSettings, Secret, Source
from monitor.http.direct import DirectTransport
from monitor.http.routes import Transports, environment_proxies, no_proxy


@pytest.mark.parametrize(
    ("host", "exempt", "expected"),
    [
        ("www.fmprc.gov.cn", "", False),
        ("www.fmprc.gov.cn", "*", True),
        ("www.fmprc.gov.cn", "fmprc.gov.cn", True),
        ("www.fmprc.gov.cn", ".gov.cn", True),
        ("www.fmprc.gov.cn", "prc.gov.cn", False),
        ("www.fmprc.gov.cn", "localhost, www.fmprc.gov.cn:443", True),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("11.1.2.3", "10.0.0.0/8", False),
        ("::1", "[::1]", True),
        ("::1", "[::1]:8080", True),
        ("intranet", "*.example.org,intranet", True),
        ("www.gov.uk", "gov.uk.evil.example", False),
    ],
)
def test_no_proxy(host: str, exempt: str, expected: bool) -> None:
    assert no_proxy(host, exempt) is expected


def test_environment_proxies_lower_case_wins_and_empty_values_are_ignored() -> None:
    environ = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2", "ALL_PROXY": "", "NO_PROXY": "a,b"}
    assert environment_proxies(environ) == {"https": "http://lower:2", "no": "a,b"}


def test_the_proxy_order_source_then_monitor_then_environment() -> None:
    env = {"HTTPS_PROXY": "http://env:3128", "ALL_PROXY": "socks5://all:1080", "NO_PROXY": "internal.example"}
    url, internal = httpx.URL("https://www.gov.uk/x"), httpx.URL("https://internal.example/x")
    plain = Transports(HttpSettings(), environ=env)
    assert plain.proxy_for(url) == "http://env:3128"
    assert plain.proxy_for(httpx.URL("http://www.gov.uk/x")) == "socks5://all:1080"
    assert plain.proxy_for(internal) is None
    configured = Transports(HttpSettings(proxy=Secret("http://monitor:3128")), environ=env)
    assert configured.proxy_for(url) == "http://monitor:3128"
    assert configured.proxy_for(internal) is None
    own = Source(id="s", name="s", url="https://internal.example/", proxy=Secret("http://own:3128"))
    assert configured.proxy_for(internal, own) == "http://own:3128"


def test_direct_requests_go_through_aiohttp_and_proxied_ones_through_httpx() -> None:
    transports = Transports(HttpSettings(), environ={"HTTPS_PROXY": "http://env:3128"})
    assert isinstance(transports.pick(httpx.URL("http://www.gov.uk/")), DirectTransport)
    assert isinstance(transports.pick(httpx.URL("https://www.gov.uk/")), httpx.AsyncHTTPTransport)
