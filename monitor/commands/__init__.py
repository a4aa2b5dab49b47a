"""The registry of `monitor` sub-commands: each name's module and help line.

A command's module is imported only when that command runs, so `monitor check` does not pay for importing the
daemon, the scheduler, the metrics or the demo (a short-lived command's start-up is part of every cron poll).
"""

from __future__ import annotations

import importlib

from monitor.commands._common import Command

__all__ = ["COMMANDS", "Command", "load_command"]

COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate_cli", "check a config file: exit 2 on anything `run` or `check` would refuse"),
    "add": ("add_cli", "show what a news listing holds and the selectors that read it, then add it to the config"),
    "check": ("check", "poll sources once, store what is new, deliver pending webhooks"),
    "export": ("views", "write every article's latest version as JSON lines or CSV"),
    "events": ("views", "write stored events as JSON lines, oldest first"),
    "history": ("views", "list the versions of one article"),
    "diff": ("views", "show what changed between two versions of an article"),
    "extract": ("extract_cli", "print the title, date and text read from saved pages, as JSON (no selectors needed)"),
    "search": ("views", "find articles by words of their title or body, newest first"),
    "deliveries": ("outbox_cli", "list the webhook outbox: what was sent, what waits, what failed"),
    "redeliver": ("outbox_cli", "re-send events (or every failed delivery) now; exit 1 unless all were delivered"),
    "webhook-test": ("outbox_cli", "send a signed test event to one webhook; exit 0 on a 2xx answer, else 1"),
    "notify-test": ("outbox_cli", "send a test message to one Apprise notification; exit 0 if it went, else 1"),
    "run": ("service", "run the daemon: poll every source on schedule and deliver webhooks"),
    "status": ("service", "show each source's last success, next due time, failures and articles"),
    "reload": ("service", "make the running daemon (or every fleet member) re-read its config"),
    "migrate": ("service", "create or check the database schema (on PostgreSQL: the fleet's and procrastinate's too)"),
    "web": ("web_cli", "serve the read-only web view and Atom/JSON feeds of the store (no polling)"),
    "demo": ("demo_cli", "run an offline tour: a simulated ministry site, the service, signed webhooks"),
    "simulate": ("simulate_cli", "serve a live simulated ministry site on loopback and write a config to try on it"),
}
"""Sub-command name: (module under monitor.commands, help line)."""


def load_command(name: str) -> Command:
    """Import the module of command `name` and return its Command."""
    module = importlib.import_module(f"monitor.commands.{COMMANDS[name][0]}")
    command: Command = module.COMMANDS[name]
    return command
