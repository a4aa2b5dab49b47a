"""`monitor web`: serve the read-only web view and feeds of a store, without polling (beside a fleet, or on a copy)."""

from __future__ import annotations

import argparse
import asyncio
import signal

from monitor.commands._common import Command, add_config_argument, load
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.service import DEFAULT_HOST, DEFAULT_PORT, parse_address
from monitor.web import StoreReader, build_app, check_bind, start_web_server
from storage import describe_url

__all__ = ["COMMANDS"]


def _address(text: str) -> tuple[str, int]:
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _web_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--http",
        type=_address,
        default=(DEFAULT_HOST, DEFAULT_PORT),
        metavar="[HOST:]PORT",
        help=f"where to listen (default {DEFAULT_HOST}:{DEFAULT_PORT}; another host needs [monitor] http_token)",
    )


async def _serve(config: Config, host: str, port: int) -> int:
    reader = StoreReader(config.database)
    try:
        server = await start_web_server(host, port, build_app(config, reader))
    except MonitorError:
        await reader.close()
        raise
    shown = f"[{host}]" if ":" in host else host
    print(
        f"web view of {describe_url(config.database)} on http://{shown}:{server.address[1]}/ (read-only; Ctrl-C stops)"
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.close()
        await reader.close()
    return 0


def _web(args: argparse.Namespace) -> int:
    config = load(args.config)
    host, port = args.http
    check_bind(config, host)
    return asyncio.run(_serve(config, host, port))


COMMANDS = {"web": Command(_web_arguments, _web)}
