"""`make demo` end to end: the demo starts the platform on its generated seed, its simulated
ERPs, suppliers and webhook receivers trade through it, and it ends, on time or on Ctrl-C,
with a summary and nothing left running.

Each run has its own ports and data directory (and no other ALLIANCE_* setting), so it never
meets a developer's platform.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import psutil
import pytest

from shared.runtime.ports import free_port, port_is_free
from tests.support.backends import scratch_directory

pytestmark = pytest.mark.e2e
REPOSITORY = Path(__file__).resolve().parents[2]
PORTS = ("members", "procurement", "notifications", "embedded_kafka", "embedded_postgres")


@pytest.fixture
def scratch() -> Iterator[Path]:
    with scratch_directory("alliance-test-demo-") as directory:
        yield directory


def demo(scratch: Path, *args: str) -> tuple[subprocess.Popen[bytes], dict[str, int], Path]:
    ports = {name: free_port() for name in PORTS}
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLIANCE_")}
    env.update({f"ALLIANCE_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    summary = scratch / "summary.json"
    command = [sys.executable, "-m", "demo", "--dir", str(scratch / "demo"), "--summary-json", str(summary)]
    with (scratch / "demo.out").open("wb") as output:
        process = subprocess.Popen(
            [*command, *args], cwd=REPOSITORY, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    return process, ports, summary


def finished(process: subprocess.Popen[bytes], scratch: Path, timeout: float) -> None:
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    assert code == 0, (scratch / "demo.out").read_text(errors="replace")[-5000:]


def assert_nothing_left(scratch: Path, ports: dict[str, int], summary: dict[str, object]) -> None:
    assert summary["platform_exit_code"] == 0
    assert not psutil.pid_exists(summary["platform_pid"])  # type: ignore[arg-type]
    mentioning = [
        " ".join(p.info["cmdline"] or [])
        for p in psutil.process_iter(["cmdline"])
        if str(scratch) in " ".join(p.info["cmdline"] or [])
    ]
    assert mentioning == [], "services and PostgreSQL name the demo directory; none may outlive it"
    assert [name for name, port in ports.items() if not port_is_free("127.0.0.1", port)] == []


def test_the_demo_trades_saves_and_stops_everything(scratch: Path) -> None:
    # Cycles of 5 s: enough closes before the insolvency midway for the risk buffers to fill.
    process, ports, summary_path = demo(scratch, "--duration", "60", "--cycle-seconds", "5")
    finished(process, scratch, timeout=400)
    summary = json.loads(summary_path.read_text())

    assert summary["interrupted"] is False
    assert summary["requests_sent"] > 0 and summary["requests_accepted"] > 0
    assert summary["requests_placed"] > 0 and summary["orders_received_by_suppliers"] > 0
    assert float(summary["savings_eur"]) > 0
    assert summary["individually_rational_share"] == 1.0
    assert summary["cycles_closed"] >= 1
    # after the order: answers per line, dispatches, receipts (some short or damaged), completion
    assert summary["orders_answered_per_line"] > 0 and summary["dispatches_sent"] > 0
    assert summary["requests_dispatched"] > 0 and summary["receipts_sent"] > 0
    assert summary["requests_completed"] > 0
    assert summary["receipts_damaged"] == 0 or summary["discrepancies"].get("damaged", 0) > 0
    assert any(otif is not None for otif in summary["supplier_otif"].values())
    # A PEPPOL and an openTRANS supplier got their orders as documents valid in their standard, and answered in it.
    assert set(summary["order_documents_received"]) == {"peppol-bis3", "opentrans-2.1"}
    assert summary["answer_documents_sent"] and min(summary["order_documents_received"].values()) > 0
    assert summary["despatch_documents_sent"] and summary["notices"].get("purchase_request.dispatched", 0) > 0
    integrity = ("webhook_bad_signatures", "foreign_notices", "unsigned_supplier_orders", "supplier_orders_in_wrong_format")
    assert {key: summary[key] for key in integrity} == dict.fromkeys(integrity, 0)
    assert_risk_buffers_shared(summary["risk_buffers"])
    assert_nothing_left(scratch, ports, summary)


def assert_risk_buffers_shared(buffers: dict) -> None:
    """Two buffered SKUs whose only supplier becomes insolvent midway: pooled stock below the
    subscribers' summed standalone stocks, subscribers served from the buffers, non-subscribers
    told unfulfillable, and each subscriber's savings from its own statements."""
    assert len(buffers["buffers"]) == 2
    for buffer in buffers["buffers"]:
        assert 0 < Decimal(buffer["pooled_safety_stock"]) < Decimal(buffer["standalone_stock_summed"])
        assert buffer["non_subscriber_requests_unfulfillable"] > 0
    assert sum(b["subscriber_requests_served"] for b in buffers["buffers"]) > 0
    assert buffers["units_booked"] > 0 and buffers["units_served"] > 0
    assert buffers["served_non_subscribers"] == []
    assert buffers["statements"] > 0 and buffers["statements_with_foreign_fields"] == 0
    subscribers = {m for b in buffers["buffers"] for m in b["subscribers"]}
    savings = buffers["subscriber_savings_eur"]
    assert savings and set(savings) <= subscribers
    assert all(Decimal(amount) >= 0 for amount in savings.values())


def test_ctrl_c_ends_the_demo_early_with_a_summary_and_stops_the_platform(scratch: Path) -> None:
    process, ports, summary_path = demo(scratch, "--duration", "600")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{ports['procurement']}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    time.sleep(5)  # some trading
    process.send_signal(signal.SIGINT)
    finished(process, scratch, timeout=120)
    summary = json.loads(summary_path.read_text())

    assert summary["interrupted"] is True
    assert summary["requests_sent"] > 0
    assert_nothing_left(scratch, ports, summary)
