"""Learn the catalog's SKUs from procurement, so the door refuses only what nobody sells."""

from __future__ import annotations

from services.members.service_layer.unit_of_work import MembersUnitOfWork
from shared.events.procurement import CatalogItemListed
from shared.messaging.intake import Command


async def learn_catalog(uow: MembersUnitOfWork, commands: list[Command]) -> None:
    """Upsert every listed item: idempotent, so a redelivery needs no inbox."""
    listed: dict[str, str] = {}
    for command in commands:
        item: CatalogItemListed = command.data
        listed[item.sku] = item.category
    await uow.catalog.upsert(listed.items())
    uow.count_consumed(commands[0].record.topic, "processed", len(commands))
