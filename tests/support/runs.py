"""`alliance run` as a test starts it: on ports and a data directory of the test's own, so it
never meets a developer's platform, watched through its log."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from shared.runtime.ports import free_port

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
