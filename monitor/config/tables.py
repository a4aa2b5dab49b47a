"""Typed access to one TOML table for config.py: each wrong value raises ConfigError naming file, source, key."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from datetime import timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import ConfigError
from monitor.redact import redact_url

__all__ = ["Interner", "TableReader", "parse_duration"]

_H = TypeVar("_H", bound=Hashable)

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def parse_duration(text: str) -> timedelta:
    """Parse `30s`, `10m`, `2h`, `1d`, `1h30m` or `0` into a timedelta; raise ValueError otherwise."""
    text = text.strip().lower()
    if text == "0":
        return timedelta(0)
    pos, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos and text[pos : match.start()].strip():
            break
        seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or text[pos:].strip():
        raise ValueError(f"{text!r} is not a duration like '30s', '10m', '2h' or '1d'")
    return timedelta(seconds=seconds)


class Interner:
    """Hands back one copy of each equal immutable value, so that 10,000 sources hold one set of their selectors."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[type, dict[Any, Any]] = {}

    def __call__(self, value: _H) -> _H:
        """Return the first value met that is equal to `value` and of its type (1 == True, but they differ)."""
        seen = self._seen.get(type(value))
        if seen is None:
            seen = self._seen[type(value)] = {}
        return seen.setdefault(value, value)  # type: ignore[no-any-return]


class TableReader:
    """Typed access to one TOML table, raising ConfigError with the full key path.

    Lists, patterns, durations and cron expressions come back shared through `share`: sources repeat them.
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        path: str,
        source_id: str | None,
        prefix: str,
        share: Interner | None = None,
    ) -> None:
        self.data = data
        self.path = path
        self.source_id = source_id
        self.prefix = prefix
        self.share = Interner() if share is None else share

    def fail(self, key: str, message: str) -> None:
        raise ConfigError(message, path=self.path, source_id=self.source_id, key=self.prefix + key)

    def only(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                self.fail(key, "unknown key")

    def _get(self, key: str, kind: type | tuple[type, ...], kind_name: str) -> Any:
        value = self.data.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool) and bool not in _tuple(kind)):
            self.fail(key, f"must be {kind_name}, not {type(value).__name__}")
        return value

    def table(self, key: str, required: bool = False) -> TableReader:
        value = self._get(key, dict, "a table")
        if value is None and required:
            self.fail(key, "missing table")
        prefix = f"{self.prefix}{key}."
        return TableReader(value or {}, path=self.path, source_id=self.source_id, prefix=prefix, share=self.share)

    def tables(self, key: str) -> list[TableReader]:
        items = self._get(key, list, "an array of tables") or []
        readers = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                self.fail(f"{key}[{index}]", "must be a table")
            sid = item.get("id") if isinstance(item.get("id"), str) else f"{key}[{index}]"
            readers.append(TableReader(item, path=self.path, source_id=sid, prefix="", share=self.share))
        return readers

    def optional_string(self, key: str) -> str | None:
        value = self._get(key, str, "a string")
        if value is not None and not value.strip():
            self.fail(key, "must not be empty")
        return value if value is None else str(value)

    def string(self, key: str, default: str | None = None) -> str:
        value = self.optional_string(key)
        if value is None:
            if default is None:
                self.fail(key, "missing required key")
            return str(default)
        return value

    def slug(self, key: str) -> str:
        value = self.string(key)
        if not _SLUG.match(value):
            self.fail(key, f"{value!r} must be a lowercase slug (letters, digits, '-', '_', '.')")
        return value

    def url(self, key: str, *, secret: bool = False) -> str:
        """Return an http(s) URL; a `secret` one (a webhook's, token in its path) is shown cut to its host."""
        value = self.string(key)
        if not re.match(r"^https?://[^/\s]+", value):
            self.fail(key, f"{redact_url(value) if secret else value!r} is not an http(s) URL")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._get(key, list, "a list of strings")
        if value is None:
            return default
        if not all(isinstance(item, str) and item.strip() for item in value):
            self.fail(key, "must be a list of non-empty strings")
        return self.share(tuple(value))

    def patterns(self, key: str) -> tuple[re.Pattern[str], ...]:
        compiled = []
        for text in self.strings(key, ()):
            try:
                compiled.append(re.compile(text))
            except re.error as exc:
                self.fail(key, f"bad regular expression {text!r}: {exc}")
        return self.share(tuple(compiled))

    def integer(self, key: str, default: int, minimum: int) -> int:
        value = self._get(key, int, "an integer")
        if value is None:
            return default
        if value < minimum:
            self.fail(key, f"must be at least {minimum}")
        return int(value)

    def number(self, key: str, default: float, maximum: float) -> float:
        value = self._get(key, (int, float), "a number")
        if value is None:
            return default
        if not 0 <= value <= maximum:
            self.fail(key, f"must be between 0 and {maximum}")
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, bool, "true or false")
        return default if value is None else bool(value)

    def duration(self, key: str, default: timedelta, positive: bool = False) -> timedelta:
        value = self._get(key, (str, int), "a duration string like '10m'")
        if value is None:
            return default
        try:
            parsed = parse_duration(str(value))
        except ValueError as exc:
            self.fail(key, str(exc))
        if positive and parsed <= timedelta(0):
            self.fail(key, "must be longer than zero")
        return self.share(parsed)

    def zone(self, key: str) -> ZoneInfo:
        name = self.string(key, "UTC")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"unknown time zone {name!r}", path=self.path, source_id=self.source_id, key=key) from exc

    def cron(self, key: str) -> str | None:
        value = self.optional_string(key)
        if value is not None and len(value.split()) != 5:
            self.fail(key, f"{value!r} is not a 5-field cron expression")
        return value if value is None else self.share(value)

    def expand(self, text: str, key: str, environ: Mapping[str, str]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                self.fail(key, f"environment variable {name} is not set")
            return environ[name]

        return _ENV_REF.sub(replace, text)


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
