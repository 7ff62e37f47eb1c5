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
from collections.abc import Callable
from pathlib import Path

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
