"""Append a `[[sources]]` block to a watch-list, keeping its comments and formatting (tomlkit), validated first.

The new text is parsed as a whole (monitor.config.parse) before it replaces the file, and replaces it atomically:
a block that `run` would refuse is never written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from monitor.config.parse import load_config
from monitor.config.types import DEFAULT_DATABASE
from monitor.errors import ConfigError

__all__ = ["append_source", "source_ids_in"]

NEW_CONFIG_HEADER = "ministry-monitor watch-list, created by `monitor add`."


def source_ids_in(path: str) -> set[str]:
    """Return the ids of the sources in a config file (none if it does not exist); raise ConfigError if unreadable."""
    if not os.path.exists(path):
        return set()
    document = _read(path)
    return {str(table.get("id")) for table in document.get("sources", [])}


def _read(path: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror or exc}", path=path) from exc
    except (UnicodeDecodeError, TOMLKitError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from exc


def _new_document() -> tomlkit.TOMLDocument:
    document = tomlkit.document()
    document.add(tomlkit.comment(NEW_CONFIG_HEADER))
    document.add(tomlkit.nl())
    monitor = tomlkit.table()
    # A relative path is relative to this file's folder.
    monitor.add("database", DEFAULT_DATABASE)
    document.add("monitor", monitor)
    return document


def append_source(path: str, block: Mapping[str, Any], comment: str | None = None) -> None:
    """Append `block` as a new `[[sources]]` table (nested dicts become `[sources.listing]` etc.).

    Creates the file, with a `[monitor]` section, if it does not exist. Raises ConfigError (and writes nothing)
    if the result would not load.
    """
    exists = os.path.exists(path)
    document = _read(path) if exists else _new_document()
    table = tomlkit.table()
    if comment:
        table.add(tomlkit.comment(comment))
    for key, value in block.items():
        if isinstance(value, Mapping):
            sub = tomlkit.table()
            for inner_key, inner in value.items():
                sub.add(inner_key, inner)
            table.add(key, sub)
        else:
            table.add(key, value)
    sources = document.get("sources")
    if sources is None:
        sources = tomlkit.aot()
        document.add(tomlkit.nl())
        document.add("sources", sources)
    sources.append(table)
    _replace(path, tomlkit.dumps(document))


def _replace(path: str, text: str) -> None:
    """Write `text` beside `path`, check that it loads as a config, then move it over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".monitor-add-", suffix=".toml", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        try:
            load_config(temporary, secrets=False)
        except ConfigError as exc:
            raise ConfigError(str(exc).removeprefix(f"{temporary}: "), path=path) from exc
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
