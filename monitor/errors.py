"""The monitor's error tree; every user-facing message names the source (or endpoint) it concerns.

MonitorError
├── ConfigError(path, source_id, key)         bad or unreadable config: the CLI exits 2
├── UsageError                                 a bad command-line argument: the CLI exits 2
├── FetchError(source_id, url)                 a page could not be fetched
│   ├── FetchTimeoutError
│   │   └── FetchDeadlineError                 no whole answer within the request or poll deadline
│   ├── FetchTLSError                          an untrusted certificate or failed TLS handshake (not retried)
│   ├── FetchStatusError(status)               non-2xx/304 answer (404, 5xx, 429 ...)
│   ├── FetchTooLargeError                     body over the size cap (decoded, every content-coding layer)
│   ├── FetchProtocolError                     an answer breaking HTTP or a bound on it (codings, headers, 1xx)
│   ├── DecodeError                            the bytes decode cleanly under no charset
│   ├── BlockedError(status)                   a block or anti-bot challenge page (412, 521, JS cookie)
│   └── RobotsDeniedError                      robots.txt forbids the URL for our User-Agent
├── ExtractError(source_id, url, field)        a page did not have what the selectors ask for
└── DeliveryError(endpoint_id, event_id)       a webhook delivery failed
"""

from __future__ import annotations

__all__ = [
    "BlockedError",
    "ConfigError",
    "DecodeError",
    "DeliveryError",
    "ExtractError",
    "FetchDeadlineError",
    "FetchError",
    "FetchProtocolError",
    "FetchStatusError",
    "FetchTLSError",
    "FetchTimeoutError",
    "FetchTooLargeError",
    "MonitorError",
    "RobotsDeniedError",
    "UsageError",
]


class MonitorError(Exception):
    """Base class of every error the monitor raises on purpose."""


class ConfigError(MonitorError):
    """The config file is unreadable or wrong; the message names the file, the source and the key."""

    def __init__(self, message: str, *, path: str, source_id: str | None = None, key: str | None = None) -> None:
        self.path = path
        self.source_id = source_id
        self.key = key
        where = [path]
        if source_id is not None:
            where.append(f"source {source_id!r}")
        if key is not None:
            where.append(f"key {key!r}")
        super().__init__(f"{': '.join(where)}: {message}")


class UsageError(MonitorError):
    """A command-line argument is wrong (an unknown id, a bad time); the message names the option."""


class FetchError(MonitorError):
    """A page could not be fetched."""

    def __init__(self, message: str, *, source_id: str, url: str) -> None:
        self.source_id = source_id
        self.url = url
        self.reason = message
        super().__init__(f"[{source_id}] {url}: {message}")


class FetchTimeoutError(FetchError):
    """The server did not answer in time."""


class FetchDeadlineError(FetchTimeoutError):
    """The answer (connect to last byte), or the whole poll, did not finish within its deadline."""


class FetchProtocolError(FetchError):
    """The server's answer broke HTTP or one of our bounds on it (content-codings, header count, 1xx answers)."""


class FetchTLSError(FetchError):
    """The TLS handshake failed: the site's certificate is not trusted, or the two sides share no protocol."""


class FetchStatusError(FetchError):
    """The server answered with a status we cannot use."""

    def __init__(self, message: str, *, source_id: str, url: str, status: int, retry_after_s: float | None = None):
        self.status = status
        self.retry_after_s = retry_after_s
        super().__init__(message, source_id=source_id, url=url)


class FetchTooLargeError(FetchError):
    """The body was larger than the configured cap."""


class DecodeError(FetchError):
    """The body's bytes decode cleanly under neither their declared charset nor any other."""


class BlockedError(FetchError):
    """The site answered with a block or anti-bot challenge instead of the page."""

    def __init__(self, message: str, *, source_id: str, url: str, status: int) -> None:
        self.status = status
        super().__init__(message, source_id=source_id, url=url)


class RobotsDeniedError(FetchError):
    """robots.txt forbids this URL for our User-Agent."""


class ExtractError(MonitorError):
    """A page lacks what the source's selectors ask for."""

    def __init__(self, message: str, *, source_id: str, url: str, field: str) -> None:
        self.source_id = source_id
        self.url = url
        self.field = field
        self.reason = message
        super().__init__(f"[{source_id}] {url}: {field}: {message}")


class DeliveryError(MonitorError):
    """A webhook delivery failed."""

    def __init__(self, message: str, *, endpoint_id: str, event_id: str) -> None:
        self.endpoint_id = endpoint_id
        self.event_id = event_id
        super().__init__(f"[webhook {endpoint_id}] {event_id}: {message}")
