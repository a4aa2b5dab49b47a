"""The read-only web view: dashboard, sources, article versions and diffs, search, events, Atom and JSON feeds.

It reads the store through its own connection and never writes. `serve_web` runs it alone (`monitor web`); the
daemon mounts the same app with its probes (`monitor run --http`).
"""

from __future__ import annotations

from monitor.web.app import Probe, build_app
from monitor.web.auth import check_bind, is_loopback
from monitor.web.embed import serve_beside
from monitor.web.reader import StoreReader
from monitor.web.server import WebServer, start_web_server

__all__ = [
    "Probe",
    "StoreReader",
    "WebServer",
    "build_app",
    "check_bind",
    "is_loopback",
    "serve_beside",
    "start_web_server",
]
