"""Learn the catalog's SKUs from procurement, so the door refuses only what nobody sells."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from services.members.adapters.repository import CatalogRepository
from shared.events.procurement import CATALOG_ITEM_LISTED, CatalogItemListed
from shared.messaging.envelope import Undecodable, decode, validation_summary
from shared.messaging.records import InboundRecord
from shared.messaging.unit_of_work import UnitOfWork


async def learn_catalog_batch(uow: UnitOfWork, records: Sequence[InboundRecord]) -> None:
    """Upsert every listed item (idempotent, so redelivery needs no inbox); skip other events."""
    listed: dict[str, str] = {}
    for record in records:
        try:
            event = decode(record.value)
            if event.type != CATALOG_ITEM_LISTED:
                uow.count_consumed(record.topic, "skipped")
                continue
            item = CatalogItemListed.model_validate(event.data)
        except Undecodable as error:
            uow.dead_letter(record, error.reason, error.detail)
            continue
        except ValidationError as error:
            uow.dead_letter(record, "invalid_event", validation_summary(error))
            continue
        listed[item.sku] = item.category
        uow.count_consumed(record.topic, "processed")
    await CatalogRepository(uow.conn).upsert(listed.items())
