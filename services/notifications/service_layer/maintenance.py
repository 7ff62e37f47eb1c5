"""Periodic work beside the dispatcher: give up on overdue deliveries, route notices that
waited for their member, make due digests, and export the database-wide gauges."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from services.notifications.adapters import metrics
from services.notifications.service_layer.digests import make_due_digests
from services.notifications.service_layer.routing import OfferDue, RoutingPolicy, route_waiting
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from shared.messaging.consumer import TRANSIENT_ERRORS

log = logging.getLogger(__name__)


async def maintain_once(
    unit_of_work: Callable[[], NotificationsUnitOfWork],
    policy: RoutingPolicy,
    offer: OfferDue,
    wake: Callable[[], None],
) -> None:
    """One round; deliveries it makes due go to the dispatcher (digests: it looks them up)."""
    async with unit_of_work() as uow:
        for channel in await uow.deliveries.expire_overdue():
            uow.after_commit(lambda channel=channel: metrics.NOTICES.labels(channel, "dead").inc())
    async with unit_of_work() as uow:
        routed = await route_waiting(uow, policy)
        if routed:
            uow.after_commit(lambda: offer(routed))
    async with unit_of_work() as uow:
        if await make_due_digests(uow, policy):
            uow.after_commit(wake)
    async with unit_of_work() as uow:
        dead, pending = await uow.deliveries.counts()
    metrics.DEAD.set(dead)
    metrics.PENDING.set(pending)


async def maintain(
    unit_of_work: Callable[[], NotificationsUnitOfWork],
    policy: RoutingPolicy,
    offer: OfferDue,
    wake: Callable[[], None],
    export_circuits: Callable[[], None],
    interval_s: float,
) -> None:
    while True:
        try:
            await maintain_once(unit_of_work, policy, offer, wake)
        except TRANSIENT_ERRORS as exc:
            log.warning("maintenance round failed (%s); trying again", type(exc).__name__)
        export_circuits()
        await asyncio.sleep(interval_s)
