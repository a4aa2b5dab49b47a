"""Turn page bytes into text without mojibake: BOM → HTTP charset → <meta> → UTF-8, GB2312/GBK read as GB18030."""

from __future__ import annotations

import codecs
import re

__all__ = ["decode_html", "sniff_charset"]

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# Chinese government sites still label pages GB2312 while using characters only GBK/GB18030 have; GB18030 is a
# strict superset of both, so reading it that way never loses a character the label would have allowed.
# Latin-1 and ASCII labels are read as Windows-1252, as browsers do (the HTML standard's encoding table).
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso8859-1": "cp1252",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
}
_SNIFF_BYTES = 4096


def _known(name: str) -> str | None:
    label = name.strip().lower()
    if label in _SUPERSETS:
        return _SUPERSETS[label]
    try:
        canonical = codecs.lookup(label).name
    except LookupError:
        return None
    return _SUPERSETS.get(canonical, canonical)


def sniff_charset(body: bytes, content_type: str | None) -> str:
    """Return the encoding to read `body` with: BOM, then HTTP header, then <meta>, else UTF-8.

    A byte-order mark wins over the header, as the HTML standard says: servers mislabel, BOMs rarely lie.
    """
    for bom, bom_name in _BOMS:
        if body.startswith(bom):
            return bom_name
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        if match and (label := _known(match.group(1))):
            return label
    meta = _META_CHARSET.search(body[:_SNIFF_BYTES])
    if meta and (label := _known(meta.group(1).decode("ascii", "replace"))):
        return label
    return "utf-8"


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Return the page as text; undecodable bytes become U+FFFD rather than failing the page."""
    encoding = sniff_charset(body, content_type)
    if encoding.startswith("utf-16") or encoding == "utf-8":
        for bom, _name in _BOMS:
            if body.startswith(bom):
                body = body[len(bom) :]
                break
    text = body.decode(encoding, errors="replace")
    if encoding == "utf-8" and "\ufffd" in text and not _meta_declares(body):
        # An unlabelled page that is not UTF-8 is, on the sites we watch, almost always GB18030.
        try:
            return body.decode("gb18030")
        except UnicodeDecodeError:
            return text
    return text


def _meta_declares(body: bytes) -> bool:
    return _META_CHARSET.search(body[:_SNIFF_BYTES]) is not None
