"""`monitor validate` and `monitor check`: read the config; poll sources once and deliver what is pending."""

from __future__ import annotations

import argparse
import asyncio
import sys

from monitor.app import open_app
from monitor.commands._common import Command, add_config_argument, load
from monitor.config import Config
from monitor.pipeline import SourceReport

__all__ = ["COMMANDS"]


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)


def _validate(args: argparse.Namespace) -> int:
    config = load(args.config)
    print(f"{config.path}: OK, {len(config.sources)} sources, {len(config.webhooks)} webhooks")
    return 0


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--source", action="append", metavar="ID", help="check only this source (repeatable)")
    parser.add_argument("--revisit", action="store_true", help="re-fetch every known article within the horizon now")


async def check_once(config: Config, source_ids: list[str] | None, revisit: bool) -> list[SourceReport]:
    """Poll the chosen sources once, then deliver pending webhooks within the configured bound."""
    sources = [config.source(sid) for sid in source_ids] if source_ids else list(config.sources)
    async with open_app(config) as app:
        reports = await asyncio.gather(*(app.pipeline.check_source(s, revisit_all=revisit) for s in sources))
        if config.webhooks:
            from monitor.outbox import Outbox

            await Outbox(config, app.store, app.client, app.clock).run_until_idle(
                config.check_delivery_timeout.total_seconds()
            )
    return list(reports)


def describe(report: SourceReport) -> str:
    """Return one line saying what a check of one source found."""
    if report.outcome in ("error", "blocked", "layout"):
        return f"{report.source_id}: FAILED ({report.outcome}): {report.error}"
    events = ", ".join(f"{n} {kind}" for kind, n in sorted(report.events.items())) or "none"
    listing = "unchanged" if report.listing_status == 304 else f"{report.links} links"
    return (
        f"{report.source_id}: {listing}, {report.new} new, {report.fetched} fetched "
        f"({report.not_modified} not modified), {report.failed} failed fetches; events: {events}"
    )


def _check(args: argparse.Namespace) -> int:
    config = load(args.config)
    reports = asyncio.run(check_once(config, args.source, args.revisit))
    for report in reports:
        print(describe(report), file=sys.stdout)
    return 0


COMMANDS = {
    "validate": Command("check a config file and exit (2 on any mistake)", _validate_arguments, _validate),
    "check": Command("poll sources once, store what is new, deliver pending webhooks", _check_arguments, _check),
}
