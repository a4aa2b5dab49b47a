"""The request settings a config may set per source or for all: extra headers, proxy, CA bundle, TLS verification.

Header values and proxy URLs may hold `${VAR}` secrets (a cookie, a proxy password): they become Secret, so no repr,
log or export shows them. A read-only command (`secrets=False`) accepts an unset variable; revealing it raises.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path

from monitor.config.tables import TableReader
from monitor.config.types import Secret
from monitor.errors import ConfigError
from monitor.redact import redact_url

__all__ = [
    "PROXY_SCHEMES",
    "RESERVED_HEADERS",
    "expand_secret",
    "parse_ca_bundle",
    "parse_headers",
    "parse_proxy",
    "parse_user_agent",
]

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "if-none-match",
        "if-modified-since",
        "accept-encoding",
    }
)
"""Headers the fetcher or the transport owns (framing, conditional GET, decoding); `user_agent` has its own key."""

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def expand_secret(reader: TableReader, key: str, text: str, environ: Mapping[str, str], secrets: bool) -> Secret:
    """Return `text` with its ${VAR}s filled in, as a Secret; an unset variable is an error only when `secrets`
    (read-only commands parse without them)."""
    try:
        return Secret(reader.expand(text, key, environ))
    except ConfigError as exc:
        if secrets:
            raise
        return Secret.unset(exc)


def parse_headers(reader: TableReader, environ: Mapping[str, str], secrets: bool) -> tuple[tuple[str, Secret], ...]:
    """Return the `headers` table as (name, value) pairs; values may use `${VAR}` and are never shown."""
    table = reader.table("headers")
    pairs = []
    for name, value in table.data.items():
        key = f"headers.{name}"
        if not _TOKEN.match(name):
            reader.fail(key, f"{name!r} is not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            reader.fail(key, "is set by the fetcher itself and cannot be configured")
        if name.lower() == "user-agent":
            reader.fail(key, "use the 'user_agent' key instead")
        if not isinstance(value, str):
            reader.fail(key, f"must be a string, not {type(value).__name__}")
        if any(char in value for char in "\r\n\0"):
            reader.fail(key, "must not contain a line break or NUL")
        pairs.append((name, expand_secret(reader, key, value, environ, secrets)))
    return reader.share(tuple(pairs))


def parse_user_agent(reader: TableReader) -> str | None:
    """Return this table's `user_agent`, or None; a line break in it would split the request's head."""
    value = reader.optional_string("user_agent")
    if value is not None and any(char in value for char in "\r\n\0"):
        reader.fail("user_agent", "must not contain a line break or NUL")
    return value


def parse_proxy(reader: TableReader, environ: Mapping[str, str], secrets: bool) -> Secret | None:
    """Return the `proxy` URL (`http://`, `https://` or `socks5://`, credentials as `${VAR}`), or None."""
    text = reader.optional_string("proxy")
    if text is None:
        return None
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in PROXY_SCHEMES or not rest.strip("/"):
        reader.fail("proxy", f"{redact_url(text)!r} is not a proxy URL like 'http://proxy.example:3128'")
    if "@" in rest.split("/")[0] and "${" not in rest.split("@")[0]:
        reader.fail("proxy", "put the proxy's user and password in the environment, as ${VAR}, not in the file")
    return expand_secret(reader, "proxy", text, environ, secrets)


def parse_ca_bundle(reader: TableReader, resolve: Callable[[str], str]) -> str | None:
    """Return the absolute path (`resolve`d) of `ca_bundle`, a PEM file or a folder of hashed certificates, checked."""
    text = reader.optional_string("ca_bundle")
    if text is None:
        return None
    path = resolve(text)
    context = ssl.create_default_context()
    try:
        if Path(path).is_dir():
            context.load_verify_locations(capath=path)
        else:
            context.load_verify_locations(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        reader.fail("ca_bundle", f"cannot load CA certificates from {path}: {getattr(exc, 'strerror', None) or exc}")
    return path
