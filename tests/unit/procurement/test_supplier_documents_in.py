"""Suppliers' documents in, through procurement's declared intake: an XML supplier's Order
Response has exactly the effect of its JSON twin; what cannot be read is dead-lettered as
`invalid_document` (and the next record is still taken), and what names another order or seller
is refused with the same reasons as JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from services.procurement.domain.orders import OrderStatus, delivery_id
from services.procurement.service_layer.documents import read_document
from shared.contract import CloudEvent, EventType
from shared.documents import opentrans, peppol
from shared.documents.standards import Standard
from shared.messaging.envelope import document_event_bytes
from shared.messaging.records import InboundRecord
from shared.reasons import DeadLetterReason, QuarantineReason
from tests.support.documents import (
    opentrans_orderresponse,
    peppol_order_response,
    standards_kit,
)
from tests.support.erp import signed
from tests.unit.procurement.test_supplier_answers import HOLZ, RESPONSES, WALD, answer, answers, placed

PEPPOL_HOLZ = replace(HOLZ, documents=Standard.PEPPOL_BIS3, peppol_id="0088:4012345000009", vat_id="DE987654321")
OPENTRANS_HOLZ = replace(PEPPOL_HOLZ, documents=Standard.OPENTRANS_21)


def document(event_type: str, dataschema: str, xml: str, event_id: str = "a-1", key: str = "s-holz",
             secret: str = "holz-secret", offset: int = 0) -> InboundRecord:
    value = document_event_bytes(event_type, "supplier/test", dataschema, xml, event_id, datetime.now(UTC))
    return InboundRecord(RESPONSES, 0, offset, key.encode(), value, tuple(signed(secret, value)))


def effect(uow) -> tuple[Any, ...]:
    """What an answer changed: the order's state, and every record published (ids included)."""
    published = [(m.topic, m.key, m.value and json.loads(m.value)["data"]) for m in uow.published]
    return uow.tables.orders["ord-1"], sorted(published, key=repr), uow.dead_letters, uow.quarantined


async def answered_by(supplier, *records: InboundRecord):
    uow, _ = await placed(supplier, WALD)
    uow.published.clear()
    async with uow:
        await answers(uow, list(records))
    return uow


def _same_effect(a, b) -> None:
    order_a, published_a, *set_aside_a = effect(a)
    order_b, published_b, *set_aside_b = effect(b)
    assert replace(order_a, answered_at=None, placed_at=None) == replace(order_b, answered_at=None, placed_at=None)
    assert published_a == published_b and set_aside_a == set_aside_b


async def test_a_peppol_acceptance_has_the_effect_of_joint_order_confirmed():
    standards_kit()
    xml = peppol_order_response("ord-1", "AP", promised="2026-12-10")
    by_document = await answered_by(PEPPOL_HOLZ, document(EventType.JOINT_ORDER_CONFIRMED, peppol.ORDER_RESPONSE, xml))
    by_json = await answered_by(HOLZ, answer("ord-1", expected_delivery="2026-12-10"))
    assert by_document.tables.orders["ord-1"].status is OrderStatus.CONFIRMED
    _same_effect(by_document, by_json)


async def test_a_peppol_rejection_has_the_effect_of_joint_order_rejected():
    standards_kit()
    xml = peppol_order_response("ord-1", "RE", note="out of stock")
    by_document = await answered_by(PEPPOL_HOLZ, document(EventType.JOINT_ORDER_REJECTED, peppol.ORDER_RESPONSE, xml))
    by_json = await answered_by(HOLZ, answer("ord-1", EventType.JOINT_ORDER_REJECTED, reason="out of stock"))
    assert by_document.tables.orders["ord-1"].status is OrderStatus.REJECTED
    _same_effect(by_document, by_json)


async def test_an_opentrans_orderresponse_reads_as_the_answer_per_line_a_json_supplier_sends():
    kit = standards_kit()
    uow, order = await placed(OPENTRANS_HOLZ)
    [line] = order.lines
    ids = [delivery_id(line.line_id, d) for d in line.deliveries]
    xml = opentrans_orderresponse("ord-1", [(ids[0], 60), (ids[1], 10)])
    value = document_event_bytes(EventType.JOINT_ORDER_ANSWERED, "s", opentrans.ORDERRESPONSE, xml, "a-1",
                                 datetime.now(UTC))
    async with uow:
        twin = await read_document(kit, uow, CloudEvent.model_validate_json(value), OPENTRANS_HOLZ)
    assert (twin.type, twin.id, twin.datacontenttype, twin.dataschema) == (
        "joint_order.answered", "a-1", "application/json", None)
    assert twin.data == {"order_id": "ord-1", "supplier_id": "s-holz", "lines": [
        {"line_id": line.line_id, "status": "partial", "quantity": 70, "expected_delivery": "2026-12-10"}]}


ATTACKS = {
    "xxe": '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
    "billion laughs": '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;">]><l>&b;</l>',
    "not well-formed": "<OrderResponse>",
    "schema-invalid": peppol_order_response("ord-1", "AP").replace("<cbc:IssueDate>2026-11-22</cbc:IssueDate>", ""),
}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
async def test_an_unreadable_document_is_dead_lettered_and_the_next_record_is_taken(attack):
    standards_kit()
    uow = await answered_by(
        PEPPOL_HOLZ,
        document(EventType.JOINT_ORDER_CONFIRMED, peppol.ORDER_RESPONSE, attack, event_id="bad", offset=1),
        document(EventType.JOINT_ORDER_CONFIRMED, peppol.ORDER_RESPONSE, peppol_order_response("ord-1", "AP"),
                 event_id="good", offset=2),
    )
    assert [(d.reason, d.offset) for d in uow.dead_letters] == [(DeadLetterReason.INVALID_DOCUMENT, 1)]
    assert "/etc/passwd" not in uow.dead_letters[0].detail or "DOCTYPE" in uow.dead_letters[0].detail
    assert uow.tables.orders["ord-1"].status is OrderStatus.CONFIRMED


async def test_the_wrong_dataschema_or_a_document_from_a_json_supplier_is_an_invalid_document():
    standards_kit()
    xml = peppol_order_response("ord-1", "AP")
    wrong = await answered_by(PEPPOL_HOLZ, document(EventType.JOINT_ORDER_CONFIRMED, peppol.ORDER, xml))
    json_supplier = await answered_by(HOLZ, document(EventType.JOINT_ORDER_CONFIRMED, peppol.ORDER_RESPONSE, xml))
    assert [d.reason for d in wrong.dead_letters + json_supplier.dead_letters] == [DeadLetterReason.INVALID_DOCUMENT] * 2
    assert "dataschema" in wrong.dead_letters[0].detail and "cloudevents" in json_supplier.dead_letters[0].detail
    assert wrong.tables.orders["ord-1"].status is OrderStatus.PLACED


async def test_another_suppliers_order_or_seller_is_refused_as_for_json():
    standards_kit()
    wald = replace(WALD, documents=Standard.PEPPOL_BIS3, peppol_id="0088:4012345000016", vat_id="DE987654322")
    uow, _ = await placed(PEPPOL_HOLZ, wald)
    xml = peppol_order_response("ord-1", "AP")  # names s-holz's peppol id as the seller
    async with uow:
        await answers(uow, [
            document(EventType.JOINT_ORDER_CONFIRMED, peppol.ORDER_RESPONSE, xml, key="s-wald", secret="wald-secret"),
            document(EventType.JOINT_ORDER_CONFIRMED, peppol.ORDER_RESPONSE, peppol_order_response("ord-9", "AP"),
                     event_id="a-2"),
        ])
    assert [q.reason for q in uow.quarantined] == [QuarantineReason.KEY_NOT_SUPPLIER, QuarantineReason.ORDER_NOT_HELD]
    assert uow.tables.orders["ord-1"].status is OrderStatus.PLACED


async def test_a_forged_document_is_quarantined_unread():
    xml = ATTACKS["billion laughs"]
    uow = await answered_by(PEPPOL_HOLZ, document(EventType.JOINT_ORDER_CONFIRMED, peppol.ORDER_RESPONSE, xml,
                                                  secret="not-holz"))
    assert [q.reason for q in uow.quarantined] == [QuarantineReason.BAD_SIGNATURE] and not uow.dead_letters
