"""Which transport carries a request: direct (aiohttp under httpx, monitor/http/direct.py) or proxied (httpx's own).

A proxy comes from, in order: the source's `proxy`; `[monitor] proxy`; the environment (HTTPS_PROXY, HTTP_PROXY,
ALL_PROXY). NO_PROXY exempts hosts from the last two. No proxy code is written here: a proxied origin (HTTP
forwarding, HTTPS through CONNECT, SOCKS5) goes through httpx.AsyncHTTPTransport. TLS: one context verifying against
certifi's roots (or SSL_CERT_FILE / SSL_CERT_DIR, as httpx reads them) plus `[monitor] ca_bundle`; a source with
`tls_verify = false` gets an unverified context, and every start logs a warning naming it.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import ssl
from collections.abc import Mapping, Sequence

import httpx

from monitor.config import HttpSettings, Source
from monitor.redact import redact_url

__all__ = ["KEEPALIVE_EXPIRY_S", "Transports", "environment_proxies", "no_proxy", "tls_context"]

logger = logging.getLogger(__name__)

KEEPALIVE_EXPIRY_S = 5.0


def environment_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the `*_proxy` variables as urllib names them ({"https": ..., "all": ..., "no": ...}; lowercase wins)."""
    found: dict[str, str] = {}
    for name in sorted(environ, key=str.islower):  # upper case first, so the lower-case spelling overwrites it
        value = environ[name]
        if value and name.lower().endswith("_proxy"):
            found[name.lower().removesuffix("_proxy")] = value
    return found


def no_proxy(host: str, exempt: str) -> bool:
    """Return whether NO_PROXY's comma list `exempt` names `host`: `*`, the host, a parent domain, or an IP network."""
    host = host.strip("[]").lower()
    for entry in (item.strip().lower() for item in exempt.split(",")):
        name = _without_port(entry)
        if entry == "*" or host == name.lstrip(".") or (name and host.endswith("." + name.lstrip("."))):
            return True
        if "/" in name and _in_network(host, name):
            return True
    return False


def _without_port(entry: str) -> str:
    if entry.startswith("["):  # [::1]:8080
        return entry[1:].partition("]")[0]
    return entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry


def _in_network(host: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


class CertificatesError(httpx.ConnectError):
    """The CA certificates to check sites with could not be loaded (a request needing them fails with this line)."""


def tls_context(ca_bundle: str | None, *, verify: bool = True) -> ssl.SSLContext:
    """Return a client TLS context: the default roots plus `ca_bundle`, or (verify=False) one that checks nothing.

    Raises CertificatesError naming where the certificates came from (SSL_CERT_FILE, SSL_CERT_DIR, certifi or
    `ca_bundle`) if they cannot be loaded. It is made at a run's first https request, so it is raised there.
    """
    if not verify:
        return httpx.create_ssl_context(verify=False)
    try:
        context = httpx.create_ssl_context(trust_env=True)  # certifi, or SSL_CERT_FILE / SSL_CERT_DIR if set
    except (ssl.SSLError, OSError) as exc:
        raise CertificatesError(f"cannot load the CA certificates of {_default_roots()}: {_reason(exc)}") from None
    if ca_bundle is not None:
        try:
            if os.path.isdir(ca_bundle):
                context.load_verify_locations(capath=ca_bundle)
            else:
                context.load_verify_locations(cafile=ca_bundle)
        except (ssl.SSLError, OSError) as exc:
            message = f"cannot load the CA certificates of [monitor] ca_bundle {ca_bundle}: {_reason(exc)}"
            raise CertificatesError(message) from None
    return context


def _default_roots() -> str:
    """Say where httpx.create_ssl_context(trust_env=True) takes its certificates from."""
    for variable in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        if os.environ.get(variable):
            return f"{variable}={os.environ[variable]}"
    return "certifi"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    return getattr(exc, "strerror", None) or str(exc)


class Transports(httpx.AsyncBaseTransport):
    """The transports of one run, made on first use; as an httpx transport (webhooks) it routes by URL alone."""

    def __init__(
        self, http: HttpSettings, sources: Sequence[Source] = (), environ: Mapping[str, str] | None = None
    ) -> None:
        self._http = http
        self._env = environment_proxies(os.environ if environ is None else environ)
        self._proxy = http.proxy.reveal() if http.proxy is not None and http.proxy.is_set else None
        self._contexts: dict[bool, ssl.SSLContext] = {}
        self._direct: dict[bool, httpx.AsyncBaseTransport] = {}
        self._proxied: dict[tuple[str, bool], httpx.AsyncHTTPTransport] = {}
        for source in sources:
            if not source.tls_verify:
                logger.warning(
                    "source %s: tls_verify = false: its site's certificate is NOT checked; anyone on the path can "
                    "read and change what it serves",
                    source.id,
                )

    def proxy_for(self, url: httpx.URL, source: Source | None = None) -> str | None:
        """Return the proxy URL a request to `url` (for `source`) goes through, or None for a direct one."""
        if source is not None and source.proxy is not None:
            return source.proxy.reveal()
        if no_proxy(url.host, self._env.get("no", "")):
            return None
        return self._proxy or self._env.get(url.scheme) or self._env.get("all")

    def pick(self, url: httpx.URL, source: Source | None = None) -> httpx.AsyncBaseTransport:
        """Return the transport for a request to `url` made for `source` (None: not for a source, e.g. a webhook)."""
        verify = source is None or source.tls_verify
        proxy = self.proxy_for(url, source)
        if proxy is None:
            direct = self._direct.get(verify)
            if direct is None:
                direct = self._direct[verify] = self.make_direct(verify)
            return direct
        proxied = self._proxied.get((proxy, verify))
        if proxied is None:
            logger.info("requests to %s go through the proxy %s", url.host, redact_url(proxy))
            limits = httpx.Limits(max_keepalive_connections=self._http.concurrency, keepalive_expiry=KEEPALIVE_EXPIRY_S)
            proxied = self._proxied[(proxy, verify)] = httpx.AsyncHTTPTransport(
                verify=self.context(verify), proxy=proxy, trust_env=False, limits=limits
            )
        return proxied

    @property
    def concurrency(self) -> int:
        """Idle keep-alive connections each pool keeps per origin (requests in flight are capped by the Fetcher)."""
        return self._http.concurrency

    def make_direct(self, verify: bool) -> httpx.AsyncBaseTransport:
        """Return a new transport for direct connections: aiohttp under httpx (bench's transport race swaps it)."""
        # Imported on first use: aiohttp takes 0.1-0.3 s of CPU to import, which the page readers' worker processes and
        # the read-only commands (which import monitor.http for its decoder and types) would pay for nothing.
        from monitor.http.direct import DirectTransport

        return DirectTransport(tls=functools.partial(self.context, verify), keepalive_expiry=KEEPALIVE_EXPIRY_S)

    def context(self, verify: bool) -> ssl.SSLContext:
        """Return the run's TLS context, verifying (the default roots plus ca_bundle) or not."""
        context = self._contexts.get(verify)
        if context is None:  # loading the CA bundle takes ~25 ms: once per run
            context = self._contexts[verify] = tls_context(self._http.ca_bundle, verify=verify)
        return context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.pick(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        transports: list[httpx.AsyncBaseTransport] = [*self._direct.values(), *self._proxied.values()]
        self._direct.clear()
        self._proxied.clear()
        for transport in transports:
            await transport.aclose()
