"""An offline tour: a simulated MFA site and a webhook receiver on loopback, the real service polling them, and
scripted publish / edit / delete steps whose events and signed deliveries are shown as they arrive.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from monitor.sim.fixtures import load_fixture_site
from monitor.sim.newsroom import LISTING_FILE, PAGES
from monitor.sim.pagegen import en_listing, replace_once
from monitor.sim.server import SimServer
from monitor.sim.site import SimSite

__all__ = ["Delivery", "run_demo"]

DIRECTORY = "/mfa_eng/xwfw_665399/s2510_665401/2511_665403/"
ARTICLES = {
    "t1793427": ("en_article_t1793427_regular-press-conference_2020-06-30.html", "Regular Press Conference, June 30"),
    "t1739548": ("en_article_t1739548_daily-briefing-online_2020-02-03.html", "Daily Briefing Online, February 3"),
    "t1617471": ("en_article_t1617471_regular-press-conference_2018-11-29.html", "Regular Press Conference, Nov 29"),
}
EDIT = ("Mr. Pompeo is a brazen liar.", "Mr. Pompeo is, once again, mistaken.")
STEP_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook request the demo receiver got, with the outcome of checking its signature."""

    event: dict[str, Any]
    webhook_id: str
    verified: bool


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Check a Standard Webhooks signature independently of the sending code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.split(",", 1)[1] for part in headers.get("webhook-signature", "").split() if "," in part]
    return any(hmac.compare_digest(expected, sig) for sig in offered)


@contextmanager
def _receiver(secret: str) -> Iterator[tuple[str, queue.Queue[Delivery]]]:
    inbox: queue.Queue[Delivery] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            inbox.put(Delivery(json.loads(body), headers.get("webhook-id", ""), _verify(secret, headers, body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="demo-receiver", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/demo", inbox
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _config(folder: Path, site_url: str, hook_url: str, secret: str) -> Path:
    path = folder / "demo.toml"
    path.write_text(
        f"""[monitor]
database = "sqlite:///{folder}/demo.db"
host_delay = "0s"
retry_backoff = "0.05s"
timeout = "5s"

[[sources]]
id = "mfa-en-press"
name = "MFA (China): Regular Press Conferences (simulated)"
url = "{site_url}{DIRECTORY}"
interval = "2s"
timezone = "Asia/Shanghai"
robots = false
confirm_removal = 2
confirm_removal_after = "2s"
[sources.listing]
links = "div.newsLst_mod ul li a"
[sources.article]
title = "div.content_mod h2.title"
date = "#News_Body_Time"
body = "div.content_mod div.content"

[[webhooks]]
id = "demo-receiver"
url = "{hook_url}"
secret = "{secret}"
timeout = "5s"
""",
        encoding="utf-8",
    )
    path.chmod(0o600)  # it holds the demo's (throwaway) webhook secret, so `monitor events` works on it afterwards
    return path


class _Tour:
    """The scripted steps against the simulated site, waiting for each one's webhook."""

    def __init__(self, site: SimSite, inbox: queue.Queue[Delivery], say: Callable[[str, Delivery | None], None]):
        self.site = site
        self.inbox = inbox
        self.say = say
        self.template = (PAGES / LISTING_FILE).read_bytes()

    def list(self, *docs: str) -> None:
        entries = [(f"./{doc}.shtml", ARTICLES[doc][1]) for doc in docs]
        self.site.put(DIRECTORY, en_listing(self.template, entries))

    def page(self, doc: str, body: bytes | None = None) -> None:
        self.site.put(f"{DIRECTORY}{doc}.shtml", body or (PAGES / ARTICLES[doc][0]).read_bytes())

    def expect(self, event_type: str) -> Delivery:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                delivery = self.inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            self.say("delivery", delivery)
            if delivery.event["type"] == event_type:
                return delivery
        raise TimeoutError(f"no {event_type} webhook within {STEP_TIMEOUT_S:.0f} s")


def _steps(tour: _Tour) -> list[tuple[str, Callable[[], None], str]]:
    edited = replace_once((PAGES / ARTICLES["t1793427"][0]).read_bytes(), *EDIT)
    return [
        ("The ministry publishes a new readout (t1617471) on its listing", lambda: _publish(tour), "article.published"),
        (
            "The ministry silently edits t1793427 (the listing does not change)",
            lambda: tour.page("t1793427", edited),
            "article.updated",
        ),
        (
            "The ministry deletes t1739548 (its URL now answers 404)",
            lambda: tour.site.remove(f"{DIRECTORY}t1739548.shtml"),
            "article.removed",
        ),
    ]


def _publish(tour: _Tour) -> None:
    tour.page("t1617471")
    tour.list("t1617471", "t1793427", "t1739548")


def run_demo(say: Callable[[str, Delivery | None], None], folder: Path | None = None) -> Path:
    """Run the tour, reporting through `say(message, delivery)`; return the folder holding the demo's database."""
    folder = _fresh_folder(folder) if folder else Path(tempfile.mkdtemp(prefix="ministry-monitor-demo-"))
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    site = SimSite()
    load_fixture_site(site, PAGES)
    with SimServer(site) as server, _receiver(secret) as (hook_url, inbox):
        tour = _Tour(site, inbox, say)
        tour.list("t1793427", "t1739548")
        config = _config(folder, server.base_url(), hook_url, secret)
        say(f"simulated MFA site at {server.base_url()}{DIRECTORY}; webhook receiver at {hook_url}", None)
        with _service(config) as service:
            say(f"started `monitor run` (pid {service.pid}); polling every 2 s, first poll is the baseline", None)
            _wait_for_baseline(site)
            for description, act, expected in _steps(tour):
                say(f"STEP: {description}", None)
                act()
                tour.expect(expected)
        say(f"`monitor run` stopped with exit code {service.returncode}", None)
    return folder


def _fresh_folder(folder: Path) -> Path:
    """Return `folder`, created if missing, without an earlier demo's database in it.

    The earlier demo's site listened on another port: its database would take every article of this run for a new
    publication.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("demo.db", "demo.db-wal", "demo.db-shm", "demo.pid"):
        (folder / name).unlink(missing_ok=True)
    return folder


def _wait_for_baseline(site: SimSite) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        paths = {r.path for r in site.requests if r.status == 200}
        if {f"{DIRECTORY}t1793427.shtml", f"{DIRECTORY}t1739548.shtml"} <= paths:
            time.sleep(0.5)
            return
        time.sleep(0.1)
    raise TimeoutError("the service did not take its baseline in time")


@contextmanager
def _service(config: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "monitor", "--verbose", "run", "--config", str(config)]
    with (config.parent / "service.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as systemd or Docker would, then wait; kill only if the service overstays its shutdown bound."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
