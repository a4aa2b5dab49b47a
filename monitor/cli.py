"""The `monitor` command line: parse arguments, run one command, print; errors become one line and an exit code.

Exit codes: 0 ran (for `check`: every source was checked); 1 could not run (store or network unusable, or for
`check` any source failed); 2 bad config or usage (an unknown option or value, an unknown source or webhook id).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from monitor.commands import COMMANDS, load_command
from monitor.errors import ConfigError, MonitorError, UsageError
from monitor.logs import LOG_FORMATS, configure_logging
from storage import StorageError

__all__ = ["build_parser", "main"]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Return the argument parser: every command listed, the arguments of the one `argv` names (or of all)."""
    parser = _top_level(argparse.ArgumentParser(prog="monitor", description="Watch government ministry news pages."))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = _chosen_command(argv)
    for name, (_module, help_line) in COMMANDS.items():
        child = _top_level(sub.add_parser(name, help=help_line, description=help_line), argparse.SUPPRESS)
        if chosen is None or name == chosen:  # only the command that runs has its module imported
            command = load_command(name)
            command.arguments(child)
            child.set_defaults(run=command.run)
    return parser


def _top_level(parser: argparse.ArgumentParser, default: object = None) -> argparse.ArgumentParser:
    """Add the logging options; a command's own copy defaults to SUPPRESS so `monitor -v check` keeps working."""
    verbose, log_format = (False, "text") if default is None else (default, default)
    parser.add_argument("-v", "--verbose", action="store_true", default=verbose, help="log every fetch")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default=log_format, help="log lines as text or JSON")
    return parser


def _chosen_command(argv: Sequence[str] | None) -> str | None:
    """Return the command `argv` names, if it names a known one (read with the top-level options only)."""
    if argv is None:
        return None
    pre = _top_level(argparse.ArgumentParser(add_help=False))
    pre.add_argument("command", nargs="?")
    known, _rest = pre.parse_known_args(argv)
    name: str | None = known.command
    return name if name in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser(argv).parse_args(argv)
    except SystemExit as exc:  # argparse: 2 after a usage message, 0 after --help
        return exc.code if isinstance(exc.code, int) else 2
    configure_logging(args.verbose, args.log_format)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (ConfigError, UsageError) as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return 2
    except (MonitorError, StorageError) as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
