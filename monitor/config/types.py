"""The typed config objects and their named defaults: frozen dataclasses that config.parse builds and the rest reads.

Import them from monitor.config; this module only keeps the shapes apart from the parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from monitor.errors import ConfigError

__all__ = [
    "DATE_SOURCES",
    "DEFAULT_CHECK_DELIVERY_TIMEOUT",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_CONFIRM_REMOVAL",
    "DEFAULT_CONFIRM_REMOVAL_AFTER",
    "DEFAULT_DATABASE",
    "DEFAULT_DATE_FROM",
    "DEFAULT_DATE_FROM_PAGE",
    "DEFAULT_DELIVERY_MAX_AGE",
    "DEFAULT_FAILING_AFTER",
    "DEFAULT_HOST_CONCURRENCY",
    "DEFAULT_HOST_DELAY",
    "DEFAULT_INTERVAL",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_MAX_LINKS",
    "DEFAULT_MAX_NEW",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_MIN_LINKS_RATIO",
    "DEFAULT_POLL_DEADLINE",
    "DEFAULT_REQUEST_DEADLINE",
    "DEFAULT_REMOVE",
    "DEFAULT_RETRIES",
    "DEFAULT_RETRY_BACKOFF",
    "DEFAULT_REVISIT",
    "DEFAULT_TIMEOUT",
    "DEFAULT_USER_AGENT",
    "DEFAULT_WEBHOOK_TIMEOUT",
    "EVENT_TYPES",
    "NOTIFICATION_FORMAT",
    "WEBHOOK_FORMATS",
    "ArticleSelectors",
    "Config",
    "Endpoint",
    "HttpSettings",
    "ListingSelectors",
    "Secret",
    "Source",
]

DEFAULT_DATABASE = "sqlite:///data/monitor.db"
DEFAULT_USER_AGENT = "ministry-monitor/0.1 (+https://github.com/ministry-monitor/ministry-monitor)"
DEFAULT_TIMEOUT = timedelta(seconds=20)
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_REQUEST_DEADLINE = timedelta(seconds=60)
DEFAULT_POLL_DEADLINE = timedelta(minutes=15)
DEFAULT_MAX_LINKS = 1000
DEFAULT_MAX_NEW = 100
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_RETRIES = 3
DEFAULT_RETRY_BACKOFF = timedelta(seconds=1)
DEFAULT_CONCURRENCY = 32
DEFAULT_HOST_CONCURRENCY = 1
DEFAULT_HOST_DELAY = timedelta(seconds=1)
DEFAULT_INTERVAL = timedelta(minutes=10)
DEFAULT_REVISIT = timedelta(days=30)
DEFAULT_CONFIRM_REMOVAL = 3
DEFAULT_CONFIRM_REMOVAL_AFTER = timedelta(minutes=30)
DEFAULT_FAILING_AFTER = 3
DEFAULT_MIN_LINKS_RATIO = 0.2
DEFAULT_MAX_PAGES = 5
DEFAULT_WEBHOOK_TIMEOUT = timedelta(seconds=10)
DEFAULT_DELIVERY_MAX_AGE = timedelta(hours=24)
DEFAULT_CHECK_DELIVERY_TIMEOUT = timedelta(seconds=30)
DEFAULT_REMOVE = ("script", "style", "noscript")
DEFAULT_DATE_FROM = ("selector", "title", "url")
DEFAULT_DATE_FROM_PAGE = ("page", "title", "url")
"""Without a `date` selector the date comes from what the page declares (JSON-LD, meta, <time>, text by the title)."""

EVENT_TYPES = frozenset(
    {
        "article.published",
        "article.updated",
        "article.removed",
        "article.restored",
        "source.failing",
        "source.recovered",
        "source.layout_changed",
    }
)
WEBHOOK_FORMATS = frozenset({"standard", "slack", "discord"})
NOTIFICATION_FORMAT = "apprise"
"""The `format` of an endpoint built from a [[notifications]] table: sent through Apprise, not POSTed."""
DATE_SOURCES = frozenset({"selector", "page", "title", "url"})


class Secret:
    """A string that never shows itself in `repr`, `str`, logs or exports; `.reveal()` at the point of use.

    A config read for a read-only command may hold an unset secret (its `${VAR}` is not in the environment):
    it masks the same way, and `.reveal()` raises the ConfigError that a sending command would have raised.
    """

    __slots__ = ("_missing", "_value")

    def __init__(self, value: str, missing: ConfigError | None = None) -> None:
        self._value = value
        self._missing = missing

    @classmethod
    def unset(cls, error: ConfigError) -> Secret:
        """Return a secret whose variable is not set; revealing it raises `error`."""
        return cls("", error)

    @property
    def is_set(self) -> bool:
        """Return whether the secret has a value (its `${VAR}`s were all set)."""
        return self._missing is None

    def reveal(self) -> str:
        """Return the secret value; raise ConfigError if its environment variable was not set."""
        if self._missing is not None:
            raise self._missing
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and (other._value, other.is_set) == (self._value, self.is_set)

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class ListingSelectors:
    """How to find article links on a listing page, and how to reach its older pages (backfill after downtime).

    Without `links`, the links are found from the page's structure. `pages` is a URL pattern relative to the listing
    with `{n}` for the page after the first (1, 2, ...); else `next` is the CSS selector of the next-page link; else a
    `rel="next"` link is followed.
    """

    links: str | None = None
    min_links_ratio: float = DEFAULT_MIN_LINKS_RATIO
    next: str | None = None
    pages: str | None = None
    max_pages: int = DEFAULT_MAX_PAGES


@dataclass(frozen=True, slots=True)
class ArticleSelectors:
    """How to read an article page; a selector left out (None) is replaced by the generic reader for that field."""

    title: str | None = None
    body: str | None = None
    date: str | None = None
    date_from: tuple[str, ...] = DEFAULT_DATE_FROM_PAGE
    remove: tuple[str, ...] = DEFAULT_REMOVE
    ignore: tuple[str, ...] = ()
    ignore_text: tuple[re.Pattern[str], ...] = ()
    error_markers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Source:
    """One watched news listing."""

    id: str
    name: str
    url: str
    listing: ListingSelectors = ListingSelectors()
    article: ArticleSelectors = ArticleSelectors()
    interval: timedelta = DEFAULT_INTERVAL
    cron: str | None = None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    allow_domains: tuple[str, ...] = ()
    revisit: timedelta = DEFAULT_REVISIT
    confirm_removal: int = DEFAULT_CONFIRM_REMOVAL
    confirm_removal_after: timedelta = DEFAULT_CONFIRM_REMOVAL_AFTER
    failing_after: int = DEFAULT_FAILING_AFTER
    host_concurrency: int = DEFAULT_HOST_CONCURRENCY
    host_delay: timedelta = DEFAULT_HOST_DELAY
    robots: bool = True
    error_urls: tuple[str, ...] = ()
    proven_by: tuple[str, ...] = ()
    language: str | None = None
    """The pages' language tag (e.g. "de", "en-US"): says whether 01/02/2022 is 1 February; else the page's lang."""
    max_links: int = DEFAULT_MAX_LINKS
    max_new: int = DEFAULT_MAX_NEW
    template: str | None = None
    """The site template (monitor/config/templates.toml or the config's [templates]) its keys were filled from."""
    from_template: frozenset[str] = frozenset()
    """The selector keys ("listing.links", "article.title", ...) the template gave, not the source's own table."""
    learned: frozenset[str] = frozenset()
    """The selector keys read with selectors learned from the generic readers (monitor.learned), not configured."""
    headers: tuple[tuple[str, Secret], ...] = ()
    """Extra request headers (e.g. Accept-Language, a cookie the site requires); values never shown."""
    user_agent: str | None = None
    """This source's User-Agent; None means [monitor] user_agent."""
    timeout: timedelta | None = None
    """This source's connect/read timeout; None means [monitor] timeout."""
    proxy: Secret | None = None
    """This source's proxy URL (credentials inside it are secret); None means [monitor] proxy, then the environment."""
    tls_verify: bool = True
    """False accepts any certificate from this source's site (logged as a warning at every start)."""


@dataclass(frozen=True, slots=True, repr=False)
class Endpoint:
    """One webhook receiver. Its `repr` shows only the URL's origin: chat webhook URLs carry their token in the path."""

    id: str
    url: str
    secret: Secret | None
    events: frozenset[str] | None = None
    sources: frozenset[str] | None = None
    timeout: timedelta = DEFAULT_WEBHOOK_TIMEOUT
    format: str = "standard"
    max_age: timedelta = DEFAULT_DELIVERY_MAX_AGE
    apprise_urls: tuple[Secret, ...] = ()
    """A notification's Apprise URLs (format "apprise"); each may hold a token or password, so each is a Secret."""

    def __repr__(self) -> str:
        if self.format == NOTIFICATION_FORMAT:
            return f"Endpoint(id={self.id!r}, format='apprise', urls={len(self.apprise_urls)} hidden)"
        origin = "/".join(self.url.split("/")[:3])
        return f"Endpoint(id={self.id!r}, url='{origin}/…', secret={self.secret!r}, format={self.format!r})"

    def wants(self, event_type: str, source_id: str) -> bool:
        """Return whether this endpoint subscribes to an event of this type from this source."""
        if self.events is not None and event_type not in self.events:
            return False
        return self.sources is None or source_id in self.sources


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Global HTTP behaviour shared by every fetch."""

    user_agent: str = DEFAULT_USER_AGENT
    timeout: timedelta = DEFAULT_TIMEOUT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    retries: int = DEFAULT_RETRIES
    concurrency: int = DEFAULT_CONCURRENCY
    host_concurrency: int = DEFAULT_HOST_CONCURRENCY
    host_delay: timedelta = DEFAULT_HOST_DELAY
    retry_backoff: timedelta = DEFAULT_RETRY_BACKOFF
    request_deadline: timedelta = DEFAULT_REQUEST_DEADLINE
    """Connect to last byte of one request (each retry has its own)."""
    poll_deadline: timedelta = DEFAULT_POLL_DEADLINE
    """One whole poll of one source: listing, articles, store writes."""
    ca_bundle: str | None = None
    """Extra trusted CA certificates (a PEM file or a hashed folder), e.g. a private or national CA's."""
    proxy: Secret | None = None
    """The proxy for every source (unless NO_PROXY names the host); None means HTTPS_PROXY/HTTP_PROXY/ALL_PROXY."""


@dataclass(frozen=True, slots=True, repr=False)
class Config:
    """The whole parsed config file. Its `repr` masks a password in the database URL."""

    path: str
    database: str
    http: HttpSettings
    sources: tuple[Source, ...]
    webhooks: tuple[Endpoint, ...] = ()
    notifications: tuple[Endpoint, ...] = ()
    check_delivery_timeout: timedelta = DEFAULT_CHECK_DELIVERY_TIMEOUT
    read_workers: int | None = None
    """Worker processes that read article pages; None means one per core (see monitor.pages.readers)."""
    warnings: tuple[str, ...] = field(default=(), compare=False)
    """Probable mistakes (monitor.config.lint): `validate` prints them, `run` logs them; none stops anything."""
    http_token: Secret | None = None
    """The bearer token (or Basic password) the web view asks for; required to serve on a non-loopback address."""
    _by_id: dict[str, Source] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # The daemon looks a source up on every poll: a dict, not a scan of thousands.
        object.__setattr__(self, "_by_id", {source.id: source for source in self.sources})

    def __repr__(self) -> str:
        database = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", self.database)
        return (
            f"Config(path={self.path!r}, database={database!r}, sources={[s.id for s in self.sources]!r}, "
            f"webhooks={self.webhooks!r}, notifications={self.notifications!r})"
        )

    def source(self, source_id: str) -> Source:
        """Return the source with this id; raise ConfigError if there is none."""
        source = self._by_id.get(source_id)
        if source is None:
            raise ConfigError("no such source", path=self.path, source_id=source_id, key="id")
        return source

    @property
    def channels(self) -> tuple[Endpoint, ...]:
        """Every delivery channel the outbox serves: the webhooks, then the Apprise notifications (ids unique)."""
        return self.webhooks + self.notifications

    def channel(self, channel_id: str) -> Endpoint:
        """Return the webhook or notification with this id; raise ConfigError if there is none."""
        for endpoint in self.channels:
            if endpoint.id == channel_id:
                return endpoint
        raise ConfigError(f"no such webhook or notification {channel_id!r}", path=self.path, key="webhooks")

    def notification(self, channel_id: str) -> Endpoint:
        """Return the [[notifications]] entry with this id; raise ConfigError if there is none."""
        for endpoint in self.notifications:
            if endpoint.id == channel_id:
                return endpoint
        raise ConfigError(f"no such notification {channel_id!r}", path=self.path, key="notifications")

    def webhook(self, endpoint_id: str) -> Endpoint:
        """Return the webhook with this id; raise ConfigError if there is none."""
        for endpoint in self.webhooks:
            if endpoint.id == endpoint_id:
                return endpoint
        raise ConfigError(f"no such webhook {endpoint_id!r}", path=self.path, key="webhooks")
