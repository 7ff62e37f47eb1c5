"""`python -m demo` (`make demo`): the platform on the embedded default, with simulated member
ERPs, suppliers and member webhook receivers trading through it for a while; a live view, then
a summary. Ctrl-C ends it early with the summary; the platform is always stopped.

Ports and addresses come from the same ALLIANCE_* variables as `alliance run` (README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import signal
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.live import Live

from demo import view
from demo.participants import MemberERPs, SupplierDesks
from demo.platform import Platform, PlatformError
from demo.scenario import Scenario, generate
from demo.scoreboard import Scoreboard
from shared.settings import Settings
from tools.webhook_receiver import WebhookReceiver

DRAIN_TIMEOUT_S = 30.0
QUIET_AFTER_S = 3.0
WAREHOUSE_LOOK_S = 4.0
"""Longer than a supplier desk takes to answer: what is on order twice in a row is confirmed."""
"""The end: the last notices are in when every order is answered and no webhook came for this long."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of trading (default 120)")
    parser.add_argument("--members", type=int, default=40, help="member firms (default 40)")
    parser.add_argument("--suppliers", type=int, default=8, help="suppliers (default 8)")
    parser.add_argument("--rate", type=float, default=20.0, help="purchase requests per second (default 20)")
    parser.add_argument("--cycle-seconds", type=int, default=20, help="order cycle interval (default 20)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the scenario (default 7)")
    parser.add_argument("--dir", type=Path, default=Path(".alliance/demo"), help="seed, data and logs")
    parser.add_argument("--summary-json", type=Path, help="also write the summary to this file")
    options = parser.parse_args(argv)
    if options.members < 2 or options.suppliers < 1 or options.rate <= 0 or options.duration <= 0:
        parser.error("needs at least 2 members, 1 supplier, a positive rate and duration")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    console = Console()
    try:
        summary = asyncio.run(run(options, console))
    except PlatformError as exc:
        console.print(f"[bold red]The platform failed:[/] {exc}")
        return 1
    console.print()
    console.print(view.summary_panel(summary))
    if options.summary_json:
        options.summary_json.write_text(json.dumps(summary, indent=2))
    return 0


async def run(options: argparse.Namespace, console: Console) -> dict[str, Any]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    directory = options.dir.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    scenario = generate(options.seed, options.members, options.suppliers, options.cycle_seconds)
    board = Scoreboard()
    receiver = WebhookReceiver(board=board, webhook_secrets={m.id: m.webhook_secret for m in scenario.members})
    seed_path = directory / "seed.yaml"
    platform = Platform(Settings(), seed_path, directory, secrets.token_urlsafe(24))
    try:
        scenario.write_seed(seed_path, await receiver.start())
        with console.status(f"Starting the platform (log: {platform.log_path}) ..."):
            started = await _until_stopped(platform.start(), stop)
        if started:
            await trade(options, scenario, platform, board, stop, console)
        summary = board.summary()
    finally:
        exit_code = await platform.stop()
        await receiver.stop()
    return {
        **summary,
        "interrupted": stop.is_set(),
        "metrics_urls": platform.metrics_urls,
        "ops_guide": "docs/ops.md",
        "seed_file": str(seed_path),
        "platform_log": str(platform.log_path),
        "platform_pid": platform.process.pid if platform.process else None,
        "platform_exit_code": exit_code,
    }


async def trade(
    options: argparse.Namespace,
    scenario: Scenario,
    platform: Platform,
    board: Scoreboard,
    stop: asyncio.Event,
    console: Console,
) -> None:
    """Members and suppliers at work for `options.duration` seconds, then the last cycle."""
    producer = AIOKafkaProducer(bootstrap_servers=platform.bootstrap, enable_idempotence=False, linger_ms=5)
    await producer.start()
    erps = MemberERPs(scenario, producer, platform.topic_prefix, board, options.rate)
    desks = SupplierDesks(scenario, platform.bootstrap, producer, platform.topic_prefix, board)
    board.started = time.monotonic()
    erps_done = asyncio.Event()
    title = (
        f"Alliance demo · {len(scenario.members)} members · {len(scenario.suppliers)} suppliers · "
        f"{options.rate:g} requests/s · a cycle every {options.cycle_seconds} s"
    )
    background = [
        asyncio.create_task(desks.run()),
        asyncio.create_task(erps.receive_goods()),
        asyncio.create_task(insolvency(erps, desks, scenario, board, options.duration)),
    ]
    publishing = asyncio.create_task(erps.run(erps_done))
    try:
        async with platform.admin() as admin:
            background.append(asyncio.create_task(follow_cycles(admin, board)))
            background.append(asyncio.create_task(keep_warehouse(admin, board, desks, scenario)))
            with Live(get_renderable=lambda: view.dashboard(board, options.duration, title), console=console):
                await _watch(platform, stop, publishing, until=board.started + options.duration)
                erps_done.set()
                await publishing
                if not stop.is_set():
                    await last_cycle(admin, platform, board, stop)
                    await supplier_performance(admin, scenario, board)
    finally:
        erps_done.set()
        for task in [publishing, *background]:
            task.cancel()
        await asyncio.gather(publishing, *background, return_exceptions=True)
        await producer.stop()


async def insolvency(
    erps: MemberERPs, desks: SupplierDesks, scenario: Scenario, board: Scoreboard, duration: float
) -> None:
    """Halfway through, a supplier stops delivering; one member reports it, a second confirms."""
    await asyncio.sleep(duration / 2)
    supplier = scenario.insolvent_supplier
    desks.go_insolvent(supplier)
    board.note(f"{supplier.name} ({supplier.id}) is insolvent: it rejects every order from now on")
    first, second = scenario.alert_reporters
    await erps.report_insolvency(first, supplier, corroborating=False)
    board.note(f"{first.name} raises a critical insolvency alert on {supplier.id}")
    await asyncio.sleep(min(10.0, duration / 4))
    await erps.report_insolvency(second, supplier, corroborating=True)
    board.note(f"{second.name} corroborates the alert")


async def follow_cycles(admin: httpx.AsyncClient, board: Scoreboard) -> None:
    """Tell the story of each cycle as procurement closes it (GET /admin/cycles)."""
    seen: set[str] = set()
    while True:
        with contextlib.suppress(httpx.HTTPError):
            response = await admin.get("/cycles", params={"limit": 1000})
            response.raise_for_status()
            cycles = response.json()
            board.cycles_closed = len(cycles)
            for cycle in reversed(cycles):
                if cycle["cycle_id"] not in seen:
                    seen.add(cycle["cycle_id"])
                    board.note(
                        f"{cycle['cycle_id']} closed ({cycle['trigger']}): {cycle['requests_placed']} of "
                        f"{cycle['requests_considered']} requests on {cycle['orders']} orders"
                    )
        await asyncio.sleep(1.0)


async def keep_warehouse(
    admin: httpx.AsyncClient, board: Scoreboard, desks: SupplierDesks, scenario: Scenario
) -> None:
    """The warehouse books as arrived what its buffers had on order at the last look and still
    have (its supplier has answered by then), until their only supplier fails: then nothing
    more comes. The operator's view of the buffers is the summary's."""
    seen: dict[str, int] = {}
    while True:
        with contextlib.suppress(httpx.HTTPError):
            response = await admin.get("/buffers")
            response.raise_for_status()
            board.buffers = response.json()
            arriving = not desks.is_insolvent(scenario.insolvent_supplier)
            for buffer in board.buffers:
                sku, quantity = buffer["sku"], min(buffer["on_order"], seen.get(buffer["sku"], 0))
                seen[sku] = buffer["on_order"]
                if arriving and quantity:
                    booked = await admin.post(f"/buffers/{sku}/receipts", json={"quantity": quantity})
                    if booked.status_code == 200:
                        board.buffer_units_booked += quantity
                        seen[sku] -= quantity
                        board.note(f"{quantity} units of {sku} booked into the risk buffer's warehouse")
        await asyncio.sleep(WAREHOUSE_LOOK_S)


async def supplier_performance(admin: httpx.AsyncClient, scenario: Scenario, board: Scoreboard) -> None:
    """Each supplier's on-time-in-full as procurement measured it from the receipts."""
    for supplier in scenario.suppliers:
        with contextlib.suppress(httpx.HTTPError):
            response = await admin.get(f"/suppliers/{supplier.id}/performance")
            response.raise_for_status()
            measured = [p for p in response.json() if p["otif"] is not None]
            deliveries = sum(p["deliveries"] for p in measured)
            on_time_in_full = sum(p["otif"] * p["deliveries"] for p in measured)
            board.supplier_otif[supplier.id] = round(on_time_in_full / deliveries, 3) if deliveries else None


async def last_cycle(
    admin: httpx.AsyncClient, platform: Platform, board: Scoreboard, stop: asyncio.Event
) -> None:
    """Close one more cycle now, so what was sent last is decided too, and wait for its notices."""
    board.note("no more requests; closing the last cycle now (POST /admin/cycles/close)")
    try:
        (await admin.post("/cycles/close")).raise_for_status()
    except httpx.HTTPError as exc:
        board.note(f"closing the last cycle failed ({exc}); waiting for the scheduled close")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_TIMEOUT_S
    last_count, quiet_since = -1, loop.time()
    while loop.time() < deadline and not stop.is_set():
        platform.check_running()
        count = sum(board.notices.values())
        if count != last_count:
            last_count, quiet_since = count, loop.time()
        elif board.orders_unanswered == 0 and loop.time() - quiet_since >= QUIET_AFTER_S:
            return
        await asyncio.sleep(0.25)


async def _watch(
    platform: Platform, stop: asyncio.Event, publishing: asyncio.Task[None], until: float
) -> None:
    """Until the time is up or Ctrl-C; raise if the platform or the publishing ERPs fail."""
    while time.monotonic() < until and not stop.is_set():
        platform.check_running()
        if publishing.done():
            publishing.result()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def _until_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Await `work` unless Ctrl-C comes first (then cancel it); True when it finished."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False
    task.result()
    return True


if __name__ == "__main__":
    sys.exit(main())
