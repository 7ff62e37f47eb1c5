"""The same cycle contents give the same orders, whatever order the requests came in.

`make chaos` compares the orders of a run under faults with those of a fault-free run of the
same requests: the supplier totals and prices agree, but a few requests sit with another
supplier. The close hands the optimizer the open requests in the order procurement stored them
(`admitted_at`), and the optimizer breaks ties between equally good bundles by that order; a
crash, a redelivery or another batching stores them in another order.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from shared import topics
from tests.support.procurement import admitted, close, send, wait_for_open
from tests.support.seeds import item, member, supplier, write_seed
from tests.support.services import platform

pytestmark = pytest.mark.integration

REQUESTS = [("m-0", "r-0", 50), ("m-1", "r-1", 20), ("m-2", "r-2", 20), ("m-3", "r-3", 60), ("m-4", "r-4", 40)]
"""Two suppliers with the same offer: r-1 and r-2 are interchangeable, and one of them goes to
each supplier."""


async def assignment(kafka_bootstrap: str, postgres_server_url: str, workdir: Path,
                     arrival: list[tuple[str, str, int]]) -> dict[tuple[str, str], str]:
    """Admit the requests one by one in `arrival` order, close the cycle; who got which supplier."""
    catalog = [item("BOARD-18MM", [(1, "10.00"), (100, "9.00")])]
    seed = write_seed(workdir / "seed.yaml", [member(m) for m, _, _ in REQUESTS],
                      [supplier("s-holz", catalog), supplier("s-wald", catalog)])
    async with platform(kafka_bootstrap, postgres_server_url, workdir, ("s-holz", "s-wald")) as running:
        procurement = await running.start("procurement", seed)
        for number, (member_id, request_id, quantity) in enumerate(arrival, 1):
            await send(running, topics.ADMITTED_REQUESTS, [admitted(member_id, request_id, quantity)])
            await wait_for_open(procurement, number)
        await close(procurement)
        conn = await asyncpg.connect(running.database_url("procurement"))
        try:
            rows = await conn.fetch(
                "SELECT d.member_id, d.request_id, o.supplier_id FROM deliveries d JOIN orders o USING (order_id)"
            )
        finally:
            await conn.close()
    return {(r["member_id"], r["request_id"]): r["supplier_id"] for r in rows}


async def test_the_orders_do_not_depend_on_the_order_requests_arrived_in(
    kafka_bootstrap: str, postgres_server_url: str, tmp_path: Path
) -> None:
    (tmp_path / "forward").mkdir()
    (tmp_path / "backward").mkdir()
    forward = await assignment(kafka_bootstrap, postgres_server_url, tmp_path / "forward", REQUESTS)
    backward = await assignment(kafka_bootstrap, postgres_server_url, tmp_path / "backward", REQUESTS[::-1])
    assert len(forward) == len(REQUESTS)
    assert forward == backward
