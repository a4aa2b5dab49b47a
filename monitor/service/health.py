"""The probe answers' shape and the `--http` listen address; the web app (monitor.web) serves them.

`/healthz`, `/readyz` and `/metrics` are plain functions returning (status, content type, body).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "TEXT", "Response", "Route", "parse_address"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
TEXT = "text/plain; charset=utf-8"

Response = tuple[int, str, bytes]
Route = Callable[[], Response]


def parse_address(text: str) -> tuple[str, int]:
    """Parse `PORT`, `HOST:PORT` or `[IPv6]:PORT`; a bare port binds 127.0.0.1. Raise ValueError otherwise."""
    host, colon, port = text.rpartition(":")
    if not colon:
        host, port = DEFAULT_HOST, text
    host = host.removeprefix("[").removesuffix("]") or DEFAULT_HOST
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not a listen address like 127.0.0.1:8787")
    return host, int(port)
