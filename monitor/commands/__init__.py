"""The registry of `monitor` sub-commands: one plain dict, built from each command module's own dict."""

from __future__ import annotations

from monitor.commands import check, demo_cli, outbox_cli, service, views
from monitor.commands._common import Command

__all__ = ["COMMANDS", "Command"]

COMMANDS: dict[str, Command] = {
    **check.COMMANDS,
    **views.COMMANDS,
    **outbox_cli.COMMANDS,
    **service.COMMANDS,
    **demo_cli.COMMANDS,
}
