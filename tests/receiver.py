"""A real webhook receiver for tests: a threaded loopback HTTP server that records requests and answers by script.

`Receiver([Reply(503), Reply(503)])` is down for two requests, then answers 200 "ok"; `wait_for(n)` awaits n requests.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["Receiver", "Reply", "Request"]


@dataclass(frozen=True, slots=True)
class Reply:
    """How to answer one request: status, headers and body, after `delay_s`; `hang` holds it until close."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay_s: float = 0.0
    hang: bool = False


@dataclass(frozen=True, slots=True)
class Request:
    """One request as received: its index (0-based), header names lower-cased, exact body bytes, arrival time."""

    index: int
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        """Return the body decoded as JSON."""
        return json.loads(self.body)


Script = Sequence[Reply] | Callable[[Request], Reply]


class Receiver:
    """A loopback HTTP server in a thread; `script[i]` answers request i (`default` after it), or call a function.

    Use it as a context manager: closing releases hanging requests, stops the server and joins every thread.
    """

    def __init__(self, script: Script = (), *, default: Reply | None = None) -> None:
        self._script = script
        self._default = default or Reply()
        self._requests: list[Request] = []
        self._arrived = threading.Condition()
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()

    @property
    def url(self) -> str:
        """Return the base URL, `http://127.0.0.1:PORT/`."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def requests(self) -> list[Request]:
        """Return a copy of the requests received so far, in arrival order."""
        with self._arrived:
            return list(self._requests)

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Request]:
        """Return the first `count` requests once they have arrived; raise TimeoutError if they do not in time."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._requests) >= count, timeout_s):
                raise TimeoutError(f"receiver got {len(self._requests)} requests, not {count}, in {timeout_s}s")
            return self._requests[:count]

    def close(self) -> None:
        """Release hanging requests, stop serving, close the socket and join the threads."""
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _record(self, handler: BaseHTTPRequestHandler, body: bytes) -> Request:
        with self._arrived:
            headers = {name.lower(): value for name, value in handler.headers.items()}
            request = Request(len(self._requests), handler.command, handler.path, headers, body, time.monotonic())
            self._requests.append(request)
            self._arrived.notify_all()
        return request

    def _reply(self, request: Request) -> Reply:
        if callable(self._script):
            return self._script(request)
        return self._script[request.index] if request.index < len(self._script) else self._default

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        """Record one request and answer it by script (on the server's handler thread)."""
        body = handler.rfile.read(int(handler.headers.get("content-length") or 0))
        reply = self._reply(self._record(handler, body))
        if reply.hang or reply.delay_s:
            self._closing.wait(None if reply.hang else reply.delay_s)
        handler.close_connection = True
        if self._closing.is_set():
            return
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(reply.body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins every handler thread: no thread outlives a test
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected here (hanging replies); anything else is a test bug.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 10

    def do_POST(self) -> None:
        self.server.receiver._answer(self)

    do_GET = do_PUT = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass
