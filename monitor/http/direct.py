"""Direct connections: aiohttp as httpx's transport (httpx-aiohttp), with httpx's precise errors and our head bounds.

aiohttp and httpx_aiohttp are imported only here. httpx-aiohttp 0.2.0 maps aiohttp's errors loosely (a server that
disconnects becomes `ConnectTimeout`, a refused head leaves as a raw aiohttp exception), so every error is mapped
again from its aiohttp cause by `ERRORS`, as httpx's own transport maps httpcore's. aiohttp's parser bounds each
header line and the header count, but not a whole head nor the `1xx` answers before it; `_BoundedHandler` (aiohttp's
protocol for one connection) adds both: at most MAX_HEAD_BYTES of head and MAX_INFORMATIONAL `1xx` answers per
request. It also retires a connection that receives bytes while idle (a 408 sent before closing, or garbage): aiohttp
would parse them and hand them to the next request as its answer.

Bodies are not decompressed here (the fetcher bounds every content-coding layer, monitor/http/bounded.py); cookies are
not kept (a page fetch must not depend on what an earlier one set); redirects are not followed. Idle connections
close after `keepalive_expiry` seconds, and are as many as were in use at once (aiohttp has no cap on idle ones).
aiohttp sends an idempotent request (GET) once more on a new connection when its connection closes before any
answer; a POST is not sent again. aiohttp has no write timeout: a request body to a server that stops reading is
bounded by the caller's deadline (the fetcher's request deadline, a webhook's `timeout`). aiohttp re-quotes the URL
it is given: `%7E` goes out as `~`, a malformed escape `%zz` as `%25zz`.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import httpx
from aiohttp.client_proto import ResponseHandler
from aiohttp.http_exceptions import BadHttpMessage
from httpx_aiohttp import AiohttpTransport

__all__ = ["ERRORS", "MAX_HEAD_BYTES", "MAX_INFORMATIONAL", "DirectTransport", "httpx_error"]

MAX_INFORMATIONAL = 10  # an endless stream of `100 Continue` must not keep a request alive
MAX_HEAD_BYTES = 64 * 1024  # status lines and headers of one request's answers, 1xx included
# aiohttp's own per-line and header-count limits, raised so that MAX_HEAD_BYTES is the bound that applies (the
# fetcher refuses more than 100 header fields with its own message); the shortest header line ("a:\r\n") is 4 bytes.
_MAX_LINE_BYTES = MAX_HEAD_BYTES
_MAX_HEADERS = MAX_HEAD_BYTES // 4

# Most specific first: the first class the aiohttp error is an instance of decides the httpx error.
ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),  # sock_read: no byte within the read timeout
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, DNS, TLS handshake and certificate
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # the head was refused by the parser or our bounds
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),  # broken framing, or a body cut short
    (aiohttp.ClientConnectionError, httpx.ReadError),  # a reset, a lost connection
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.TransportError),
)


def httpx_error(exc: aiohttp.ClientError) -> httpx.TransportError:
    """Return the httpx error that stands for aiohttp's `exc` (the caller raises it `from` exc)."""
    mapped = next(to for source, to in ERRORS if isinstance(exc, source))
    if isinstance(exc, aiohttp.ClientPayloadError) and isinstance(exc.__cause__, OSError):
        mapped = httpx.ReadError  # a reset in the middle of the body, not a framing error
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return mapped("server disconnected without sending a (complete) response")
    if isinstance(exc, aiohttp.ClientResponseError):
        return mapped(exc.message)
    return mapped(str(exc) or type(exc).__name__)


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    """Raise aiohttp's errors, and httpx-aiohttp's loose mappings of them, as the precise httpx errors."""
    try:
        yield
    except aiohttp.ClientError as exc:
        raise httpx_error(exc) from _cause(exc)
    except httpx.TransportError as exc:
        if not isinstance(exc.__cause__, aiohttp.ClientError):
            raise
        raise httpx_error(exc.__cause__) from _cause(exc.__cause__)


def _cause(exc: aiohttp.ClientError) -> BaseException:
    """Return what to chain an httpx error to: the TLS error itself for a handshake or certificate failure.

    aiohttp's certificate error also subclasses ssl.CertificateError, but without the fields of the real one (the
    fetcher reads `verify_message` from the chain).
    """
    if isinstance(exc, aiohttp.ClientSSLError) and isinstance(exc.__cause__, ssl.SSLError):
        return exc.__cause__
    return exc


class _BoundedHandler(ResponseHandler):
    """aiohttp's protocol for one connection, with the bounds its parser lacks (see the module docstring)."""

    def __init__(self, loop: Any) -> None:
        self._expecting = False  # a request was sent and its final answer has not ended yet
        self._in_head = False
        self._head_bytes = 0
        self._informational = 0
        super().__init__(loop)

    def set_response_params(self, **params: Any) -> None:
        self._expecting = self._in_head = True
        self._head_bytes = self._informational = 0
        super().set_response_params(**params)

    def data_received(self, data: bytes) -> None:
        if not self._expecting:
            if data:  # nothing was asked: these bytes must not become the next request's answer
                self._retire()
            return
        if not self._in_head:
            super().data_received(data)
            return
        room = MAX_HEAD_BYTES - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            super().data_received(data)
            return
        self._head_bytes = MAX_HEAD_BYTES
        super().data_received(data[:room])
        if self._in_head:
            self._refuse(f"response head over {MAX_HEAD_BYTES} bytes")
        else:
            self.data_received(data[room:])  # the head ended within the bound: the rest is body (or unasked)

    def feed_data(self, data: Any, size: int = 0) -> None:
        message, payload = data
        if 100 <= message.code < 200 and message.code != 101:
            self._informational += 1
            if self._informational > MAX_INFORMATIONAL:
                self._refuse(f"more than {MAX_INFORMATIONAL} informational (1xx) answers")
                return
        elif not self._in_head:  # a second final answer to one request, or anything after a refusal
            self._retire()
            return
        else:
            self._in_head = False
            payload.on_eof(self._answered)
        super().feed_data(data, size)

    def _answered(self) -> None:
        self._expecting = False

    def _refuse(self, reason: str) -> None:
        self._in_head = self._expecting = False
        self._retire()
        self.set_exception(BadHttpMessage(reason))

    def _retire(self) -> None:
        """Close the connection, so that the pool discards it (self.close() would also drop a pending error)."""
        self._should_close = True
        if self.transport is not None:
            self.transport.close()


class _Connector(aiohttp.TCPConnector):
    """aiohttp's TCP connector making `_BoundedHandler` protocols, on our TLS context (made at the first https use)."""

    def __init__(self, *, tls: Callable[[], ssl.SSLContext], **options: Any) -> None:
        super().__init__(**options)
        # aiohttp offers no public way to choose the protocol class: its connector keeps the factory here.
        make: Callable[..., ResponseHandler] = _BoundedHandler
        self._factory = functools.partial(make, loop=self._loop)
        self._tls = tls

    def _get_ssl_context(self, req: Any) -> ssl.SSLContext | None:
        # aiohttp asks this for every connection it opens (its only way to a context besides one fixed at creation).
        # Ours loads a CA bundle, ~25 ms of CPU: a run that opens no https connection never needs it.
        return self._tls() if req.is_ssl() else None


class _Body(httpx.AsyncByteStream):
    """httpx-aiohttp's response stream, its errors mapped."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._closed:
            raise httpx.StreamClosed()
        with _mapped():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        self._closed = True
        with _mapped():
            await self._stream.aclose()


class DirectTransport(AiohttpTransport):
    """httpx-aiohttp's transport on our TLS context, without cookies, with precise errors and head bounds."""

    def __init__(self, *, tls: Callable[[], ssl.SSLContext], keepalive_expiry: float) -> None:
        # verify=False only spares httpx-aiohttp from loading a CA bundle for a context of its own: it would use that
        # context only in a session it made itself, and ours (`_session`) connects with `tls()` instead.
        super().__init__(verify=False, trust_env=False, client=self._session)
        self._tls = tls
        self._keepalive_s = keepalive_expiry

    def _session(self) -> aiohttp.ClientSession:
        # Made on the first request: aiohttp wants a running event loop. limit=0: requests in flight are capped by
        # the Fetcher's semaphores, as with the other transports.
        connector = _Connector(tls=self._tls, limit=0, keepalive_timeout=self._keepalive_s)
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            max_line_size=_MAX_LINE_BYTES,
            max_field_size=_MAX_LINE_BYTES,
            max_headers=_MAX_HEADERS,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https") or not request.url.host:  # aiohttp would take ws:// too
            raise httpx.UnsupportedProtocol(f"unsupported URL {str(request.url)!r}: http:// or https:// with a host")
        try:
            with _mapped():
                response = await super().handle_async_request(request)
        except ValueError as exc:  # aiohttp refuses a header value with CR or LF before sending anything
            raise httpx.LocalProtocolError(str(exc)) from exc
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Body(response.stream)
        return response
