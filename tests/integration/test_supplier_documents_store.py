"""Suppliers in their own standards against a real PostgreSQL, without a broker: the seed's
alliance party and XML supplier are stored, members' profiles become delivery parties, a close
publishes the supplier's order as a PEPPOL document valid against UBL 2.1, and the supplier's
Order Response, mapped back through the order as stored, confirms it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from lxml import etree

from services.procurement.entrypoints.messaging import subscriptions
from services.procurement.service_layer.catalog import sync_seed
from services.procurement.service_layer.cycle import CloseOptions, close_cycle
from services.procurement.service_layer.documents import contract_order
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared import topics
from shared.contract import CloudEvent
from shared.documents import peppol
from shared.documents.schemas import Schema
from shared.documents.standards import Standard
from shared.events.members import MEMBER_REGISTERED, PURCHASE_REQUEST_ADMITTED, MemberProfile, PurchaseRequestAdmitted
from shared.messaging.envelope import document_event_bytes
from shared.messaging.outbox import outbox_value
from shared.messaging.records import InboundRecord
from shared.seed import Seed
from shared.settings import Settings
from tests.support.documents import peppol_order_response, peppol_response_line, standards_kit
from tests.support.erp import signed
from tests.support.events import encode, new_event
from tests.support.intake import intake_of

pytestmark = pytest.mark.integration

NEEDED_BY = (datetime.now(UTC) + timedelta(days=30)).date()
UBL = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
       "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
SEED = Seed.model_validate({
    "cycle": {"interval_seconds": 3600},
    "alliance": {"name": "Einkaufsverbund Nord eG", "peppol_id": "0088:4000001000005", "vat_id": "DE123456789",
                 "address": {"street": "Hafenstraße 1", "city": "Hamburg", "postal_code": "20457", "country": "DE"}},
    "suppliers": [{
        "id": "s-holz", "name": "Holz AG", "secret": "holz-1", "regions": ["DE"], "lead_time_days": 3,
        "documents": "peppol-bis3", "peppol_id": "0088:4012345000009", "vat_id": "DE987654321",
        "catalog": [{"sku": "BOARD-18MM", "name": "Board", "category": "wood", "unit": "piece",
                     "capacity_per_cycle": 1000, "tiers": [{"min_quantity": 1, "unit_price": "4.125"}]}],
    }],
})
SUBSCRIPTIONS = subscriptions(Settings(topic_prefix=""))


@pytest.fixture
def pool(procurement_pool: asyncpg.Pool) -> asyncpg.Pool:
    return procurement_pool


def record(topic: str, event_type: str, data, offset: int, key: bytes = b"k") -> InboundRecord:
    return InboundRecord(topic, 0, offset, key, encode(new_event(event_type, "alliance/members", data)))


async def test_an_xml_suppliers_order_goes_out_as_its_document_and_its_answer_comes_back_as_json(pool):
    kit = standards_kit()
    async with ProcurementUnitOfWork(pool) as work:
        await sync_seed(work, SEED, timedelta(hours=1))
    async with ProcurementUnitOfWork(pool) as work:
        holz = await work.suppliers.get("s-holz")
        alliance = await work.parties.alliance()
    assert holz is not None and (holz.documents, holz.vat_id) == (Standard.PEPPOL_BIS3, "DE987654321")
    assert alliance is not None and (alliance.address.city, alliance.peppol_id) == ("Hamburg", "0088:4000001000005")

    huber = MemberProfile(member_id="m-huber", name="Schreinerei Huber GmbH", status="active", region="DE",
                          peppol_id="0088:4000001000012", vat_id="DE111111111")
    requests = [PurchaseRequestAdmitted(request_id=f"r-{n}", member_id=member, sku="BOARD-18MM", quantity=quantity,
                                        needed_by=NEEDED_BY, country="DE")
                for n, (member, quantity) in enumerate([("m-huber", 61), ("m-kern", 51)])]
    async with ProcurementUnitOfWork(pool) as work:
        await intake_of(SUBSCRIPTIONS, topics.MEMBER_EVENTS)(work, [record(topics.MEMBER_EVENTS, MEMBER_REGISTERED,
                                                                           huber, 0)])
        await intake_of(SUBSCRIPTIONS, topics.ADMITTED_REQUESTS)(work, [
            record(topics.ADMITTED_REQUESTS, PURCHASE_REQUEST_ADMITTED, r, n) for n, r in enumerate(requests)])
    await pool.execute("DELETE FROM outbox")
    async with ProcurementUnitOfWork(pool) as work:
        report = await close_cycle(work, CloseOptions(0.7, 3600), datetime.now(UTC) + timedelta(hours=1), "admin")
    assert report is not None and report.orders == 1

    [row] = await pool.fetch("SELECT value, compressed FROM outbox WHERE topic = $1", topics.supplier_orders("s-holz"))
    assert row["compressed"]  # an XML order travels zstd-compressed (docs/contract.md)
    event = CloudEvent.model_validate_json(outbox_value(row))
    assert (event.datacontenttype, event.dataschema) == ("application/xml", peppol.ORDER)
    root = etree.fromstring(event.data.encode())
    kit.validate(root, Schema.UBL_ORDER)
    assert root.findtext("cac:AnticipatedMonetaryTotal/cbc:PayableAmount", namespaces=UBL) == "462.00"
    parties = root.xpath("cac:OrderLine/cac:LineItem/cac:OriginatorParty/cac:PartyName/cbc:Name/text()",
                         namespaces=UBL)
    assert sorted(parties) == ["Schreinerei Huber GmbH", "m-kern"]  # m-kern's profile never came
    delivery_ids = root.xpath("cac:OrderLine/cac:LineItem/cbc:ID/text()", namespaces=UBL)

    order_id = root.findtext("cbc:ID", namespaces=UBL)
    async with ProcurementUnitOfWork(pool) as work:
        stored = await work.fulfilment.placed_order(order_id)
    assert stored is not None
    assert sorted(d.delivery_id for d in contract_order(stored.order).lines[0].deliveries) == sorted(delivery_ids)

    response = peppol_order_response(order_id, "CA", [peppol_response_line(i, "5") for i in delivery_ids])
    value = document_event_bytes("joint_order.answered", "s-holz", peppol.ORDER_RESPONSE, response, "resp-1",
                                 datetime.now(UTC))
    answer = InboundRecord(topics.SUPPLIER_RESPONSES, 0, 0, b"s-holz", value, tuple(signed("holz-1", value)))
    await pool.execute("DELETE FROM outbox")
    async with ProcurementUnitOfWork(pool) as work:
        await intake_of(SUBSCRIPTIONS, topics.SUPPLIER_RESPONSES)(work, [answer])
    # Every document line accepted: the answer per line that confirms the order.
    assert await pool.fetchval("SELECT status FROM orders WHERE order_id = $1", order_id) == "confirmed"
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", topics.DEAD_LETTERS) == 0
