"""`python -m bench.transport_child {direct,httpx,aiohttp} check --config ...`: monitor with another transport.

The transport race (bench/transports.py) runs the real `monitor check` in this child, with the transport for direct
connections swapped in before the CLI starts: the monitor's own choice, unchanged (`direct`: httpx-aiohttp wrapped by
monitor/http/direct.py), httpx's default (httpcore on anyio, with sniffio installed) or httpx-aiohttp's bare transport
(what the wrapper costs on top of it). Nothing else differs. Monitor's own HTTP/1.1 transport, the fourth contestant
of BENCHMARKS.md section 14's first race, was deleted after that race (it is in commit 9bf74c5).
"""

from __future__ import annotations

import sys

import httpx

from monitor.cli import main
from monitor.http import routes

__all__ = ["TRANSPORTS"]

TRANSPORTS = ("direct", "httpx", "aiohttp")


def _limits(transports: routes.Transports) -> httpx.Limits:
    return httpx.Limits(max_keepalive_connections=transports.concurrency, keepalive_expiry=routes.KEEPALIVE_EXPIRY_S)


def _httpx(transports: routes.Transports, verify: bool) -> httpx.AsyncBaseTransport:
    return httpx.AsyncHTTPTransport(verify=transports.context(verify), trust_env=False, limits=_limits(transports))


def _aiohttp(transports: routes.Transports, verify: bool) -> httpx.AsyncBaseTransport:
    from httpx_aiohttp import AiohttpTransport

    return AiohttpTransport(verify=transports.context(verify), trust_env=False, limits=_limits(transports))


def run(kind: str, argv: list[str]) -> int:
    if kind not in TRANSPORTS:
        raise SystemExit(f"unknown transport {kind!r}; use one of {TRANSPORTS}")
    if kind != "direct":
        setattr(routes.Transports, "make_direct", _httpx if kind == "httpx" else _aiohttp)  # noqa: B010
    return main(argv)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], sys.argv[2:]))
