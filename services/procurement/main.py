"""Composition root of the procurement service: wires its handlers, loops and API to the runtime."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.procurement.domain.schedule import next_close_at, slot_of
from services.procurement.entrypoints.http import admin_router
from services.procurement.entrypoints.messaging import publications, subscriptions
from services.procurement.service_layer.buffers import sync_seed_buffers
from services.procurement.service_layer.catalog import sync_seed
from services.procurement.service_layer.cycle import CloseOptions, CycleReport, Trigger, close_cycle
from services.procurement.service_layer.receipts import watch_deliveries
from services.procurement.service_layer.resourcing import DecisionOptions
from services.procurement.service_layer.risk import expire_alerts
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from services.procurement.service_layer.watch import escalate_overdue, refresh_gauges, refresh_performance_gauges
from shared import topics
from shared.db import DATABASE_AWAY
from shared.http import create_app
from shared.kafka_client import sasl_options
from shared.runtime.topics import create_topics
from shared.seed import Cycle, Seed
from shared.service import ServiceRuntime
from shared.settings import Settings

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"
DEFAULT_CYCLE = Cycle(interval_seconds=3600, max_supplier_share=0.7)
WATCH_INTERVAL_S = 5.0
PERFORMANCE_INTERVAL_S = 30.0
"""Supplier performance reads the window's deliveries: its gauges follow less often than the watch."""


async def serve(settings: Settings, seed: Seed | None) -> None:
    runtime = ServiceRuntime("procurement", settings, MIGRATIONS, ProcurementUnitOfWork)
    await runtime.open()
    grace = timedelta(seconds=settings.secret_grace_s)
    cycle = seed.cycle if seed is not None else DEFAULT_CYCLE
    if seed is None:
        log.warning("no seed: cycles close every %d s, max_supplier_share %.2f", cycle.interval_seconds,
                    cycle.max_supplier_share)
    else:
        async with runtime.unit_of_work() as uow:
            changed = await sync_seed(uow, seed, grace)
            buffers = await sync_seed_buffers(uow, seed)
        log.info("seed loaded: %d supplier(s) added or changed, %d risk buffer(s)", changed, buffers)

    async def ensure_supplier_topics(*supplier_ids: str) -> None:
        names = [settings.topic(topics.supplier_orders(s)) for s in supplier_ids]
        await create_topics(
            settings.kafka_bootstrap or "", names, settings.topic_partitions, settings.topic_replication_factor,
            options=sasl_options(settings),
        )

    async with runtime.unit_of_work() as uow:
        known = [s.supplier_id for s in await uow.suppliers.list()]
    await ensure_supplier_topics(*known)

    options = CloseOptions(
        max_supplier_share=cycle.max_supplier_share,
        interval_seconds=cycle.interval_seconds,
        risk_corroboration_members=settings.risk_corroboration_members,
        otif_floor=settings.supplier_otif_floor,
    )
    decisions = DecisionOptions(cycle.max_supplier_share, settings.risk_corroboration_members,
                                settings.supplier_otif_floor)

    async def close(trigger: Trigger, slot: int | None = None) -> CycleReport | None:
        now = datetime.now(UTC)
        async with runtime.unit_of_work() as uow:
            report = await close_cycle(
                uow, options, next_close_at(now, cycle.interval_seconds), trigger, slot, now
            )
        if report is not None:
            log.info(
                "%s closed (%s): %d of %d requests placed on %d orders, %d unfulfillable, %d waiting",
                report.cycle_id, trigger, report.requests_placed, report.requests_considered,
                report.orders, report.unfulfillable, report.waiting,
            )
        return report

    async def close_now() -> CycleReport:
        report = await close("admin")
        assert report is not None  # only scheduled closes can find their slot taken
        return report

    async def close_on_schedule() -> None:
        """Close each schedule slot at its start; the slot is recorded, so one instance closes it."""
        while True:
            due = next_close_at(datetime.now(UTC), cycle.interval_seconds)
            await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
            try:
                await close("schedule", slot_of(due, cycle.interval_seconds))
            except Exception:
                log.exception("the scheduled close at %s failed; its requests wait for the next", due)

    async def keep_watch() -> None:
        timeout = timedelta(seconds=settings.order_answer_timeout_s)
        pause = min(WATCH_INTERVAL_S, max(0.5, settings.order_answer_timeout_s / 4))
        while True:
            try:
                async with runtime.unit_of_work() as uow:
                    await escalate_overdue(uow, timeout)
                async with runtime.unit_of_work() as uow:
                    await expire_alerts(uow, decisions, datetime.now(UTC))
                async with runtime.unit_of_work() as uow:
                    await watch_deliveries(uow, settings.receipt_grace_days, datetime.now(UTC).date())
                async with runtime.unit_of_work() as uow:
                    await refresh_gauges(uow, settings.risk_corroboration_members)
            except DATABASE_AWAY as error:
                log.warning("watch skipped a round: database unavailable (%s)", type(error).__name__)
            await asyncio.sleep(pause)

    async def follow_performance() -> None:
        while True:
            try:
                async with runtime.unit_of_work() as uow:
                    await refresh_performance_gauges(uow, settings.supplier_otif_floor)
            except DATABASE_AWAY as error:
                log.warning("performance gauges skipped a round: database unavailable (%s)", type(error).__name__)
            await asyncio.sleep(PERFORMANCE_INTERVAL_S)

    runtime.add_background(close_on_schedule)
    runtime.add_background(keep_watch)
    runtime.add_background(follow_performance)
    runtime.subscribe(subscriptions(settings, cycle.max_supplier_share))  # compiles the standards' schemas
    runtime.document(publications(settings))
    app = create_app(
        "procurement",
        runtime.health,
        settings.admin_token,
        [admin_router(runtime.unit_of_work, close_now, grace, ensure_supplier_topics,
                      decisions, settings.receipt_grace_days)],
    )
    await runtime.run(app)
