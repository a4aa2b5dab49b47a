"""Write a monitor config (TOML) for a generated press site: one source per listing, all with the same selectors.

`MFA_EN_PRESS` is the shipped mfa-en-press source's markup settings (config/sources.toml), kept here so that an
installed copy, which has no config/ folder, can write a config for `monitor simulate`; a test keeps the two equal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["MFA_EN_PRESS", "SiteSource", "write_sources_config"]

MFA_EN_PRESS: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "error_urls": ["/error.htm"],
    "listing": {"links": "div.newsLst_mod ul li a", "pages": "default_{n}.shtml"},
    "article": {
        "title": "div.content_mod h2.title",
        "date": "#News_Body_Time",
        "date_from": ["selector", "title", "url"],
        "body": "div.content_mod div.content",
        "remove": ["script", "style"],
        "error_markers": ["Sorry, the page you requested cannot be found.", "对不起，我们没有找到您要的网页"],
    },
}
"""The mfa-en-press source without its id, name, url, interval and proven_by."""

SiteSource = tuple[str, str, str]
"""One listing to watch: (source id, name, URL)."""


def _toml_value(value: Any) -> str:
    # JSON strings, numbers, booleans and lists of them are valid TOML values.
    return json.dumps(value, ensure_ascii=False)


def _table(name: str, values: Mapping[str, Any]) -> str:
    lines = [f"[{name}]"] + [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def write_sources_config(
    path: Path,
    sources: Sequence[SiteSource],
    database: Path,
    *,
    template: Mapping[str, Any],
    monitor: Mapping[str, Any],
    source: Mapping[str, Any],
    head: str = "",
    extra: str = "",
) -> Path:
    """Write a config watching `sources`, each with `template`'s markup settings plus `source`; return `path`.

    `template` holds "listing" and "article" tables and optional "timezone" and "error_urls"; `monitor` goes into
    the [monitor] table after the SQLite `database`; `head` (comment lines) opens the file and `extra` ends it.
    """
    keep = {k: template[k] for k in ("timezone", "error_urls") if k in template}
    parts = [_table("monitor", {"database": f"sqlite:///{database}", **monitor})]
    for source_id, name, url in sources:
        values: dict[str, Any] = {"id": source_id, "name": name, "url": url, **keep, **source}
        parts.append("[[sources]]\n" + _table("sources", values).split("\n", 1)[1])
        parts.append(_table("sources.listing", template["listing"]))
        parts.append(_table("sources.article", template["article"]))
    path.write_text(head + "\n".join(parts) + extra, encoding="utf-8")
    return path
