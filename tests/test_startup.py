"""What starting a command costs: modules only some runs need are imported on first use, not by `monitor.cli`.

Every command starts by importing `monitor.cli`; each module listed here took 5-130 ms of CPU at that import
(`python -X importtime`), paid by every `monitor check` from cron whether it needed the module or not
(BENCHMARKS.md section 14). Timing is left to `python -m bench`; this checks only which modules are loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# module: what needs it (and so imports it itself)
ON_FIRST_USE = {
    "aiohttp": "the first direct connection (monitor/http/routes.py)",
    "rich": "check's progress bar, on a terminal only",
    "click": "nothing of ours: httpx's own command-line tool",
    "pygments": "nothing of ours: httpx's own command-line tool",
    "multiprocessing": "the page readers' first worker, or parsing a watch-list of 1 MiB or more",
    "charset_normalizer": "a page whose declared charset fails to decode it",
    "apscheduler": "monitor run",
    "starlette": "monitor run --http, monitor web",
    "uvicorn": "monitor run --http, monitor web",
    "jinja2": "monitor web",
    "apprise": "a config with [[notifications]]",
    "procrastinate": "monitor run on PostgreSQL (the fleet)",
    "psycopg": "a postgresql:// database",
}


def _loaded_after(code: str) -> dict[str, bool]:
    probe = (
        f"import sys\n{code}\nprint(__import__('json').dumps({{m: m in sys.modules for m in {list(ON_FIRST_USE)!r}}}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    loaded: dict[str, bool] = json.loads(done.stdout)
    return loaded


@pytest.fixture(scope="module")
def after_cli_import() -> dict[str, bool]:
    return _loaded_after("import monitor.cli")


@pytest.mark.parametrize("module", sorted(ON_FIRST_USE))
def test_importing_the_cli_leaves_a_module_for_those_that_need_it(
    module: str, after_cli_import: dict[str, bool]
) -> None:
    assert after_cli_import[module] is False, f"{module} is for {ON_FIRST_USE[module]}"


def test_httpx_works_without_its_command_line_tool() -> None:
    code = "import monitor, httpx\nassert sys.modules['httpx._main'] is None\nhttpx.Request('GET', 'http://127.0.0.1/')"
    assert _loaded_after(code)["rich"] is False
