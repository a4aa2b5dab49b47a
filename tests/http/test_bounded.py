"""The layered body decoder: every content-coding undone while streaming, every layer's output capped."""

from __future__ import annotations

import gzip
import zlib

import pytest

from monitor.http.bounded import BodyLimitError, LayeredDecoder, parse_codings

PAGE = b"<html><body>" + b"news " * 2000 + b"</body></html>"


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def decode(header: str | None, body: bytes, cap: int = 1 << 20, chunk: int = 7) -> bytes:
    decoder = LayeredDecoder(header, cap)
    for start in range(0, len(body), chunk):
        decoder.feed(body[start : start + chunk])
    return decoder.finish()


@pytest.mark.parametrize(
    ("header", "body"),
    [
        (None, PAGE),
        ("identity", PAGE),
        ("gzip", gzip.compress(PAGE)),
        ("x-gzip", gzip.compress(PAGE)),
        ("GZIP ", gzip.compress(PAGE)),
        ("deflate", zlib.compress(PAGE)),
        ("deflate", raw_deflate(PAGE)),
        ("gzip, gzip", gzip.compress(gzip.compress(PAGE))),
        ("deflate, gzip", gzip.compress(zlib.compress(PAGE))),
        ("gzip", gzip.compress(PAGE[:100]) + gzip.compress(PAGE[100:])),  # two gzip members
    ],
)
def test_codings_are_undone_in_order(header: str | None, body: bytes) -> None:
    assert decode(header, body) == PAGE


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("gzip, gzip, gzip", "3 content-codings"),
        ("br", "unsupported content-coding 'br'"),
        ("gzip, compress", "unsupported content-coding 'compress'"),
    ],
)
def test_unknown_or_too_many_codings_are_refused(header: str, message: str) -> None:
    with pytest.raises(BodyLimitError, match=message):
        parse_codings(header)


@pytest.mark.parametrize("header", [None, "gzip", "gzip, gzip"])
def test_decoded_bytes_past_the_cap_stop_the_read(header: str | None) -> None:
    body = bytes(50_000)
    for _ in (header or "").split(",") if header else ():
        body = gzip.compress(body)
    with pytest.raises(BodyLimitError, match="over the 40000-byte cap") as caught:
        decode(header, body, cap=40_000, chunk=1000)
    assert caught.value.too_large


def test_corrupt_body_is_refused() -> None:
    with pytest.raises(BodyLimitError, match="corrupt gzip body"):
        decode("gzip", b"\x1f\x8b" + b"not gzip at all" * 10)
