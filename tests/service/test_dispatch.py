"""The dispatcher on its own: due polls start a few per host at once, never twice at once; stop drops the rest."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from conftest import write_config

from monitor.app import App
from monitor.config import load_config
from monitor.service import POLLS_PER_HOST_SLOT, Dispatcher


async def settle(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.005)


def test_due_polls_take_turns_per_host_a_running_one_is_skipped_and_stop_drops_the_waiting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9"))  # every source on one host
    limit = POLLS_PER_HOST_SLOT * config.sources[0].host_concurrency
    started: list[str] = []
    finish: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    async def poll(source_id: str) -> None:
        started.append(source_id)
        await finish[source_id].wait()

    async def go() -> None:
        dispatcher = Dispatcher(cast(App, SimpleNamespace(config=config)), poll)
        for source in config.sources:
            dispatcher.dispatch(source.id)
        await settle(lambda: len(started) == limit)
        first = started[0]
        dispatcher.dispatch(first)
        await settle(lambda: f"poll {first} skipped: the previous poll of it has not finished" in caplog.text)
        finish[first].set()
        await settle(lambda: len(started) == limit + 1)
        assert len(dispatcher.polls) == limit
        assert dispatcher.stop() == len(config.sources) - limit - 1
        for source_id in started:
            finish[source_id].set()
        dispatcher.dispatch(first)  # due after the stop: not started
        await asyncio.gather(*dispatcher.polls)
        assert not dispatcher.polls

    asyncio.run(asyncio.wait_for(go(), 10.0))

    assert len(started) == len(set(started)) == limit + 1
