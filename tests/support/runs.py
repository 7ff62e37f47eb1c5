"""`alliance run` as a test starts it: on ports and a data directory of the test's own, so it
never meets a developer's platform, watched through its log."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.runtime.ports import free_port
from shared.runtime.supervisor import alliance_executable

DEMO_SEED = Path(__file__).resolve().parents[2] / "seeds" / "demo.yaml"


def isolated_environment(data_dir: Path, **ports: int) -> dict[str, str]:
    """The developer's environment without any ALLIANCE_* setting, on ports of the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLIANCE_")}
    env["ALLIANCE_DATA_DIR"] = str(data_dir)
    for name in ("members", "procurement", "notifications", "embedded_kafka", "embedded_postgres"):
        env[f"ALLIANCE_{name.upper()}_PORT"] = str(ports.get(name) or free_port())
    return env


def wait_for_text(path: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in the log of `alliance run`:\n{path.read_text()[-5000:]}")


@contextmanager
def platform_up(env: dict[str, str], log: Path, cwd: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """`alliance run --seed <demo>` until it says it is up; SIGTERM and wait when the block ends."""
    with log.open("wb") as output:
        run = subprocess.Popen([alliance_executable(), "run", "--seed", str(DEMO_SEED)], cwd=cwd, env=env,
                               stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_text(log, "The alliance platform is up", run, timeout=180)
        yield run
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=90)
