"""Turn page bytes into text without mojibake: BOM → HTTP charset → <meta> → UTF-8, then a detector for mislabels.

GB2312/GBK labels are read as GB18030. Bytes that do not decode cleanly under their label are read by the charset
that does (charset-normalizer, third-party, used only here and only for mislabelled pages); if none does, the page
is refused with DecodeError rather than stored with U+FFFD where its characters were.
"""

from __future__ import annotations

import codecs
import re

from monitor.errors import DecodeError

__all__ = ["decode_html", "sniff_charset"]

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)
_HTML_LANG = re.compile(rb"""<html[^>]*?\slang\s*=\s*["']?([A-Za-z]{2,3})""", re.IGNORECASE)
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
# The detector cannot tell Latin code pages apart on text that uses only letters they share (café is the same
# in cp1250, cp1252 and cp850), and it reads Polish as cp1252; the page's language says which Windows code page
# its authors' systems used: cp1250 (Central Europe), cp1257 (Baltic), cp1254 (Turkish), else cp1252.
_LATIN_FAMILY = frozenset(
    "cp1250 cp1252 cp1257 cp775 cp850 cp852 cp437 cp858 mac_latin2 mac_roman mac_iceland latin_1 iso8859_2 "
    "iso8859_3 iso8859_4 iso8859_9 iso8859_10 iso8859_13 iso8859_14 iso8859_15 iso8859_16 cp1254".split()
)
_LANG_CODEPAGES = {
    **dict.fromkeys("pl cs sk hu sl hr ro sr bs sq".split(), "cp1250"),
    **dict.fromkeys("lt lv et".split(), "cp1257"),
    "tr": "cp1254",
}
# A page whose label is right but whose bytes are damaged (a truncated character) keeps its label: at most one
# bad sequence per this many well-formed non-ASCII characters.
_DAMAGE_RATIO = 50


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


def decode_html(body: bytes, content_type: str | None = None, *, source_id: str = "-", url: str = "") -> str:
    """Return the page as text, decoded by its label when that decodes cleanly, else by the charset that does.

    Raises DecodeError (naming `source_id` and `url`) when no charset decodes the bytes cleanly.
    """
    encoding = sniff_charset(body, content_type)
    if encoding.startswith("utf-16") or encoding == "utf-8":
        for bom, _name in _BOMS:
            if body.startswith(bom):
                body = body[len(bom) :]
                break
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        guess = _decode_mislabelled(body, encoding)
        if guess is None:
            reason = f"bytes are not valid {encoding} and no other charset decodes them cleanly"
            raise DecodeError(reason, source_id=source_id, url=url) from None
        return guess
    if encoding != "utf-8" and not encoding.startswith("utf-16") and not body.isascii():
        # A single-byte or GB label decodes almost any bytes, UTF-8 included, into mojibake without an error;
        # text that is valid UTF-8 with non-ASCII characters in it is UTF-8 whatever the label says.
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return text


def _decode_mislabelled(body: bytes, encoding: str) -> str | None:
    if encoding == "utf-8" and _slightly_damaged_utf8(body):
        return body.decode("utf-8", errors="replace")
    guess = _detect(body)
    return None if guess is None else body.decode(guess)


def _slightly_damaged_utf8(body: bytes) -> bool:
    text = body.decode("utf-8", errors="replace")
    damaged = text.count("\ufffd")
    well_formed = sum(1 for char in text if ord(char) > 127) - damaged
    return well_formed >= damaged * _DAMAGE_RATIO


def _detect(body: bytes) -> str | None:
    """Return the charset that decodes `body` cleanly and reads most like language, or None."""
    import charset_normalizer  # only for a page whose declared charset fails: most runs never import it

    best = charset_normalizer.from_bytes(body).best()
    if best is None:
        return None
    encoding = best.encoding
    if encoding in _LATIN_FAMILY:
        preferred = _LANG_CODEPAGES.get(_page_lang(body) or "", "cp1252")
        if _decodes(body, preferred):
            encoding = preferred
    return encoding if _decodes(body, encoding) else None


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _page_lang(body: bytes) -> str | None:
    match = _HTML_LANG.search(body[:_SNIFF_BYTES])
    return match.group(1).decode("ascii").lower() if match else None
