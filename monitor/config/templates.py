"""Site templates: the keys a source gets from `template = "NAME"`, from the shipped templates.toml or the config's
own `[templates.NAME]` tables. Pure dict merging before the source is parsed, so a template is checked exactly as
a source's own keys are."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import tomli

from monitor.errors import ConfigError

__all__ = ["TEMPLATE_KEYS", "shipped_templates", "template_keys", "templates_for", "with_template"]

TEMPLATE_KEYS = frozenset(
    {
        "description",
        "proven_by",
        "unproven",
        "timezone",
        "language",
        "error_urls",
        "allow_domains",
        "interval",
        "listing",
        "article",
    }
)
_DOCUMENTATION_KEYS = frozenset({"description", "unproven"})


@cache
def shipped_templates() -> Mapping[str, Mapping[str, Any]]:
    """Return the templates shipped in monitor/config/templates.toml, by name."""
    text = resources.files("monitor.config").joinpath("templates.toml").read_text(encoding="utf-8")
    templates: dict[str, Mapping[str, Any]] = tomli.loads(text)["templates"]
    return templates


def templates_for(own: Any, path: str) -> dict[str, Mapping[str, Any]]:
    """Return the shipped templates with the config's `[templates.NAME]` tables added (a config's own wins)."""
    if own is None:
        own = {}
    if not isinstance(own, dict):
        raise ConfigError("must be a table of templates", path=path, key="templates")
    for name, template in own.items():
        if not isinstance(template, dict):
            raise ConfigError("must be a table", path=path, key=f"templates.{name}")
        for key in template:
            if key not in TEMPLATE_KEYS:
                raise ConfigError("unknown key", path=path, key=f"templates.{name}.{key}")
    return {**shipped_templates(), **own}


def with_template(
    source: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]], path: str
) -> Mapping[str, Any]:
    """Return the source's table with its template's keys under its own (sub-tables merged key by key)."""
    name = source.get("template")
    if name is None:
        return source
    sid = source.get("id") if isinstance(source.get("id"), str) else None
    if not isinstance(name, str) or name not in templates:
        known = ", ".join(sorted(templates))
        raise ConfigError(f"unknown template {name!r} (known: {known})", path=path, source_id=sid, key="template")
    merged: dict[str, Any] = {k: v for k, v in templates[name].items() if k not in _DOCUMENTATION_KEYS}
    for key, value in source.items():
        base = merged.get(key)
        merged[key] = {**base, **value} if isinstance(base, dict) and isinstance(value, dict) else value
    return merged


def template_keys(source: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """Return the selector keys ("listing.links", "article.body", ...) the source takes from its template."""
    template = templates.get(source.get("template") or "", {})
    keys: set[str] = set()
    for part in ("listing", "article"):
        own: Mapping[str, Any] = source.get(part) or {}
        given: Mapping[str, Any] = template.get(part) or {}
        keys |= {f"{part}.{key}" for key in given if key not in own}
    return frozenset(keys)
