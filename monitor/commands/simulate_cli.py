"""`monitor simulate`: serve a live simulated ministry site and write a ready config for trying the monitor on it.

The site changes on a script (publish / edit / delete, one printed line each) until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from monitor.commands._common import Command
from monitor.config import load_config, parse_duration
from monitor.errors import ConfigError
from monitor.sim import MFA_EN_PRESS, Change, Newsroom, SimServer, SimSite, packaged_pages, write_sources_config

__all__ = ["COMMANDS"]

_MONITOR_SETTINGS = {"host_delay": "0s", "timeout": "5s"}
# Short enough that a person trying the monitor sees every kind of event within seconds, not the hours a real
# ministry's settings would take to confirm a removal.
_SOURCE_SETTINGS = {"interval": "10s", "confirm_removal": 2, "confirm_removal_after": "2s"}
_COUNT_EVERY_S = 1.0


class _UsageError(Exception):
    """A bad argument: reported as one line, exit 2."""


@dataclass(frozen=True, slots=True)
class _Options:
    sources: int
    articles: int
    port: int
    bind: str
    config: Path
    every: dict[str, float]  # step kind -> seconds between steps (0 = never)
    seed: int | None
    force: bool


@dataclass(frozen=True, slots=True)
class _Earlier:
    """What the config an earlier run wrote says: its site's host and port, and how many listings it watches."""

    host: str
    port: int
    sources: int


def _arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--sources", default="5", metavar="N", help="number of listings (default 5)")
    add("--articles", default="20", metavar="M", help="articles on each listing (default 20)")
    add("--port", default="8000", metavar="P", help="port to listen on; 0 picks a free one (default 8000)")
    add("--bind", default="127.0.0.1", metavar="ADDR", help="IPv4 address to listen on (default 127.0.0.1)")
    add("--config-out", default="simulate.toml", metavar="PATH", help="config to write (default ./simulate.toml)")
    add("--publish-every", default="30s", metavar="DUR", help="a listing gains an article this often (0 = never)")
    add("--edit-every", default="1m", metavar="DUR", help="an article's text is silently edited this often (0 = never)")
    add("--delete-every", default="2m", metavar="DUR", help="an article is deleted (404) this often (0 = never)")
    add("--seed", default=None, metavar="N", help="random seed, for a repeatable sequence of changes")
    add("--force", action="store_true", help="overwrite an existing --config-out (default: reuse it, same port)")


def _integer(name: str, text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _UsageError(f"--{name} {text!r} is not a whole number") from None
    if not low <= value <= high:
        raise _UsageError(f"--{name} {value} is out of range ({low}..{high})")
    return value


def _seconds(name: str, text: str) -> float:
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise _UsageError(f"--{name}: {exc}") from None


def _bind(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise _UsageError(f"--bind {text!r} is not an IPv4 address (e.g. 127.0.0.1, or 0.0.0.0 for all)") from None


def _options(args: argparse.Namespace) -> _Options:
    every = {kind: _seconds(f"{kind}-every", getattr(args, f"{kind}_every")) for kind in ("publish", "edit", "delete")}
    return _Options(
        sources=_integer("sources", args.sources, 1, 10_000),
        articles=_integer("articles", args.articles, 1, 1_000),
        port=_integer("port", args.port, 0, 65_535),
        bind=_bind(args.bind),
        config=Path(args.config_out).absolute(),
        every=every,
        seed=None if args.seed is None else _integer("seed", args.seed, -(2**63), 2**63 - 1),
        force=args.force,
    )


def _earlier(config: Path) -> _Earlier | None:
    """Return what an existing `config` says about its site (None: no such file); raise _UsageError if unusable."""
    if not config.exists():
        return None
    refuse = (
        f"{config} exists and is not a config this command wrote; --force overwrites it, --config-out writes another"
    )
    try:
        sources = load_config(config, secrets=False).sources
    except ConfigError:
        raise _UsageError(refuse) from None
    origins = {urlsplit(source.url).netloc for source in sources}
    if len(origins) != 1:
        raise _UsageError(refuse)
    parts = urlsplit(sources[0].url)
    if parts.hostname is None or parts.port is None:
        raise _UsageError(refuse)
    return _Earlier(parts.hostname, parts.port, len(sources))


def _port(options: _Options, earlier: _Earlier | None) -> int:
    """Return the port to listen on: the earlier run's (so its articles keep their URLs), unless told otherwise.

    Without --force an existing config is kept as it is, so the site must match it; raise _UsageError if not.
    """
    if earlier is None:
        return options.port
    if options.force:
        return options.port or earlier.port
    host = "127.0.0.1" if options.bind == "0.0.0.0" else options.bind
    if options.port not in (0, earlier.port) or host != earlier.host or options.sources != earlier.sources:
        raise _UsageError(
            f"{options.config} was written for {earlier.sources} listings at http://{earlier.host}:{earlier.port}/; "
            "run with the same --sources, --bind and --port to reuse it, --force to overwrite it, "
            "or --config-out to write another"
        )
    return earlier.port


def _write_config(options: _Options, base: str, newsroom: Newsroom) -> Path:
    sources = [
        (f"sim-s{i:05d}", f"Simulated MFA press listing {i}", base + path)
        for i, path in enumerate(newsroom.listing_paths())
    ]
    options.config.parent.mkdir(parents=True, exist_ok=True)
    head = f"# Written by `monitor simulate` for its simulated ministry site at {base}/\n\n"
    database = options.config.with_suffix(".db")
    return write_sources_config(
        options.config,
        sources,
        database,
        template=MFA_EN_PRESS,
        monitor=_MONITOR_SETTINGS,
        source=_SOURCE_SETTINGS,
        head=head,
    )


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Yield an event that SIGINT or SIGTERM sets; the previous handlers come back afterwards."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _say(text: str) -> None:
    print(text, flush=True)


def _script(newsroom: Newsroom, every: dict[str, float]) -> dict[str, Callable[[], Change | None]]:
    actions = {"publish": newsroom.publish, "edit": newsroom.edit, "delete": newsroom.delete}
    return {kind: actions[kind] for kind, seconds in every.items() if seconds > 0}


def _play(newsroom: Newsroom, every: dict[str, float], base: str, stop: threading.Event) -> Counter[int]:
    """Run the scripted steps until `stop` is set; return the count of requests answered, by status."""
    actions = _script(newsroom, every)
    due = {kind: time.monotonic() + every[kind] for kind in actions}
    statuses: Counter[int] = Counter()
    while True:
        wait = min([_COUNT_EVERY_S, *(at - time.monotonic() for at in due.values())])
        statuses.update(r.status for r in newsroom.site.take_requests())
        if stop.wait(max(0.0, wait)):
            break
        for kind, at in due.items():
            if time.monotonic() >= at:
                due[kind] = max(at + every[kind], time.monotonic())
                _report(actions[kind](), kind, base)
    statuses.update(r.status for r in newsroom.site.take_requests())
    return statuses


def _report(change: Change | None, kind: str, base: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if change is None:
        _say(f"{stamp} skipped   no listed article left to {kind}")
    else:
        _say(f"{stamp} {change.kind:<9} {base}{change.path}")


def _summary(statuses: Counter[int]) -> str:
    total = sum(statuses.values())
    other = total - statuses[200] - statuses[304] - statuses[404]
    return (
        f"stopped: {total} requests: {statuses[200]} × 200, {statuses[304]} × 304 (not modified), "
        f"{statuses[404]} × 404, {other} other"
    )


def _introduce(options: _Options, base: str, config: Path, newsroom: Newsroom, kept: bool) -> None:
    _say(f"simulated ministry site: {base}/ ({options.sources} listings x {options.articles} articles)")
    _say(f"  first listing: {base}{newsroom.listing_paths()[0]}")
    if options.bind == "0.0.0.0":
        _say("  listening on every network interface (--bind 0.0.0.0): anyone who can reach this machine can read it")
    _say(f"config: {config}")
    if kept:
        _say("  (kept as an earlier run wrote it, with the same site and port; --force writes a new one)")
    _say(f"  database: {config.with_suffix('.db')}")
    if config.with_suffix(".db").exists():
        _say("  (that database exists from an earlier run; delete it for a fresh start)")
    _say(f"try: monitor check --config {config}")
    _say(f"  or: monitor run --config {config}")
    steps = ", ".join(f"{kind} every {options.every[kind]:g}s" for kind in _script(newsroom, options.every))
    _say(f"script: {steps or 'no changes'} (seed {options.seed}); Ctrl-C to stop")


def _run(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
        earlier = _earlier(options.config)
        port = _port(options, earlier)
    except _UsageError as exc:
        print(f"monitor simulate: {exc}", file=sys.stderr)
        return 2
    site = SimSite()
    newsroom = Newsroom(site, options.sources, options.articles, random.Random(options.seed), packaged_pages())
    server = _listen(site, options, port, fallback=options.force and port != options.port)
    if server is None:
        return 1
    try:
        host = "127.0.0.1" if options.bind == "0.0.0.0" else options.bind
        base = f"http://{host}:{server.port}"
        with _stop_on_signals() as stop:  # before the lines that tell a caller it may start (and stop) us
            kept = earlier is not None and not options.force
            config = options.config if kept else _write_config(options, base, newsroom)
            _introduce(options, base, config, newsroom, kept)
            statuses = _play(newsroom, options.every, base, stop)
    finally:
        server.stop()
    _say(_summary(statuses))
    return 0


def _listen(site: SimSite, options: _Options, port: int, fallback: bool) -> SimServer | None:
    """Start serving on `port` (on any free port if `fallback` and it is taken); None after saying why not."""
    try:
        return SimServer(site, [options.bind], port, public=True).start()
    except OSError as exc:
        if fallback:
            return _listen(site, options, 0, fallback=False)
        print(f"monitor simulate: cannot listen on {options.bind}:{port}: {exc.strerror}", file=sys.stderr)
        return None


COMMANDS = {"simulate": Command(_arguments, _run)}
