"""Benchmark of a whole cycle close: 100k open requests over 1k SKUs and 20 suppliers (with
`buffered_skus`, that many of them with a risk buffer: sized from a history of closed cycles,
replenished, drawn on and accounted for in the same close).

The demand is loaded straight into a fresh procurement database (COPY), then the service's own
`close_cycle` runs as in production: load, solve every SKU, write orders,
deliveries, request states and the outbox in one transaction. Publishing is then timed
separately: the outbox relay sends every record (orders and members' notices) to the broker.

Run alone it starts the embedded broker and PostgreSQL, unless ALLIANCE_KAFKA_BOOTSTRAP and
ALLIANCE_DATABASE_URL name real ones: `.venv/bin/python bench/cycle_close_bench.py`.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402

from services.procurement.adapters.parties import PartiesRepository  # noqa: E402
from services.procurement.adapters.repository import SuppliersRepository  # noqa: E402
from services.procurement.domain.bundling import Tier  # noqa: E402
from services.procurement.domain.catalog import CatalogItem, Supplier  # noqa: E402
from services.procurement.main import MIGRATIONS  # noqa: E402
from services.procurement.service_layer.cycle import CloseOptions, close_cycle  # noqa: E402
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork  # noqa: E402
from shared import topics  # noqa: E402
from shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool  # noqa: E402
from shared.documents.parties import ALLIANCE_MEMBER_ID, Address, Party  # noqa: E402
from shared.documents.standards import Standard  # noqa: E402
from shared.messaging.outbox import OutboxRelay  # noqa: E402
from shared.runtime.topics import create_topics  # noqa: E402
from shared.settings import Settings, database_url_for  # noqa: E402

COUNTRIES = ("DE", "AT", "NL", "BE", "FR", "PL", "CZ", "IT")
ALLIANCE = Party(ALLIANCE_MEMBER_ID, "Einkaufsverbund Nord eG", Address("DE", "Hafenstraße 1", "Hamburg", "20457"),
                 "0088:4000001000005", "DE123456789")
"""The buyer of the orders when the suppliers take documents."""
CENT = Decimal("0.01")
SHARE = 0.7


def _gln(index: int) -> str:
    digits = f"40000090{index:04d}"
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return digits + str((10 - weighted % 10) % 10)


def _suppliers(
    rng: random.Random, skus: int, suppliers: int, per_sku: Counter[int], documents: Standard = Standard.CLOUDEVENTS
) -> list[Supplier]:
    """Each SKU offered by 2-5 suppliers, three all-units tiers sized on its expected volume."""
    items: dict[int, list[CatalogItem]] = {s: [] for s in range(suppliers)}
    for sku in range(skus):
        volume = max(per_sku[sku], 1) * 30
        for s in rng.sample(range(suppliers), rng.randint(2, min(5, suppliers))):
            base = Decimal(rng.randint(400, 5000)) / 100
            first = max(2, int(volume * rng.uniform(0.05, 0.15)))
            second = max(first + 1, int(volume * rng.uniform(0.25, 0.45)))
            items[s].append(
                CatalogItem(
                    sku=f"SKU-{sku:05d}",
                    name=f"Item {sku}",
                    category=f"cat-{sku % 12}",
                    unit="piece",
                    capacity_per_cycle=max(1, int(volume * rng.uniform(0.6, 1.2))),
                    min_order_quantity=rng.choice((1, 10, 25)),
                    tiers=(
                        Tier(1, base),
                        Tier(first, (base * Decimal("0.95")).quantize(CENT)),
                        Tier(second, (base * Decimal("0.9")).quantize(CENT)),
                    ),
                )
            )
    return [
        Supplier(
            supplier_id=f"s-{s:02d}",
            name=f"Supplier {s}",
            regions=tuple(rng.sample(COUNTRIES, rng.randint(4, len(COUNTRIES)))),
            lead_time_days=rng.randint(2, 10),
            secret=f"bench-secret-{s}",
            catalog=tuple(items[s]),
            documents=documents,
            peppol_id=f"0088:{_gln(s)}",
            vat_id=f"DE{400_000_000 + s}",
        )
        for s in range(suppliers)
    ]


async def _load(
    pool: asyncpg.Pool, rng: random.Random, requests: int, skus: int, suppliers: int, documents: Standard
) -> list[str]:
    per_sku = Counter(rng.randrange(skus) for _ in range(requests))
    catalog = _suppliers(rng, skus, suppliers, per_sku, documents)
    today = datetime.now(UTC).date()
    rows = []
    n = 0
    for sku, count in per_sku.items():
        for _ in range(count):
            n += 1
            ceiling = Decimal(rng.randint(500, 6000)) / 100 if rng.random() < 0.2 else None
            rows.append((f"m-{rng.randint(1, 5000)}", f"r-{n}", f"SKU-{sku:05d}", rng.randint(1, 60),
                         today + timedelta(days=rng.randint(3, 21)), ceiling, rng.choice(COUNTRIES)))
    async with pool.acquire() as conn:
        async with conn.transaction():
            await PartiesRepository(conn).save_alliance(ALLIANCE)
            for supplier in catalog:
                await SuppliersRepository(conn).save(supplier)
            await conn.copy_records_to_table(
                "purchase_requests",
                records=rows,
                columns=("member_id", "request_id", "sku", "quantity", "needed_by", "max_unit_price", "country"),
            )
        # As autovacuum leaves a table that filled over a cycle (statistics, visibility map and
        # hint bits set), not a table bulk-loaded a moment ago whose first reader pays for them.
        await conn.execute("VACUUM ANALYZE")
        # The stages before this one wrote hundreds of MB: their checkpoint is done now, not in
        # the middle of the timed close.
        try:
            await conn.execute("CHECKPOINT")
        except asyncpg.InsufficientPrivilegeError:
            pass  # a database of one's own without the right to checkpoint: measured as it comes
    return [s.supplier_id for s in catalog]


HISTORY_CYCLES = 12
BUFFER_SUBSCRIBERS = 8


async def _buffers(pool: asyncpg.Pool, rng: random.Random, count: int) -> None:
    """Risk buffers on the `count` SKUs with the most requests, with 11 closed cycles of history
    per subscriber, stock on hand to draw on, and a statement period closing with the benched
    close (number 12)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT sku, array_agg(DISTINCT member_id) AS members FROM purchase_requests GROUP BY sku"
            " ORDER BY count(*) DESC, sku LIMIT $1",
            count,
        )
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO cycles (cycle_no, cycle_id, trigger, order_date, requests_considered, requests_placed,"
                " quantity_placed, orders, unfulfillable, solve_seconds) VALUES ($1, $2, 'admin', current_date,"
                " 0, 0, 0, 0, 0, 0)",
                [(n, f"cycle-{n}") for n in range(1, HISTORY_CYCLES)],
            )
            await conn.execute("SELECT setval(pg_get_serial_sequence('cycles', 'cycle_no'), $1)", HISTORY_CYCLES - 1)
            await conn.executemany(
                "INSERT INTO risk_buffers (sku, warehouse, service_level, holding_cost_per_unit_and_cycle,"
                " history_cycles, statement_every_cycles, on_hand, stock_value) VALUES ($1, $2::jsonb, 0.95, 0.05,"
                " $3, $3, 50, 500)",
                [(r["sku"], '{"site": "Zentrallager", "postal_code": "30159", "country": "DE"}', HISTORY_CYCLES)
                 for r in rows],
            )
            subscribed = [(r["sku"], m) for r in rows for m in sorted(r["members"])[:BUFFER_SUBSCRIBERS]]
            await conn.executemany("INSERT INTO risk_buffer_subscribers (sku, member_id) VALUES ($1, $2)", subscribed)
            await conn.copy_records_to_table(
                "risk_buffer_demand",
                records=[(sku, n, m, rng.randint(0, 60)) for sku, m in subscribed for n in range(1, HISTORY_CYCLES)],
                columns=("sku", "cycle_no", "member_id", "quantity"),
            )
        await conn.execute("VACUUM ANALYZE")


async def _drain(relay: OutboxRelay) -> int:
    """Publish the outbox until it is empty (the service's relay, woken by the commit, does the
    same)."""
    sent = 0
    while True:
        confirmed, failed = await relay.publish_batch()
        sent += confirmed
        if not confirmed and not failed:
            return sent


async def bench_cycle_close(
    kafka_bootstrap: str,
    server_url: str,
    requests: int = 100_000,
    skus: int = 1_000,
    suppliers: int = 20,
    documents: Standard = Standard.CLOUDEVENTS,
    buffered_skus: int = 0,
) -> dict[str, object]:
    """Load the demand into a fresh database, close one cycle, publish it; return the timings.
    `documents`: what every supplier takes (`peppol-bis3`: each order rendered as a PEPPOL Order)."""
    database = f"bench_{uuid.uuid4().hex[:12]}"
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    admin = await asyncpg.connect(database_url_for(server_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    pool = await create_pool(database_url_for(server_url, database), 4)
    try:
        await apply_migrations(pool, SHARED_MIGRATIONS, MIGRATIONS)
        supplier_ids = await _load(pool, random.Random(11), requests, skus, suppliers, documents)
        if buffered_skus:
            await _buffers(pool, random.Random(12), buffered_skus)
        await create_topics(kafka_bootstrap, topics.all_topics(prefix, supplier_ids), partitions=6)
        options = CloseOptions(max_supplier_share=SHARE, interval_seconds=3600)
        uow = ProcurementUnitOfWork(pool, prefix)
        relay = OutboxRelay(pool, kafka_bootstrap, batch_size=Settings.model_fields["outbox_batch_size"].default)
        await relay.start()  # a running service's relay is connected before any close
        try:
            started = time.perf_counter()
            async with uow:
                report = await close_cycle(uow, options, datetime.now(UTC) + timedelta(hours=1), "admin")
            closed = time.perf_counter()
            published = await _drain(relay)
            finished = time.perf_counter()
        finally:
            await relay.stop()
    finally:
        await pool.close()
        admin = await asyncpg.connect(database_url_for(server_url, "postgres"))
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    assert report is not None
    return {
        "requests": requests,
        "skus": skus,
        "suppliers": suppliers,
        "documents": documents.value,
        "buffered_skus": buffered_skus,
        "close_seconds": closed - started,
        "solve_seconds": report.solve_seconds,
        "write_seconds": closed - started - report.solve_seconds,
        "publish_seconds": finished - closed,
        "total_seconds": finished - started,
        "records_published": published,
        "requests_placed": report.requests_placed,
        "orders": report.orders,
        "unfulfillable": report.unfulfillable,
        "waiting": report.waiting,
        "max_optimizer_gap": report.max_optimizer_gap,
        "share_cap_relaxed": report.share_cap_relaxed,
    }


async def _main() -> None:
    bootstrap = os.environ.get("ALLIANCE_KAFKA_BOOTSTRAP")
    server_url = os.environ.get("ALLIANCE_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="alliance-bench-") as scratch:
        broker = postgres = None
        if not bootstrap:
            from shared.runtime.embedded_kafka import EmbeddedKafka
            from shared.runtime.ports import free_port

            broker = EmbeddedKafka(free_port(), Path(scratch) / "kafka.log")
            broker.start()
            bootstrap = broker.bootstrap
        if not server_url:
            from shared.runtime.embedded_postgres import EmbeddedPostgres
            from shared.runtime.ports import free_port

            postgres = EmbeddedPostgres(Path(scratch) / "pg", free_port(), server_settings={"fsync": "off"})
            postgres.start()
            server_url = postgres.server_url
        try:
            result = await bench_cycle_close(bootstrap, server_url)
        finally:
            if broker:
                broker.stop()
            if postgres:
                postgres.stop()
    print(
        f"cycle close: {result['requests']} requests, {result['skus']} SKUs, {result['suppliers']} suppliers: "
        f"close {result['close_seconds']:.2f} s (solve {result['solve_seconds']:.2f} s, load+write "
        f"{result['write_seconds']:.2f} s), publish {result['publish_seconds']:.2f} s "
        f"({result['records_published']} records), total {result['total_seconds']:.2f} s; "
        f"{result['requests_placed']} placed on {result['orders']} orders, {result['unfulfillable']} "
        f"unfulfillable, {result['waiting']} waiting, max gap {result['max_optimizer_gap']:.4%}"
    )


if __name__ == "__main__":
    asyncio.run(_main())
