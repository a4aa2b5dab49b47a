"""`monitor extract`: read saved pages the way a check would and print what they say, one JSON object per file.

Without `--source` it reads them with no selectors at all (the zero-config path); with one, as that source does.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import Any

from monitor.commands._common import Command, load
from monitor.config import Source
from monitor.config.types import DEFAULT_MAX_BODY_BYTES
from monitor.errors import DecodeError, ExtractError
from monitor.pages import extract_article, is_error_page

__all__ = ["COMMANDS"]

_HEAD_BYTES = 65536
_CANONICAL = re.compile(rb"""<link[^>]+rel=["']?canonical["']?[^>]+href=["']([^"'>\s]+)""", re.IGNORECASE)
_OG_URL = re.compile(rb"""<meta[^>]+property=["']og:url["'][^>]+content=["']([^"'>\s]+)""", re.IGNORECASE)
_ZERO_CONFIG = Source(id="extract", name="monitor extract", url="https://localhost/")


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="saved HTML pages ('-' reads standard input)")
    parser.add_argument("--config", "-c", help="the watch-list (TOML) holding --source")
    parser.add_argument("--source", metavar="ID", help="read as this source does (its selectors, zone, language)")
    parser.add_argument(
        "--url", help="the page's address, for relative links and dates in the URL (default: its canonical link)"
    )
    parser.add_argument("--format", choices=["jsonl", "json"], default="jsonl", help="JSON lines, or one array")


def _source(args: argparse.Namespace) -> tuple[Source, int]:
    if args.source is None:
        return _ZERO_CONFIG, DEFAULT_MAX_BODY_BYTES
    config = load(args.config or "config/sources.toml")
    return config.source(args.source), config.http.max_body_bytes


def _read(name: str, cap: int) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read(cap + 1)
    with open(name, "rb") as fh:
        return fh.read(cap + 1)


def _page_url(body: bytes, name: str) -> str:
    """Return the address a saved page gives itself (canonical link, og:url), else its file's."""
    for pattern in (_CANONICAL, _OG_URL):
        match = pattern.search(body[:_HEAD_BYTES])
        if match and match.group(1).startswith((b"http://", b"https://")):
            return match.group(1).decode("ascii", "replace")
    return Path(name).resolve().as_uri() if name != "-" else "https://localhost/"


def _extract_one(name: str, source: Source, url: str | None, cap: int) -> dict[str, Any]:
    try:
        body = _read(name, cap)
    except OSError as exc:
        return {"file": name, "error": f"cannot read: {exc.strerror or exc}"}
    if len(body) > cap:
        return {"file": name, "error": f"larger than the {cap}-byte page cap (max_body_bytes)"}
    page_url = url or _page_url(body, name)
    try:
        if is_error_page(body, None, page_url, source):
            return {"file": name, "error": "the site's error page (error_urls / error_markers)"}
        found = extract_article(body, None, page_url, source)
    except (ExtractError, DecodeError) as exc:
        return {"file": name, "error": f"{getattr(exc, 'field', 'charset')}: {exc.reason}"}
    return {
        "file": name,
        "title": found.title,
        "published": found.published,
        "text": found.text,
        "doc_id": found.doc_id,
    }


def _extract(args: argparse.Namespace) -> int:
    source, cap = _source(args)
    if args.url is not None and not args.url.startswith(("http://", "https://")):
        raise SystemExit(f"monitor: --url {args.url!r} is not an http(s) URL")
    if args.url is not None and args.source is None:
        source = dataclasses.replace(source, url=args.url)
    results = [_extract_one(name, source, args.url, cap) for name in args.files]
    if args.format == "json":
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for result in results:
            print(json.dumps(result, ensure_ascii=False))
    return 1 if any("error" in result for result in results) else 0


COMMANDS = {"extract": Command(_arguments, _extract)}
