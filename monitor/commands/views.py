"""Read-only views of the store: `export`, `events`, `history`, `diff` and `search`."""

from __future__ import annotations

import argparse
import sys

from monitor.commands._common import (
    Command,
    add_config_argument,
    check_source_ids,
    fmt_time,
    iso_time,
    load,
    opened_store,
    use_colour,
    write_records,
)
from monitor.config import EVENT_TYPES
from monitor.content import DIFF_FIELDS, FieldDiff, changed_paragraphs, diff_text
from monitor.errors import ConfigError, UsageError
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
    config = load(args.config, secrets=False)
    with opened_store(config) as store:
        check_source_ids(config, store, [args.source] if args.source else None)
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
    parser.add_argument("--since", type=iso_time, metavar="ISO", help="only events at or after this time")
    parser.add_argument("--type", choices=sorted(EVENT_TYPES), help="only events of this type")
    parser.add_argument("--source", metavar="ID", help="only events of this source")


def _events(args: argparse.Namespace) -> int:
    config = load(args.config, secrets=False)
    with opened_store(config) as store:
        check_source_ids(config, store, [args.source] if args.source else None)
        out = sys.stdout.buffer
        for event in store.events(since=args.since, type=args.type, source_id=args.source):
            # The body is the delivered JSON; its C1 controls and bidi overrides are escaped for the terminal.
            out.write(printable(event.body.decode("utf-8", "replace")).encode() + b"\n")
        out.flush()
    return 0


def _article_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("url", metavar="URL|DOC_ID", help="the article's URL, or its document id (e.g. t1793427)")


def _find(store: Store, wanted: str) -> ArticleState:
    """Return the stored article at this URL, or with this document id; raise UsageError if none or several."""
    if "://" in wanted:
        article = store.find_article(normalise_url(wanted))
        found = [article] if article is not None else []
    else:
        found = store.find_articles_by_doc_id(wanted)
    if not found or found[0].id is None:
        raise UsageError(f"no stored article {'at' if '://' in wanted else 'with document id'} {wanted}")
    if len(found) > 1:
        urls = ", ".join(article.url for article in found)
        raise UsageError(f"document id {wanted} names {len(found)} articles ({urls}): give the URL")
    return found[0]


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
    with opened_store(load(args.config, secrets=False)) as store:
        article = _find(store, args.url)
        versions = store.versions(article.id or 0)
    head = f"{article.url} [{article.source_id}] status={article.status} first_seen={fmt_time(article.first_seen)}"
    print(printable(head))
    previous: VersionRecord | None = None
    for version in versions:
        how = " (read generically: its selectors failed on the page)" if version.reader == "fallback" else ""
        print(printable(f"  v{version.version}  {fmt_time(version.fetched_at)}  {_summary(previous, version)}{how}"))
        previous = version
    return 0


def _diff_arguments(parser: argparse.ArgumentParser) -> None:
    _article_arguments(parser)
    parser.add_argument("--from", dest="from_version", type=int, metavar="N", help="older version (default: to-1)")
    parser.add_argument("--to", dest="to_version", type=int, metavar="M", help="newer version (default: latest)")
    parser.add_argument(
        "--full", action="store_true", help="show every paragraph (default: the changed ones and one either side)"
    )


def _render(change: FieldDiff, colour: bool, full: bool) -> str:
    text = change.diff if full else changed_paragraphs(change.diff, context=1)
    text = printable(text, keep_lines=True)  # the page's own escapes are shown, never obeyed; ours follow
    if not colour:
        return text
    return (
        text.replace("[-", "\x1b[31;9m").replace("-]", "\x1b[0m").replace("{+", "\x1b[32;1m").replace("+}", "\x1b[0m")
    )


def _diff(args: argparse.Namespace) -> int:
    with opened_store(load(args.config, secrets=False)) as store:
        article = _find(store, args.url)
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
            print(_render(change, colour, args.full))
    return 0


def _search_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("query", help="words that must all appear in the title or body (any case; Chinese works)")
    parser.add_argument("--source", metavar="ID", help="only this source")
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="at most N articles (default 20)")
    parser.add_argument("--format", choices=["text", "jsonl"], default="text")


def _search(args: argparse.Namespace) -> int:
    config = load(args.config, secrets=False)
    with opened_store(config) as store:
        check_source_ids(config, store, [args.source] if args.source else None)
        hits = store.search(args.query, limit=max(1, args.limit), source_id=args.source)
    if args.format == "jsonl":
        rows = [
            {
                "source": hit.article.source_id,
                "url": hit.article.url,
                "title": hit.article.title,
                "published": hit.article.published,
                "status": hit.article.status,
                "version": hit.article.version,
                "first_seen": fmt_time(hit.article.first_seen),
                "snippet": hit.snippet,
            }
            for hit in hits
        ]
        write_records(
            rows, "jsonl", ["source", "url", "title", "published", "status", "version", "first_seen", "snippet"]
        )
        return 0
    for hit in hits:
        article = hit.article
        print(f"{fmt_time(article.first_seen)}  [{article.source_id}]  {article.title}")
        print(f"  {article.url}")
        print(f"  {hit.snippet}")
    if not hits:
        print(f"no article matches {args.query!r}")
    return 0


COMMANDS = {
    "export": Command(_export_arguments, _export),
    "events": Command(_events_arguments, _events),
    "history": Command(_article_arguments, _history),
    "diff": Command(_diff_arguments, _diff),
    "search": Command(_search_arguments, _search),
}
