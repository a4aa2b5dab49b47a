"""The read-only web app: pages, feeds and probes on one Starlette application, behind the token rule."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from monitor.config import Config
from monitor.web.auth import RequestLimits, TokenAuth
from monitor.web.context import WebContext, make_templates, render, web_context
from monitor.web.feedpages import feed
from monitor.web.pages import article, article_raw, dashboard, events, search, source
from monitor.web.reader import StoreReader
from storage import StorageError

__all__ = ["Probe", "build_app"]

TEXT = "text/plain; charset=utf-8"
Probe = Callable[[], tuple[int, str, bytes]]
"""A probe answers (status, content type, body), as the daemon's /healthz, /readyz and /metrics do."""


def _probe_endpoint(probe: Probe) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        status, content_type, body = probe()
        # Probes close their connection, as the hand-written probe server did: one probe, one connection.
        return Response(
            body, status, media_type=content_type, headers={"Cache-Control": "no-store", "Connection": "close"}
        )

    return endpoint


async def _healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n", headers={"Cache-Control": "no-store"})


async def _readyz(request: Request) -> Response:
    if await web_context(request).reader.call(lambda store: store.ping()):
        return PlainTextResponse("ready\n", headers={"Cache-Control": "no-store"})
    return PlainTextResponse("not ready: store unreachable\n", 503, headers={"Cache-Control": "no-store"})


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "error"
    return render(request, "error.html", status=status, code=status, message=detail)


async def _store_error(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", status=503, code=503, message=f"The store cannot be read now: {exc}")


def _routes(probes: Mapping[str, Probe] | None) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route("/", dashboard, name="dashboard"),
        Route("/sources/{source_id}", source, name="source"),
        Route("/article", article, name="article"),
        Route("/article/raw", article_raw, name="article_raw"),
        Route("/search", search, name="search"),
        Route("/events", events, name="events"),
        Route("/feeds/{name}", feed, name="feed"),
        Mount("/static", StaticFiles(packages=[("monitor.web", "static")]), name="static"),
    ]
    if probes is None:
        return [Route("/healthz", _healthz), Route("/readyz", _readyz), *routes]
    return [Route(path, _probe_endpoint(probe)) for path, probe in probes.items()] + routes


def build_app(
    config: Config,
    reader: StoreReader,
    *,
    probes: Mapping[str, Probe] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    current_config: Callable[[], Config] | None = None,
) -> Starlette:
    """Return the web app reading through `reader`; `probes` (the daemon's) replace the built-in /healthz, /readyz.

    `current_config` returns the config in force (the daemon's, which a reload replaces); the token stays the one
    `config` had at start.
    """
    app = Starlette(
        routes=_routes(probes),
        middleware=[Middleware(RequestLimits), Middleware(TokenAuth, token=config.http_token)],
        exception_handlers={HTTPException: _http_error, StorageError: _store_error},
    )
    app.state.web = WebContext(
        current_config=current_config or (lambda: config),
        reader=reader,
        templates=make_templates(clock),
        clock=clock,
    )
    return app
