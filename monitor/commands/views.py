"""Read-only views of the store: `export`, `events`, `history` and `diff`."""

from __future__ import annotations

import argparse
import sys

from monitor.commands._common import (
    Command,
    add_config_argument,
    fmt_time,
    load,
    opened_store,
    parse_since,
    use_colour,
    write_records,
)
from monitor.config import EVENT_TYPES
from monitor.content import DIFF_FIELDS, FieldDiff, diff_text
from monitor.errors import ConfigError
from monitor.pages import normalise_url
from monitor.redact import printable
from storage import ArticleState, Store, VersionRecord

__all__ = ["COMMANDS", "EXPORT_FIELDS"]

EXPORT_FIELDS = [
    "source",
    "url",
    "doc_id",
    "title",
    "published",
    "text",
    "version",
    "first_seen",
    "last_changed",
    "status",
]


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    parser.add_argument("--source", metavar="ID", help="only this source")


def _export(args: argparse.Namespace) -> int:
    with opened_store(load(args.config)) as store:
        rows = [
            {
                "source": article.source_id,
                "url": article.url,
                "doc_id": article.doc_id,
                "title": version.title,
                "published": version.published,
                "text": version.text,
                "version": article.version,
                "first_seen": fmt_time(article.first_seen),
                "last_changed": fmt_time(article.last_changed),
                "status": article.status,
            }
            for article, version in store.export_rows(args.source)
        ]
    write_records(rows, args.format, EXPORT_FIELDS)
    return 0


def _events_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--format", choices=["jsonl"], default="jsonl")
    parser.add_argument("--since", metavar="ISO", help="only events at or after this time")
    parser.add_argument("--type", choices=sorted(EVENT_TYPES), help="only events of this type")
    parser.add_argument("--source", metavar="ID", help="only events of this source")


def _events(args: argparse.Namespace) -> int:
    since = parse_since(args.since)
    with opened_store(load(args.config)) as store:
        out = sys.stdout.buffer
        for event in store.events(since=since, type=args.type, source_id=args.source):
            # The body is the delivered JSON; its C1 controls and bidi overrides are escaped for the terminal.
            out.write(printable(event.body.decode("utf-8", "replace")).encode() + b"\n")
        out.flush()
    return 0


def _article_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("url", help="the article's URL")


def _find(store: Store, url: str, config_path: str) -> ArticleState:
    article = store.find_article(normalise_url(url))
    if article is None or article.id is None:
        raise ConfigError(f"no stored article at {url}", path=config_path, key="url")
    return article


def _summary(before: VersionRecord | None, after: VersionRecord) -> str:
    if after.same_as is not None:
        return f"same content as v{after.same_as} (no event)"
    if before is None:
        return f"first seen: {after.title}"
    parts = []
    for name in DIFF_FIELDS:
        change = diff_text(getattr(before, name), getattr(after, name))
        if change is not None:
            parts.append(f"{name} +{_words(change.added)}/-{_words(change.removed)}")
    return "changed: " + ", ".join(parts) if parts else "no visible change"


def _words(runs: tuple[str, ...]) -> int:
    return sum(max(1, len(run.split())) for run in runs)


def _history(args: argparse.Namespace) -> int:
    with opened_store(load(args.config)) as store:
        article = _find(store, args.url, args.config)
        versions = store.versions(article.id or 0)
    head = f"{article.url} [{article.source_id}] status={article.status} first_seen={fmt_time(article.first_seen)}"
    print(printable(head))
    previous: VersionRecord | None = None
    for version in versions:
        print(printable(f"  v{version.version}  {fmt_time(version.fetched_at)}  {_summary(previous, version)}"))
        previous = version
    return 0


def _diff_arguments(parser: argparse.ArgumentParser) -> None:
    _article_arguments(parser)
    parser.add_argument("--from", dest="from_version", type=int, metavar="N", help="older version (default: to-1)")
    parser.add_argument("--to", dest="to_version", type=int, metavar="M", help="newer version (default: latest)")


def _render(change: FieldDiff, colour: bool) -> str:
    text = printable(change.diff, keep_lines=True)  # the page's own escapes are shown, never obeyed; ours follow
    if not colour:
        return text
    return (
        text.replace("[-", "\x1b[31;9m").replace("-]", "\x1b[0m").replace("{+", "\x1b[32;1m").replace("+}", "\x1b[0m")
    )


def _diff(args: argparse.Namespace) -> int:
    with opened_store(load(args.config)) as store:
        article = _find(store, args.url, args.config)
        newer = args.to_version or article.version
        older = args.from_version or max(1, newer - 1)
        before, after = store.version(article.id or 0, older), store.version(article.id or 0, newer)
    if before is None or after is None:
        raise ConfigError(f"{article.url} has versions 1..{article.version}", path=args.config, key="--from/--to")
    colour = use_colour(sys.stdout)
    print(f"{article.url}: v{older} ({fmt_time(before.fetched_at)}) -> v{newer} ({fmt_time(after.fetched_at)})")
    for name in DIFF_FIELDS:
        change = diff_text(getattr(before, name), getattr(after, name))
        if change is not None:
            print(f"--- {name}")
            print(_render(change, colour))
    return 0


COMMANDS = {
    "export": Command(_export_arguments, _export),
    "events": Command(_events_arguments, _events),
    "history": Command(_article_arguments, _history),
    "diff": Command(_diff_arguments, _diff),
}
