"""`monitor validate`: refuse every config that `run` or `check` would refuse, and warn about probable mistakes."""

from __future__ import annotations

import argparse
import sys

from monitor.commands._common import Command, add_config_argument, load
from monitor.service.schedule import check_schedules

__all__ = ["COMMANDS"]


def _arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--strict", action="store_true", help="exit 1 if there is any warning (for CI)")
    parser.epilog = "exit status: 0 valid, 1 valid with warnings under --strict, 2 refused"


def _validate(args: argparse.Namespace) -> int:
    config = load(args.config)  # selectors, secrets, the database's scheme and driver
    check_schedules(config)  # cron fields in range, and a cron that ever matches
    for warning in config.warnings:
        print(f"monitor: warning: {config.path}: {warning}", file=sys.stderr)
    verdict = f"OK with {len(config.warnings)} warnings" if config.warnings else "OK"
    counts = f"{len(config.sources)} sources, {len(config.webhooks)} webhooks"
    if config.notifications:
        counts += f", {len(config.notifications)} notifications"
    print(f"{config.path}: {verdict}, {counts}")
    return 1 if args.strict and config.warnings else 0


COMMANDS = {"validate": Command(_arguments, _validate)}
