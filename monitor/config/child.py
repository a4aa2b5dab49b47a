"""Run config parsing in a short-lived child process, so that its peak memory goes back to the OS when the child ends.

Only the typed result crosses back (pickled, so equal sub-objects stay shared); a ConfigError crosses back unchanged.
The child is spawned, as the page readers' workers are: it imports the main module, so a script must load its config
under `if __name__ == "__main__"`.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

from monitor.errors import ConfigError

__all__ = ["call_in_child"]

_T = TypeVar("_T")


def call_in_child(function: Callable[..., _T], *args: Any, path: str) -> _T:
    """Return `function(*args)`, computed in a child process.

    Raise the ConfigError the function raised, or a ConfigError naming `path` if the child could not start or died.
    """
    # spawn: a fresh interpreter, safe beside the daemon's threads (fork is not).
    import multiprocessing  # only for big watch-lists: smaller ones never pay for importing it

    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_run, args=(sender, function, args), name="monitor-config", daemon=True)
    try:
        child.start()
    except OSError as exc:
        receiver.close()
        raise ConfigError(f"cannot start a process to parse the config: {exc}", path=path) from exc
    finally:
        sender.close()
    try:
        ok, outcome = receiver.recv()
    except EOFError:
        child.join()
        raise ConfigError(f"the process parsing the config died (exit code {child.exitcode})", path=path) from None
    finally:
        receiver.close()
    child.join()
    if ok:
        return outcome  # type: ignore[no-any-return]
    raise _config_error(*outcome)


def _run(sender: Connection, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to report; the child ends with it
    with sender:
        try:
            result = (True, function(*args))
        except ConfigError as exc:
            # A ConfigError does not survive pickling (its constructor takes keywords): send its parts instead.
            result = (False, (exc.args, exc.path, exc.source_id, exc.key))
        sender.send(result)


def _config_error(args: tuple[Any, ...], path: str, source_id: str | None, key: str | None) -> ConfigError:
    error = ConfigError("", path=path, source_id=source_id, key=key)
    error.args = args
    return error
