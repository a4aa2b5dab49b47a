"""`monitor add URL`: show what a listing holds and the selectors that read it, then append it to the config."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import re
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.commands._common import Command
from monitor.config import HttpSettings, Source, load_config, parse_config, parse_duration
from monitor.config.catalogue import catalogue, catalogue_entry
from monitor.config.write import append_source, source_ids_in
from monitor.errors import UsageError
from monitor.survey import Survey, survey_listing

__all__ = ["COMMANDS"]

SHOWN_TITLES = 5
FIRST_PARAGRAPH_CHARS = 300
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "url", metavar="URL|ID", nargs="?", help="the news listing to watch (http or https), or a catalogue id (--list)"
    )
    parser.add_argument("--list", action="store_true", help="list the catalogue of ministry listings to start from")
    parser.add_argument("--config", "-c", default="config/sources.toml", help="the watch-list to add it to")
    parser.add_argument("--id", help="the new source's id (default: from the URL)")
    parser.add_argument("--name", help="the new source's name (default: the listing's <title>)")
    parser.add_argument("--interval", help="how often to check it, e.g. 10m (default: the monitor's default)")
    parser.add_argument("--dry-run", action="store_true", help="show what would be watched; write nothing")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="print as text or as JSON")
    parser.add_argument("--yes", "-y", action="store_true", help="add without asking")
    parser.epilog = (
        "exit status: 0 shown (and added), 1 the page could not be read as a listing or adding was declined, "
        "2 a bad argument or an id already in the config"
    )


def _resolve(args: argparse.Namespace) -> None:
    """Turn a catalogue id into its URL, name and template (on `args`); raise UsageError for anything else."""
    args.template = None
    if args.url is None:
        raise UsageError("give a listing URL or a catalogue id (see `monitor add --list`)")
    if "://" in args.url or "." in args.url:
        return
    entry = catalogue_entry(args.url)
    if entry is None:
        raise UsageError(f"{args.url!r} is neither an http(s) URL nor a catalogue id (see `monitor add --list`)")
    args.id, args.name = args.id or entry.id, args.name or entry.name
    args.url, args.template = entry.url, entry.template


def _source(args: argparse.Namespace) -> Source:
    url: str = args.url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{url!r} is not an http(s) URL")
    source_id = args.id or _default_id(url)
    if not _SLUG.match(source_id):
        raise UsageError(f"--id {source_id!r}: use lower-case letters, digits, '-', '_' and '.' (at most 64)")
    if args.interval is not None:
        try:
            parse_duration(args.interval)
        except ValueError as exc:
            raise UsageError(f"--interval {args.interval!r}: {exc}") from exc
    if source_id in source_ids_in(args.config):
        raise UsageError(f"--id {source_id!r}: {args.config} already has a source with this id (choose --id)")
    table = {"id": source_id, "name": args.name or source_id, "url": url}
    if args.template is not None:
        table["template"] = args.template
    (source,) = parse_config({"sources": [table]}, path=args.config, environ={}).sources
    return source


def _default_id(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    tail = [p for p in parts.path.split("/") if p and "." not in p][-1:]
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join([host.split(".")[0], *tail]).lower()).strip("-")
    return slug[:64] or "source"


def _http(config_path: str) -> HttpSettings:
    """Fetch as the config's monitor would (its user agent, timeouts); with defaults when there is no file yet."""
    if not Path(config_path).exists():
        return HttpSettings()
    return load_config(config_path, secrets=False).http


def _selectors(survey: Survey) -> dict[str, dict[str, str]]:
    listing = {"links": survey.listing.selector} if survey.listing is not None else {}
    return {"listing": listing, "article": dict(survey.article)}


def _as_json(survey: Survey) -> dict[str, Any]:
    return {
        "url": survey.url,
        "links": [link.url for link in survey.links],
        "selectors": _selectors(survey),
        "articles": [
            {"url": s.url, "title": s.read.title, "published": s.read.published, "text": s.read.text}
            for s in survey.samples
        ],
    }


def _as_text(survey: Survey) -> str:
    lines = [f"listing: {survey.url}" + (f" ({survey.title})" if survey.title else "")]
    lines.append(f"  {len(survey.links)} article links, the first {min(SHOWN_TITLES, len(survey.links))}:")
    lines += [f"    - {link.title or link.url}" for link in survey.links[:SHOWN_TITLES]]
    if survey.samples:
        sample = survey.samples[0]
        first = sample.read.text.split("\n\n", 1)[0]
        lines += [f"article: {sample.url}", f"  title: {sample.read.title}"]
        lines.append(f"  published: {sample.read.published or '(no date found)'}")
        more = "…" if len(first) > FIRST_PARAGRAPH_CHARS else ""
        lines.append(f"  first paragraph: {first[:FIRST_PARAGRAPH_CHARS]}{more}")
    else:
        lines.append("article: none of the first links could be read")
    lines += [f"  not read: {reason}" for reason in survey.unread]
    lines.append(f"proposed selectors (read {len(survey.samples)} articles; a field without one is read generically):")
    if survey.listing is not None:
        lines.append(
            f"  listing.links = {survey.listing.selector!r} (precision {survey.listing.precision:.2f}, "
            f"recall {survey.listing.recall:.2f} against the generic finder)"
        )
    lines += [f"  article.{field} = {selector!r}" for field, selector in survey.article.items()]
    return "\n".join(lines)


def _block(source: Source, survey: Survey, args: argparse.Namespace) -> dict[str, Any]:
    block: dict[str, Any] = {"id": source.id, "name": args.name or survey.title or source.id, "url": source.url}
    if args.interval is not None:
        block["interval"] = args.interval
    if args.template is not None:
        block["template"] = args.template  # the template's selectors, not the proposal
        return block
    selectors = _selectors(survey)
    if selectors["listing"]:
        block["listing"] = selectors["listing"]
    if selectors["article"]:
        article: dict[str, Any] = dict(selectors["article"])
        if "date" in article:
            article["date_from"] = ["selector", "page", "title", "url"]
        block["article"] = article
    return block


def _confirmed(source: Source, path: str) -> bool:
    print(f"add source {source.id!r} to {path}? [y/N] ", end="", flush=True, file=sys.stderr)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")


def _list(fmt: str) -> int:
    entries = catalogue()
    if fmt == "json":
        print(json.dumps([dataclasses.asdict(entry) for entry in entries], ensure_ascii=False, indent=2))
        return 0
    for entry in entries:
        reader = f"template {entry.template}" if entry.template else "url-only"
        checked = "verified" if entry.verified else "unverified"
        print(f"{entry.id:28} {checked:10} {reader:28} {entry.name}\n{'':28} {entry.url}")
    return 0


def _add(args: argparse.Namespace) -> int:
    if args.list:
        return _list(args.format)
    _resolve(args)
    source = _source(args)
    http = _http(args.config)
    source = replace(source, host_delay=http.host_delay, host_concurrency=http.host_concurrency)
    survey = asyncio.run(survey_listing(source, http))
    print(json.dumps(_as_json(survey), ensure_ascii=False, indent=2) if args.format == "json" else _as_text(survey))
    if args.dry_run:
        return 0
    if not args.yes and not _confirmed(source, args.config):
        print("nothing written", file=sys.stderr)
        return 1
    day = datetime.now(UTC).date().isoformat()
    comment = f"Added by `monitor add` on {day}; selectors proposed from {len(survey.samples)} articles read."
    append_source(args.config, _block(source, survey, args), comment)
    print(
        f"added source {source.id!r} to {args.config}. `monitor check --config {args.config} --source {source.id}` "
        f"checks it now; a running service picks it up on `monitor reload --config {args.config}` (or SIGHUP).",
        file=sys.stderr,
    )
    return 0


COMMANDS = {"add": Command(_arguments, _add)}
