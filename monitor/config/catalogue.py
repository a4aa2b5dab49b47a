"""The shipped catalogue of ministry news listings (monitor/config/catalogue.toml): `monitor add --list`, `add ID`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import tomli

__all__ = ["CatalogueEntry", "catalogue", "catalogue_entry"]


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One listing to start from; `verified` only once a saved page of it is in the test suite."""

    id: str
    name: str
    url: str
    template: str | None = None
    verified: bool = False


@cache
def catalogue() -> tuple[CatalogueEntry, ...]:
    """Return the shipped catalogue, in file order."""
    text = resources.files("monitor.config").joinpath("catalogue.toml").read_text(encoding="utf-8")
    return tuple(CatalogueEntry(**entry) for entry in tomli.loads(text)["catalogue"])


def catalogue_entry(entry_id: str) -> CatalogueEntry | None:
    """Return the catalogue entry with this id, or None."""
    return next((entry for entry in catalogue() if entry.id == entry_id), None)
