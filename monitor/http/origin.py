"""Which URLs belong to a source's site: the same origin (scheme, host, port), or a host `allow_domains` names.

A server on the listing's host but another port is another site (another program, perhaps another owner): its
links and redirects are not followed unless `allow_domains` names that host, or `host:port`. The one leniency is
the move between `http` on port 80 and `https` on 443 of the same host, which every site makes.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

__all__ = ["same_site"]

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    try:
        port = parts.port
    except ValueError:  # a port out of range or not a number
        return parts.scheme, "", None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(parts.scheme.lower())


def same_site(url: str, home: str, allow_domains: tuple[str, ...] = ()) -> bool:
    """Return whether `url` is on the site of `home` (its origin, or a host or `host:port` in `allow_domains`)."""
    scheme, host, port = _origin(urlsplit(url))
    if scheme not in DEFAULT_PORTS or not host:
        return False
    home_scheme, home_host, home_port = _origin(urlsplit(home))
    default = port == DEFAULT_PORTS[scheme] and home_port == DEFAULT_PORTS.get(home_scheme)
    if host == home_host and (port == home_port or default):
        return True
    named = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return any(named == domain or host == domain.strip("[]") or host.endswith("." + domain) for domain in allow_domains)
