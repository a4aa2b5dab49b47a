"""`monitor validate` and `monitor check`: read the config; poll sources once and deliver what is pending."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from monitor.app import open_app
from monitor.commands._common import Command, add_config_argument, load
from monitor.config import Config, Source
from monitor.pipeline import SourceReport

__all__ = ["COMMANDS"]


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)


def _validate(args: argparse.Namespace) -> int:
    config = load(args.config)
    counts = f"{len(config.sources)} sources, {len(config.webhooks)} webhooks"
    if config.notifications:
        counts += f", {len(config.notifications)} notifications"
    print(f"{config.path}: OK, {counts}")
    return 0


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--source", action="append", metavar="ID", help="check only this source (repeatable)")
    parser.add_argument("--revisit", action="store_true", help="re-fetch every known article within the horizon now")


async def check_once(
    config: Config,
    source_ids: list[str] | None,
    revisit: bool,
    on_done: Callable[[SourceReport], None] | None = None,
) -> list[SourceReport]:
    """Poll the chosen sources once (calling `on_done` as each finishes), then deliver pending webhooks in bound."""
    sources = [config.source(sid) for sid in source_ids] if source_ids else list(config.sources)
    async with open_app(config) as app:

        async def check(source: Source) -> SourceReport:
            report = await app.pipeline.check_source(source, revisit_all=revisit)
            if on_done is not None:
                on_done(report)
            return report

        reports = await asyncio.gather(*(check(source) for source in sources))
        if config.channels:
            from monitor.delivery import Outbox

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
    count = len(args.source) if args.source else len(config.sources)
    if sys.stdout.isatty() and count > 1:
        reports = _check_with_progress(config, args, count)
    else:
        reports = asyncio.run(check_once(config, args.source, args.revisit))
    for report in reports:
        print(describe(report), file=sys.stdout)
    return 0


def _check_with_progress(config: Config, args: argparse.Namespace, count: int) -> list[SourceReport]:
    """Show a progress bar while many sources are checked (terminals only; rich is imported only here)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"))
    with Progress(*columns, TimeElapsedColumn(), transient=True) as progress:
        task = progress.add_task("", total=count)

        def advance(report: SourceReport) -> None:
            progress.update(task, advance=1, description=report.source_id)

        return asyncio.run(check_once(config, args.source, args.revisit, advance))


COMMANDS = {
    "validate": Command(_validate_arguments, _validate),
    "check": Command(_check_arguments, _check),
}
