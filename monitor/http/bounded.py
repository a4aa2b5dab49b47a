"""Read a response body within bounds: decoded size counted across every content-coding layer, while streaming.

httpx decodes `Content-Encoding` itself, but each `zlib` call may inflate a chunk without limit, so 1.8 KB of
`gzip, gzip` on the wire becomes 1 GiB in memory before any cap is checked. Here every layer inflates at most
`STEP_BYTES` at a time and every layer's output counts against the cap, so a bomb stops at the cap, not in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

__all__ = ["MAX_CODINGS", "BodyLimitError", "LayeredDecoder", "parse_codings"]

MAX_CODINGS = 2
STEP_BYTES = 64 * 1024
_GZIP = zlib.MAX_WBITS | 16
_IDENTITY = frozenset({"", "identity"})
_KNOWN = frozenset({"gzip", "x-gzip", "deflate"})


class BodyLimitError(Exception):
    """The body breaks a bound (too large decoded, too many or unknown codings, corrupt); the fetcher maps it."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        self.too_large = too_large
        super().__init__(message)


def parse_codings(header: str | None) -> list[str]:
    """Return the content-codings in the order they must be undone (last applied first).

    Raises BodyLimitError for an unknown coding or more than MAX_CODINGS of them.
    """
    codings = [c.strip().lower() for c in (header or "").split(",")]
    codings = [c for c in codings if c not in _IDENTITY]
    unknown = [c for c in codings if c not in _KNOWN]
    if unknown:
        raise BodyLimitError(f"unsupported content-coding {unknown[0][:40]!r}")
    if len(codings) > MAX_CODINGS:
        raise BodyLimitError(f"{len(codings)} content-codings (at most {MAX_CODINGS} accepted)")
    return list(reversed(codings))


class _Layer:
    """One coding being undone: gzip (members may follow each other) or deflate (zlib-wrapped or raw)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.wbits = _GZIP if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self.inflater = zlib.decompressobj(self.wbits)
        self.started = False

    def inflate(self, data: bytes) -> Iterator[bytes]:
        """Yield the decoded bytes of `data`, at most STEP_BYTES at a time."""
        while data:
            try:
                out = self.inflater.decompress(data, STEP_BYTES)
            except zlib.error as exc:
                if self.coding == "deflate" and not self.started:  # some servers send raw deflate
                    self.wbits = -zlib.MAX_WBITS
                    self.inflater = zlib.decompressobj(self.wbits)
                    self.started = True
                    continue
                raise BodyLimitError(f"corrupt {self.coding} body: {exc}") from exc
            self.started = True
            if out:
                yield out
            data = self.inflater.unconsumed_tail
            if not data and self.inflater.eof and self.inflater.unused_data:
                data = self.inflater.unused_data  # the next gzip member
                self.inflater = zlib.decompressobj(self.wbits)

    def finish(self) -> Iterator[bytes]:
        """Yield what the inflater still holds at the end of the body."""
        out = self.inflater.flush()
        if out:
            yield out


class LayeredDecoder:
    """Undo a response's content-codings chunk by chunk; every layer's output is capped at `max_bytes`."""

    def __init__(self, content_encoding: str | None, max_bytes: int) -> None:
        self._layers = [_Layer(coding) for coding in parse_codings(content_encoding)]
        self._max = max_bytes
        self._sizes = [0] * (len(self._layers) + 1)
        self._chunks: list[bytes] = []

    @property
    def size(self) -> int:
        """Return the decoded bytes so far."""
        return self._sizes[-1]

    def feed(self, raw: bytes) -> None:
        """Decode one chunk from the wire; raise BodyLimitError past the cap."""
        self._push(0, raw)

    def finish(self) -> bytes:
        """Flush every layer and return the whole decoded body."""
        for index, layer in enumerate(self._layers):
            for out in layer.finish():
                self._push(index + 1, out)
        return b"".join(self._chunks)

    def partial(self) -> bytes:
        """Return the decoded bytes so far, at most `max_bytes` (what a truncating reader keeps)."""
        return b"".join(self._chunks)

    def _push(self, level: int, data: bytes) -> None:
        self._sizes[level] += len(data)
        if self._sizes[level] > self._max:
            where = "decoded " if level else ""
            raise BodyLimitError(f"{where}body is over the {self._max}-byte cap", too_large=True)
        if level == len(self._layers):
            self._chunks.append(data)
            return
        for out in self._layers[level].inflate(data):
            self._push(level + 1, out)
