"""The web view's access rule: loopback by default; elsewhere a token (bearer, Basic password, or `?token=` on feeds).

Tokens are compared in constant time. Probes (`/healthz`, `/readyz`) stay open so orchestrators can call them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from urllib.parse import parse_qs

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.config import Config, Secret
from monitor.errors import ConfigError

__all__ = ["MAX_HEADERS", "MAX_TARGET_BYTES", "OPEN_PATHS", "RequestLimits", "TokenAuth", "check_bind", "is_loopback"]

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
MAX_HEADERS = 100
MAX_TARGET_BYTES = 8192
REALM = 'Basic realm="ministry-monitor", charset="UTF-8"'


def is_loopback(host: str) -> bool:
    """Return whether `host` is a loopback address (127.0.0.0/8, ::1 or `localhost`)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(config: Config, host: str) -> None:
    """Raise ConfigError when serving on a non-loopback `host` without `[monitor] http_token`."""
    if config.http_token is None and not is_loopback(host):
        raise ConfigError(
            f'serving on {host} (not loopback) needs a token: set http_token = "${{VAR}}"',
            path=config.path,
            key="monitor.http_token",
        )


def presented_tokens(headers: dict[str, str], query: str, path: str) -> list[str]:
    """Return the tokens a request offers: a bearer token, a Basic password, and on feeds `?token=`."""
    found = []
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        found.append(value.strip())
    elif scheme.lower() == "basic":
        try:
            found.append(base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2])
        except (binascii.Error, UnicodeDecodeError):
            pass
    if path.startswith("/feeds/"):
        found.extend(parse_qs(query).get("token", []))
    return found


class TokenAuth:
    """ASGI middleware answering 401 to any request (but the probes) that does not present the token."""

    def __init__(self, app: ASGIApp, token: Secret | None) -> None:
        self.app = app
        self._token = None if token is None else token.reveal().encode("utf-8")

    def _allowed(self, scope: Scope) -> bool:
        if self._token is None or scope["path"] in OPEN_PATHS:
            return True
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = scope.get("query_string", b"").decode("latin-1")
        offered = presented_tokens(headers, query, scope["path"])
        # compare_digest on every offer, never short-circuiting on a prefix: the time says nothing about the token.
        return any([hmac.compare_digest(t.encode("utf-8"), self._token) for t in offered])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        response = PlainTextResponse(
            "401 Unauthorized: send the token as a bearer token or Basic password (feeds: ?token=)\n",
            status_code=401,
            headers={"WWW-Authenticate": REALM, "Cache-Control": "no-store"},
        )
        await response(scope, receive, send)


class RequestLimits:
    """ASGI middleware answering 400 to a request with more than MAX_HEADERS headers or a longer target than
    MAX_TARGET_BYTES (h11 bounds only a head that arrives in pieces)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            target = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b""))
            if len(scope.get("headers", [])) > MAX_HEADERS or target > MAX_TARGET_BYTES:
                await PlainTextResponse("bad request\n", 400, headers={"Connection": "close"})(scope, receive, send)
                return
        await self.app(scope, receive, send)
