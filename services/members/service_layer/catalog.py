"""Learn the catalog's SKUs from procurement, so the door refuses only what nobody sells."""

from __future__ import annotations

from services.members.adapters.repository import CatalogRepository
from shared.events.procurement import CatalogItemListed
from shared.messaging.intake import Command
from shared.messaging.unit_of_work import UnitOfWork


async def learn_catalog(uow: UnitOfWork, commands: list[Command]) -> None:
    """Upsert every listed item: idempotent, so a redelivery needs no inbox."""
    listed: dict[str, str] = {}
    for command in commands:
        item: CatalogItemListed = command.data
        listed[item.sku] = item.category
    await CatalogRepository(uow.conn).upsert(listed.items())
    uow.count_consumed(commands[0].record.topic, "processed", len(commands))
