"""The `monitor` command line: parse arguments, run one command, print; errors become one line and an exit code.

Exit codes: 0 ran; 1 could not run (store or network unusable); 2 bad config or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from monitor.commands import COMMANDS
from monitor.errors import ConfigError, MonitorError
from monitor.logs import LOG_FORMATS, configure_logging
from storage import StorageError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every registered command."""
    parser = argparse.ArgumentParser(prog="monitor", description="Watch government ministry news pages.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every fetch")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="text", help="log lines as text or JSON")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        child = sub.add_parser(name, help=command.help, description=command.help)
        command.arguments(child)
        child.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose, args.log_format)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except ConfigError as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return 2
    except (MonitorError, StorageError) as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
