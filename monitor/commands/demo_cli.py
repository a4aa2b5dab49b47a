"""`monitor demo`: the offline tour of what the monitor catches, for a person at a terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor.commands._common import Command, use_colour
from monitor.sim import Delivery, run_demo

__all__ = ["COMMANDS"]

_COLOURS = {"[-": "\x1b[31;9m", "-]": "\x1b[0m", "{+": "\x1b[32;1m", "+}": "\x1b[0m"}


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        help="folder for the demo's database and config, created if missing; an earlier demo's database there is "
        "replaced (default: a new temp dir)",
    )


def _diff(text: str, colour: bool) -> str:
    if colour:
        for mark, code in _COLOURS.items():
            text = text.replace(mark, code)
    return text


def _excerpt(diff: str, width: int = 160) -> str:
    start = max(0, min(i for i in (diff.find("[-"), diff.find("{+")) if i >= 0) - 60)
    return (("…" if start else "") + diff[start : start + width] + "…").replace("\n\n", " ¶ ")


def _show(message: str, delivery: Delivery | None) -> None:
    colour = use_colour(sys.stdout)
    if delivery is None:
        print(f"\n{message}" if message.startswith("STEP") else message, flush=True)
        return
    event = delivery.event
    article = event["data"].get("article", {})
    check = "signature verified" if delivery.verified else "SIGNATURE INVALID"
    print(
        f"  webhook received: {event['type']:<18} {article.get('doc_id', '')} v{article.get('version', '')}"
        f' "{article.get("title", "")[:60]}"  [{check}, webhook-id {delivery.webhook_id}]',
        flush=True,
    )
    change = event["data"].get("changes", {}).get("text")
    if change:
        print("  diff: " + _diff(_excerpt(change["diff"]), colour), flush=True)


def _run(args: argparse.Namespace) -> int:
    print("ministry-monitor demo: offline, on loopback, about 30 seconds", flush=True)
    folder = run_demo(_show, args.dir)
    print(f"\ndone. The demo's database and config are in {folder}", flush=True)
    print(f"  try: monitor events --config {folder / 'demo.toml'}", flush=True)
    return 0


COMMANDS = {"demo": Command(_arguments, _run)}
