"""ministry-monitor: watch government ministry news listings, keep every version, and send signed webhooks."""

import sys

__version__ = "0.1.0"

# httpx imports its own command-line tool (httpx._main) whenever click, pygments and rich are installed, as they are
# beside us (rich draws `check`'s progress bar, uvicorn brings click): ~40 ms of CPU on every start of every command,
# for a tool we never run. None in sys.modules makes that one import fail, and httpx then defines a stub `main` in
# its place (httpx/__init__.py catches the ImportError); nothing else in httpx uses the module.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
