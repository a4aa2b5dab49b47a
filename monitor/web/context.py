"""What every web handler shares (config, store reader, templates, clock), kept on the Starlette app's state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from monitor.config import Config
from monitor.events import iso_z
from monitor.web.present import relative
from monitor.web.reader import StoreReader

__all__ = ["WebContext", "highlight", "make_templates", "render", "web_context"]

# Scraped pages are data: no script, no frame, no form posts anywhere but here, no referrer (feed tokens in URLs).
HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class WebContext:
    """The read-only view's collaborators."""

    current_config: Callable[[], Config]
    reader: StoreReader
    templates: Jinja2Templates
    clock: Callable[[], datetime]

    @property
    def config(self) -> Config:
        """The config in force now (the daemon's changes on reload)."""
        return self.current_config()


def highlight(text: str, terms: list[str]) -> Markup:
    """Return `text` escaped, with each occurrence of a term (any case) wrapped in <mark>."""
    folded = text.casefold()
    marks = [False] * len(text)
    for term in (t.casefold() for t in terms if t):
        at = folded.find(term)
        while at >= 0 and len(folded) == len(text):  # casefold can change lengths (ß): then nothing is marked
            marks[at : at + len(term)] = [True] * len(term)
            at = folded.find(term, at + len(term))
    out, start = [], 0
    for i in range(1, len(text) + 1):
        if i == len(text) or marks[i] != marks[start]:
            piece = escape(text[start:i])
            out.append(Markup(f"<mark>{piece}</mark>") if marks[start] else piece)
            start = i
    return Markup("").join(out)


def make_templates(clock: Callable[[], datetime]) -> Jinja2Templates:
    """Return the package's templates with autoescaping on for every file, and the time filters they use."""
    env = Environment(
        loader=PackageLoader("monitor.web", "templates"), autoescape=select_autoescape(default=True), auto_reload=False
    )
    env.filters["highlight"] = highlight
    env.filters["ago"] = lambda moment, missing="never": relative(moment, clock(), missing)
    env.filters["iso"] = lambda moment: iso_z(moment) if moment is not None else ""
    env.filters["day"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""
    return Jinja2Templates(env=env)


def web_context(request: Request) -> WebContext:
    """Return the context the app was built with."""
    context: WebContext = request.app.state.web
    return context


def render(request: Request, template: str, /, status: int = 200, **values: Any) -> Response:
    """Render a template with the security headers every HTML page carries."""
    templates = web_context(request).templates
    return templates.TemplateResponse(request, template, values, status_code=status, headers=HTML_HEADERS)
