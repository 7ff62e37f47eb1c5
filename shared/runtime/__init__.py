"""The embedded runtime behind `alliance run`: broker, database, topics, ports and the supervisor.

Every process started here is a child that dies with its parent: a supervisor killed with
SIGKILL must not leave a broker, a database or a service behind holding ports.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive `sig` when this process dies (Linux only).

    The check of the parent pid closes the race in which the parent died before prctl ran.
    It runs after Popen's user switch, which would otherwise clear the setting.
    """
    if _libc is None:
        return None
    parent = os.getpid()
    prctl = _libc.prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig))
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return preexec


def start_child(
    command: Sequence[str], log_path: Path, death_signal: signal.Signals, **popen: Any
) -> subprocess.Popen[bytes]:
    """A child in its own session writing to `log_path`, sent `death_signal` when we die."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(death_signal),
            **popen,
        )


def wait_until_ready(
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    *,
    name: str,
    log_path: Path,
    started: float,
    timeout: float,
    on_timeout: Callable[[], None],
    error: type[Exception],
    poll_s: float,
) -> None:
    """Until `ready()`; raise `error` with the log's tail if the child exits first, or after
    stopping it with `on_timeout` once `timeout` has passed since `started`."""
    while not ready():
        if process.poll() is not None:
            raise error(
                f"{name} exited with code {process.returncode} while starting; its log ({log_path})"
                f" ends with:\n{log_tail(log_path)}"
            )
        if time.monotonic() - started > timeout:
            on_timeout()
            raise error(f"{name} was not ready within {timeout:.0f} s; see {log_path}")
        time.sleep(poll_s)


def stop_child(
    process: subprocess.Popen[bytes], name: str, sig: signal.Signals, timeout: float
) -> None:
    """Ask a child to stop with `sig`; SIGKILL it if it has not exited within `timeout`."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop within %.0f s of %s; killing it", name, timeout, sig.name)
        process.kill()
        process.wait()
    log.info("%s stopped (exit code %s)", name, process.returncode)


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a child's log, to show why it failed without sending people hunting."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])
