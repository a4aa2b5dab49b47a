"""Read the TOML watch-list once into frozen, typed objects; every mistake is a ConfigError naming file, source, key.

Nothing past this module reads a config dict by string key. Durations become `timedelta` and zones `ZoneInfo` here.
The typed objects and their defaults are defined in monitor.config.types and re-exported from here.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import tomli  # tomllib's compiled twin: parses a 1,000-source watch-list ~3x faster

from monitor.config.child import call_in_child
from monitor.config.lint import config_warnings
from monitor.config.request import expand_secret, parse_ca_bundle, parse_headers, parse_proxy, parse_user_agent
from monitor.config.tables import TableReader, parse_duration
from monitor.config.templates import template_keys, templates_for, with_template
from monitor.config.types import (
    DATE_SOURCES,
    DEFAULT_CHECK_DELIVERY_TIMEOUT,
    DEFAULT_CONCURRENCY,
    DEFAULT_CONFIRM_REMOVAL,
    DEFAULT_CONFIRM_REMOVAL_AFTER,
    DEFAULT_DATABASE,
    DEFAULT_DATE_FROM,
    DEFAULT_DATE_FROM_PAGE,
    DEFAULT_DELIVERY_MAX_AGE,
    DEFAULT_FAILING_AFTER,
    DEFAULT_HOST_CONCURRENCY,
    DEFAULT_HOST_DELAY,
    DEFAULT_INTERVAL,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_LINKS,
    DEFAULT_MAX_NEW,
    DEFAULT_MAX_PAGES,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_MIN_LINKS_RATIO,
    DEFAULT_POLL_DEADLINE,
    DEFAULT_REMOVE,
    DEFAULT_REQUEST_DEADLINE,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BACKOFF,
    DEFAULT_REVISIT,
    DEFAULT_TIMEOUT,
    DEFAULT_USER_AGENT,
    DEFAULT_WEBHOOK_TIMEOUT,
    EVENT_TYPES,
    NOTIFICATION_FORMAT,
    WEBHOOK_FORMATS,
    ArticleSelectors,
    Config,
    Endpoint,
    HttpSettings,
    ListingSelectors,
    Secret,
    Source,
)
from monitor.errors import ConfigError

__all__ = [
    "DEFAULT_DATABASE",
    "DEFAULT_USER_AGENT",
    "EVENT_TYPES",
    "ArticleSelectors",
    "Config",
    "Endpoint",
    "HttpSettings",
    "ListingSelectors",
    "Secret",
    "Source",
    "database_beside",
    "load_config",
    "parse_config",
    "parse_duration",
    "relative_to_config",
]

CHILD_PARSE_BYTES = 1024 * 1024
"""A config file this large (~2,000 sources) is parsed in a child process: its peak memory dies with the child."""


def load_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None, *, secrets: bool = True
) -> Config:
    """Read and parse a config file; raise ConfigError naming the file, source and key on any mistake.

    `secrets=False` (read-only commands, which send nothing) accepts a `${VAR}` that is not set: the secret is
    `Secret.unset` and raises only if revealed. A file of CHILD_PARSE_BYTES or more is parsed in a child process,
    which hands back only the typed Config.
    """
    name = str(path)
    environ = os.environ if environ is None else environ
    if _file_size(path) >= CHILD_PARSE_BYTES:
        # The TOML document as Python objects is ~6x the file (10,000 sources: 5 MB of text, 31 MB of objects), and
        # memory freed here stays mapped (fragmented); the child takes that peak with it when it exits.
        return call_in_child(_load, name, dict(environ), secrets, path=name)
    return _load(name, environ, secrets)


def _file_size(path: str | os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # _load reports it


def _load(name: str, environ: Mapping[str, str], secrets: bool = True) -> Config:
    try:
        raw = Path(name).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror or exc}", path=name) from exc
    try:
        text = raw.decode("utf-8")
        del raw  # each stage may free the one before: bytes, text (up to 4 bytes a character), then document
        data = tomli.loads(text)
        del text
    except (UnicodeDecodeError, tomli.TOMLDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=name) from exc
    return parse_config(data, path=name, environ=environ, secrets=secrets)


def parse_config(data: Mapping[str, Any], *, path: str, environ: Mapping[str, str], secrets: bool = True) -> Config:
    """Turn a decoded TOML document into a Config (`secrets`: see load_config)."""
    reader = TableReader(data, path=path, source_id=None, prefix="")
    reader.only({"monitor", "sources", "webhooks", "notifications", "templates"})
    top = reader.table("monitor")
    top.only(_MONITOR_KEYS)
    http = HttpSettings(
        user_agent=parse_user_agent(top) or DEFAULT_USER_AGENT,
        timeout=top.duration("timeout", DEFAULT_TIMEOUT, positive=True),
        max_body_bytes=top.integer("max_body_bytes", DEFAULT_MAX_BODY_BYTES, minimum=1024),
        max_redirects=top.integer("max_redirects", DEFAULT_MAX_REDIRECTS, minimum=0),
        retries=top.integer("retries", DEFAULT_RETRIES, minimum=0),
        concurrency=top.integer("concurrency", DEFAULT_CONCURRENCY, minimum=1),
        host_concurrency=top.integer("host_concurrency", DEFAULT_HOST_CONCURRENCY, minimum=1),
        host_delay=top.duration("host_delay", DEFAULT_HOST_DELAY),
        retry_backoff=top.duration("retry_backoff", DEFAULT_RETRY_BACKOFF),
        request_deadline=top.duration("request_deadline", DEFAULT_REQUEST_DEADLINE, positive=True),
        poll_deadline=top.duration("poll_deadline", DEFAULT_POLL_DEADLINE, positive=True),
        ca_bundle=parse_ca_bundle(top, lambda text: relative_to_config(path, text)),
        proxy=parse_proxy(top, environ, secrets),
    )
    templates = templates_for(data.get("templates"), path)
    sources = tuple(_templated_source(item, templates, http, environ, secrets) for item in reader.tables("sources"))
    _check_unique([s.id for s in sources], path=path, what="source")
    webhooks = tuple(_parse_endpoint(item, environ, secrets) for item in reader.tables("webhooks"))
    notifications = tuple(_parse_notification(item, environ, secrets) for item in reader.tables("notifications"))
    _check_unique([w.id for w in webhooks + notifications], path=path, what="webhook or notification")
    return Config(
        path=path,
        database=database_beside(top.string("database", DEFAULT_DATABASE), path),
        http=http,
        sources=sources,
        webhooks=webhooks,
        notifications=notifications,
        check_delivery_timeout=top.duration("check_delivery_timeout", DEFAULT_CHECK_DELIVERY_TIMEOUT),
        read_workers=_read_workers(top),
        warnings=config_warnings(data, sources, webhooks),
        http_token=_http_token(top, environ, secrets),
    )


def relative_to_config(config_path: str, value: str) -> str:
    """Return a path from the config, made absolute against the config file's folder (not the working directory).

    A config that says `data/monitor.db` means the same file whether `monitor` runs from cron, systemd or a shell.
    """
    if value.startswith("~"):
        value = str(Path(value).expanduser())
    return os.path.normpath(Path(config_path).absolute().parent / value)  # an absolute `value` stays as it is


def database_beside(url: str, config_path: str) -> str:
    """Return the database URL with a relative SQLite path made absolute against the config file's folder."""
    scheme, _, rest = url.partition(":")
    if scheme != "sqlite":
        return url
    file = rest[3:] if rest.startswith("///") else rest.lstrip("/")
    if file in ("", ":memory:") or file.startswith("/"):
        return url
    return "sqlite:///" + relative_to_config(config_path, file)


def _http_token(top: TableReader, environ: Mapping[str, str], required: bool) -> Secret | None:
    text = top.optional_string("http_token")
    if text is None:
        return None
    if "${" not in text:
        top.fail("http_token", 'must come from the environment, like "${MONITOR_HTTP_TOKEN}"')
    token = expand_secret(top, "http_token", text, environ, required)  # read-only commands: serving needs it
    if token.is_set and len(token.reveal()) < MIN_HTTP_TOKEN_CHARS:
        top.fail("http_token", f"must be at least {MIN_HTTP_TOKEN_CHARS} characters long")
    return token


def _read_workers(top: TableReader) -> int | None:
    value = top.data.get("read_workers")
    if value is None or value == "auto":
        return None
    if isinstance(value, str):
        top.fail("read_workers", f'must be "auto" or a number of processes, not {value!r}')
    return top.integer("read_workers", 0, minimum=0)


_MONITOR_KEYS = {
    "database",
    "user_agent",
    "timeout",
    "max_body_bytes",
    "max_redirects",
    "retries",
    "concurrency",
    "host_concurrency",
    "host_delay",
    "check_delivery_timeout",
    "retry_backoff",
    "read_workers",
    "request_deadline",
    "poll_deadline",
    "http_token",
    "ca_bundle",
    "proxy",
}
MIN_HTTP_TOKEN_CHARS = 16
_SOURCE_KEYS = {
    "id",
    "name",
    "url",
    "interval",
    "cron",
    "timezone",
    "allow_domains",
    "revisit",
    "confirm_removal",
    "confirm_removal_after",
    "failing_after",
    "host_concurrency",
    "host_delay",
    "robots",
    "error_urls",
    "proven_by",
    "max_links",
    "max_new",
    "notes",
    "language",
    "listing",
    "article",
    "template",
    "headers",
    "user_agent",
    "timeout",
    "proxy",
    "tls_verify",
}
_ARTICLE_KEYS = {"title", "body", "date", "date_from", "remove", "ignore", "ignore_text", "error_markers"}
_WEBHOOK_KEYS = {"id", "url", "secret", "events", "sources", "timeout", "format", "max_age"}
_NOTIFICATION_KEYS = {"id", "urls", "events", "sources", "timeout", "max_age"}


def _templated_source(
    reader: TableReader,
    templates: Mapping[str, Mapping[str, Any]],
    http: HttpSettings,
    environ: Mapping[str, str],
    secrets: bool,
) -> Source:
    data = with_template(reader.data, templates, reader.path)
    if data is reader.data:
        return _parse_source(reader, http, environ, secrets)
    templated = TableReader(data, path=reader.path, source_id=reader.source_id, prefix="", share=reader.share)
    source = _parse_source(templated, http, environ, secrets)
    return replace(source, from_template=template_keys(reader.data, templates))


def _check_unique(ids: list[str], *, path: str, what: str) -> None:
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            raise ConfigError(f"duplicate {what} id", path=path, source_id=ident, key="id")
        seen.add(ident)


def _parse_source(reader: TableReader, http: HttpSettings, environ: Mapping[str, str], secrets: bool) -> Source:
    reader.only(_SOURCE_KEYS)
    source_id = reader.slug("id")
    reader.source_id = source_id
    listing = reader.table("listing")
    listing.only({"links", "min_links_ratio", "next", "pages", "max_pages"})
    article = reader.table("article")
    article.only(_ARTICLE_KEYS)
    interval = reader.duration("interval", DEFAULT_INTERVAL, positive=True)
    return Source(
        id=source_id,
        name=reader.string("name", source_id),
        url=reader.url("url"),
        listing=reader.share(_parse_listing(listing)),
        article=reader.share(_parse_article(article)),
        interval=interval,
        cron=reader.cron("cron"),
        timezone=reader.zone("timezone"),
        allow_domains=reader.strings("allow_domains", ()),
        revisit=reader.duration("revisit", DEFAULT_REVISIT),
        confirm_removal=reader.integer("confirm_removal", DEFAULT_CONFIRM_REMOVAL, minimum=1),
        confirm_removal_after=reader.duration("confirm_removal_after", DEFAULT_CONFIRM_REMOVAL_AFTER),
        failing_after=reader.integer("failing_after", DEFAULT_FAILING_AFTER, minimum=1),
        host_concurrency=reader.integer("host_concurrency", http.host_concurrency, minimum=1),
        host_delay=reader.duration("host_delay", http.host_delay),
        robots=reader.boolean("robots", True),
        error_urls=reader.strings("error_urls", ()),
        proven_by=reader.strings("proven_by", ()),
        language=reader.optional_string("language"),
        max_links=reader.integer("max_links", DEFAULT_MAX_LINKS, minimum=1),
        max_new=reader.integer("max_new", DEFAULT_MAX_NEW, minimum=1),
        template=reader.optional_string("template"),
        headers=parse_headers(reader, environ, secrets),
        user_agent=parse_user_agent(reader),
        timeout=reader.duration("timeout", http.timeout, positive=True) if "timeout" in reader.data else None,
        proxy=parse_proxy(reader, environ, secrets),
        tls_verify=reader.boolean("tls_verify", True),
    )


def _parse_listing(reader: TableReader) -> ListingSelectors:
    pages = reader.optional_string("pages")
    if pages is not None and "{n}" not in pages:
        reader.fail("pages", f"{pages!r} has no {{n}} for the page number (e.g. 'default_{{n}}.shtml')")
    return ListingSelectors(
        links=reader.optional_string("links"),
        min_links_ratio=reader.number("min_links_ratio", DEFAULT_MIN_LINKS_RATIO, maximum=1.0),
        next=reader.optional_string("next"),
        pages=pages,
        max_pages=reader.integer("max_pages", DEFAULT_MAX_PAGES, minimum=1),
    )


def _parse_article(reader: TableReader) -> ArticleSelectors:
    date = reader.optional_string("date")
    date_from = reader.strings("date_from", DEFAULT_DATE_FROM if date else DEFAULT_DATE_FROM_PAGE)
    for item in date_from:
        if item not in DATE_SOURCES:
            reader.fail("date_from", f"unknown date source {item!r}; use {sorted(DATE_SOURCES)}")
    return ArticleSelectors(
        title=reader.optional_string("title"),
        body=reader.optional_string("body"),
        date=date,
        date_from=date_from,
        remove=reader.strings("remove", DEFAULT_REMOVE),
        ignore=reader.strings("ignore", ()),
        ignore_text=reader.patterns("ignore_text"),
        error_markers=reader.strings("error_markers", ()),
    )


def _valid_secret(secret: str) -> bool:
    if not secret.startswith("whsec_"):
        return bool(secret)
    try:
        return bool(base64.b64decode(secret.removeprefix("whsec_"), validate=True))
    except (binascii.Error, ValueError):
        return False


def _parse_secret(reader: TableReader, environ: Mapping[str, str], required: bool) -> Secret | None:
    text = reader.optional_string("secret")
    if text is None:
        return None
    secret = expand_secret(reader, "secret", text, environ, required)
    if secret.is_set and not _valid_secret(secret.reveal()):
        reader.fail("secret", "a 'whsec_' secret must be followed by base64 (Standard Webhooks)")
    return secret


def _event_types(reader: TableReader) -> tuple[str, ...]:
    """Return a channel's `events` filter, each a known event type."""
    events = reader.strings("events", ())
    for event in events:
        if event not in EVENT_TYPES:
            reader.fail("events", f"unknown event type {event!r}")
    return events


def _parse_endpoint(reader: TableReader, environ: Mapping[str, str], secrets: bool) -> Endpoint:
    endpoint_id = reader.slug("id")
    reader.source_id = f"webhook {endpoint_id}"
    reader.only(_WEBHOOK_KEYS)
    events = _event_types(reader)
    secret = _parse_secret(reader, environ, secrets)
    fmt = reader.string("format", "standard")
    if fmt not in WEBHOOK_FORMATS:
        reader.fail("format", f"unknown format {fmt!r}; use one of {sorted(WEBHOOK_FORMATS)}")
    return Endpoint(
        id=endpoint_id,
        url=reader.url("url", secret=True),
        secret=secret,
        events=frozenset(events) if events else None,
        sources=frozenset(reader.strings("sources", ())) or None,
        timeout=reader.duration("timeout", DEFAULT_WEBHOOK_TIMEOUT, positive=True),
        format=fmt,
        max_age=reader.duration("max_age", DEFAULT_DELIVERY_MAX_AGE, positive=True),
    )


def _parse_notification(reader: TableReader, environ: Mapping[str, str], secrets: bool) -> Endpoint:
    """Read a [[notifications]] table: Apprise URLs (secrets as ${VAR}), and the same filters as a webhook."""
    channel_id = reader.slug("id")
    reader.source_id = f"notification {channel_id}"
    reader.only(_NOTIFICATION_KEYS)
    events = _event_types(reader)
    urls = reader.strings("urls", ())
    if not urls:
        reader.fail("urls", 'must list at least one Apprise URL, like "mailto://user:${SMTP_PASSWORD}@example.org"')
    return Endpoint(
        id=channel_id,
        url="",
        secret=None,
        events=frozenset(events) if events else None,
        sources=frozenset(reader.strings("sources", ())) or None,
        timeout=reader.duration("timeout", DEFAULT_WEBHOOK_TIMEOUT, positive=True),
        format=NOTIFICATION_FORMAT,
        max_age=reader.duration("max_age", DEFAULT_DELIVERY_MAX_AGE, positive=True),
        apprise_urls=tuple(expand_secret(reader, f"urls[{i}]", url, environ, secrets) for i, url in enumerate(urls)),
    )
