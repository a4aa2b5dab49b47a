"""What a reload changes, from two parsed configs: sources, schedules, webhooks, and what waits for a restart."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import write_config

from monitor.config import Config, Endpoint, HttpSettings, Secret, Source, load_config
from monitor.errors import ConfigError
from monitor.service import compare_configs


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(write_config(tmp_path, "http://127.0.0.1:9"))


def with_sources(config: Config, *sources: Source) -> Config:
    return dataclasses.replace(config, sources=sources)


def test_nothing_changed(config: Config) -> None:
    change = compare_configs(config, config)

    assert (change.added, change.removed, change.changed, change.rescheduled) == ((), (), (), ())
    assert not change.webhooks_changed and change.restart_needed == ()
    assert change.describe() == "added none; removed none; changed none"


def test_added_removed_changed_and_rescheduled_sources(config: Config) -> None:
    first, second, third, *_ = config.sources
    renamed = dataclasses.replace(second, name="renamed")
    faster = dataclasses.replace(third, interval=timedelta(seconds=30))
    new = with_sources(config, renamed, faster, dataclasses.replace(first, id="brand-new"))

    change = compare_configs(with_sources(config, first, second, third), new)

    assert change.added == ("brand-new",)
    assert change.removed == (first.id,)
    assert change.changed == (second.id, third.id)
    assert change.rescheduled == (third.id, "brand-new")  # a new name needs no new schedule
    assert change.describe() == f"added brand-new; removed {first.id}; changed {second.id}, {third.id}"


def test_cron_or_zone_changes_reschedule(config: Config) -> None:
    source = config.sources[0]
    london = config.source("govuk-publications").timezone
    for edited in (dataclasses.replace(source, cron="0 9 * * 1"), dataclasses.replace(source, timezone=london)):
        change = compare_configs(with_sources(config, source), with_sources(config, edited))
        assert change.rescheduled == (source.id,)


def test_webhook_and_http_changes(config: Config) -> None:
    hook = Endpoint(id="ops", url="http://127.0.0.1:9/hook", secret=Secret("s3cret"))
    new = dataclasses.replace(config, http=HttpSettings(user_agent="other/1.0"), webhooks=(hook,))
    source = config.sources[0]
    slower = with_sources(config, dataclasses.replace(source, host_delay=timedelta(seconds=5)))

    change = compare_configs(config, new)

    assert change.webhooks_changed and change.describe().endswith("; webhooks changed")
    assert change.restart_needed == ("[monitor] HTTP settings",)
    assert compare_configs(with_sources(config, source), slower).restart_needed == ("host_concurrency/host_delay",)


def test_a_new_database_is_refused(config: Config) -> None:
    with pytest.raises(ConfigError, match="key 'database': cannot change while running"):
        compare_configs(config, dataclasses.replace(config, database="sqlite:///elsewhere.db"))
