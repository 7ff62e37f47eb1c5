"""`python -m chaos --quick` inside `make test`: kill -9 of each service (procurement in the
middle of the cycle close), the broker paused, PostgreSQL stopped, webhook receivers slow,
failing and down, against a fault-free run of the same requests: nothing lost, nothing
duplicated, every notice delivered and stored once, everything drained, the same orders.
Under `make test-kafka`, on Apache Kafka (`--broker kafka`), with one of three brokers lost too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.backends import scratch_directory, use_apache_kafka

pytestmark = pytest.mark.e2e
REPOSITORY = Path(__file__).resolve().parents[2]


def test_faults_lose_nothing_and_duplicate_nothing() -> None:
    with scratch_directory("alliance-test-chaos-") as directory:
        summary = directory / "summary.json"
        command = [sys.executable, "-m", "chaos", "--quick", "--dir", str(directory / "runs"),
                   "--summary-json", str(summary), "--broker", "kafka" if use_apache_kafka() else "tansu"]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("ALLIANCE_")}
        finished = subprocess.run(command, cwd=REPOSITORY, env=environment, capture_output=True, text=True,
                                  timeout=600 if use_apache_kafka() else 300, check=False)
        output = finished.stdout[-8000:] + finished.stderr[-4000:]
        assert summary.exists(), output
        result = json.loads(summary.read_text())

    faulty = result["runs"]["chaos"]
    assert (faulty["lost"], faulty["duplicated"]) == (0, 0), output
    assert faulty["accepted"] == faulty["sent"] > 0
    assert {f["fault"].split(" ")[0] for f in result["faults"]} == {"kill", "broker", "PostgreSQL", "webhook"}
    assert {f["fault"] for f in result["faults"] if f["fault"].startswith("kill -9 ") and "Kafka" not in f["fault"]} == {
        "kill -9 members", "kill -9 procurement", "kill -9 notifications"}
    assert any("Kafka broker" in f["fault"] for f in result["faults"]) == use_apache_kafka()
    failed = [c["name"] for runs in result["checks"].values() for c in runs if not c["passed"]]
    assert failed == [], output
