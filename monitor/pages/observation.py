"""What reading one article page found: the record that pages/ hands to the lifecycle rules."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.pages.extract import Extracted

__all__ = ["Observation"]


@dataclass(frozen=True, slots=True)
class Observation:
    """The result of fetching one article: kind is `content`, `not_modified`, `missing` or `failed`."""

    kind: str
    extracted: Extracted | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    raw_zlib: bytes | None = None
    """The page's HTML compressed with storage.compress_raw, as the store keeps it (done off the event loop)."""
    content_hash: str | None = None
    """content.content_hash of `extracted`, when the caller already computed it (off the event loop)."""
    reader: str | None = None
    """How the content was read: "selectors" (the source's), "generic" (it has none), or "fallback" (they failed on
    this page, so it was read generically); stored with the version."""
    proposed: dict[str, str] | None = None
    """Selectors that reproduce this generic reading (monitor.pages.propose), when the caller asked to learn them."""
