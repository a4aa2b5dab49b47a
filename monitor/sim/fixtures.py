"""Load the saved real pages (tests/fixtures/SOURCES.tsv) into a SimSite, each at its original path+query."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from monitor.sim.site import SimSite

__all__ = ["FixtureRow", "load_fixture_site"]

_SOURCES_COLUMNS = ["file", "url", "repo", "path_in_repo", "commit", "kind", "notes"]
_DATE_IN_NAME = re.compile(r"\d{4}-\d{2}(?:-\d{2})?")


@dataclass(frozen=True)
class FixtureRow:
    """One SOURCES.tsv row. `path` is the URL's path+query; `paths` adds the directory alias of a default.shtml."""

    file: str
    url: str
    path: str
    kind: str
    notes: str
    fixtures_dir: Path

    @property
    def paths(self) -> tuple[str, ...]:
        plain = self.path.split("?", 1)[0]
        if self.kind == "listing" and plain.endswith("/default.shtml") and "?" not in self.path:
            return (self.path, plain.removesuffix("default.shtml"))
        return (self.path,)

    @property
    def snapshot(self) -> str:
        """The date in the file name ("2023-06-02", "2019-08"), or "" if none."""
        found = _DATE_IN_NAME.findall(Path(self.file).name)
        return found[-1] if found else ""

    def body(self) -> bytes:
        return (self.fixtures_dir / self.file).read_bytes()

    def install(self, site: SimSite, host: str | None = None) -> None:
        """Serve this snapshot at all its paths (use it to swap a newer snapshot in), as text/html without charset."""
        data = self.body()
        for p in self.paths:
            site.put(p, data, host=host, content_type="text/html")


def _url_path(url: str) -> str:
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"


def _read_sources(fixtures_dir: Path) -> list[FixtureRow]:
    with (fixtures_dir / "SOURCES.tsv").open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        if header != _SOURCES_COLUMNS:
            raise ValueError(f"unexpected SOURCES.tsv header {header!r}")
        rows = []
        for cells in reader:
            if not cells:
                continue
            rec = dict(zip(header, cells, strict=True))
            rows.append(
                FixtureRow(rec["file"], rec["url"], _url_path(rec["url"]), rec["kind"], rec["notes"], fixtures_dir)
            )
    return rows


def load_fixture_site(
    site: SimSite,
    fixtures_dir: str | Path,
    host: str | None = None,
    include: Callable[[FixtureRow], bool] | None = None,
) -> dict[str, FixtureRow]:
    """Serve every SOURCES.tsv file at its original path+query; returns all rows keyed by file name.

    When several snapshots share a URL, the oldest (by the date in the file name, then file order) is served;
    call `rows[newer_file].install(site)` to swap a newer one in.
    """
    rows = _read_sources(Path(fixtures_dir))
    if include is not None:
        rows = [r for r in rows if include(r)]
    oldest: dict[str, FixtureRow] = {}
    for row in reversed(sorted(rows, key=lambda r: r.snapshot)):  # newest first, so the oldest is written last
        oldest[row.path] = row
    for row in oldest.values():
        row.install(site, host)
    return {r.file: r for r in rows}
