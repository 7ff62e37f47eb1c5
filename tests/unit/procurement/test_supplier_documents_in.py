"""Suppliers' documents in, through procurement's declared intake: an XML supplier's Order
Response has exactly the effect of its JSON twin; what cannot be read is dead-lettered as
`invalid_document` (and the next record is still taken), and what names another order or seller
is refused with the same reasons as JSON."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.procurement.domain.orders import OrderStatus, delivery_id
from services.procurement.service_layer.documents import read_document
from shared import topics
from shared.contract import CloudEvent, EventType
from shared.documents import opentrans, peppol
from shared.documents.standards import Standard
from shared.messaging.envelope import document_event_bytes
from shared.messaging.records import InboundRecord
from shared.reasons import DeadLetterReason, QuarantineReason
from tests.support.documents import (
    opentrans_dispatchnotification,
    opentrans_orderresponse,
    peppol_despatch_advice,
    peppol_order_response,
    peppol_response_line,
    standards_kit,
)
from tests.support.erp import signed
from tests.unit.procurement.test_supplier_answers import HOLZ, RESPONSES, WALD, answer, answers, placed
from tests.unit.test_fuzz_intake import take

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


async def test_a_document_longer_than_any_other_string_of_the_contract_is_read():
    """A record's data may be as long as the record allows (1 MiB): an answer or despatch advice of
    a few dozen lines passes 10,000 characters, and was refused as `not_cloudevent`."""
    standards_kit()
    xml = peppol_order_response("ord-1", "AP", promised="2026-12-10")
    pretty = xml.replace("<cbc:IssueDate>", "\n" + " " * 20_000 + "<cbc:IssueDate>")  # an ERP's indentation
    assert len(pretty) > 20_000
    by_document = await answered_by(PEPPOL_HOLZ, document(EventType.JOINT_ORDER_CONFIRMED, peppol.ORDER_RESPONSE, pretty))
    assert by_document.dead_letters == [] and by_document.tables.orders["ord-1"].status is OrderStatus.CONFIRMED


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


def _ids(order) -> list[str]:
    return [delivery_id(line.line_id, d) for line in order.lines for d in line.deliveries]


async def _twins(document_supplier, document_record, json_record, before=()):
    """The same order answered (after `before`) by a document and by its JSON twin."""
    results = []
    for supplier, record in ((document_supplier, document_record), (HOLZ, json_record)):
        uow, order = await placed(supplier, WALD)
        async with uow:
            await answers(uow, [r(order) if callable(r) else r for r in before])
        uow.published.clear()
        async with uow:
            await answers(uow, [record(order)])
        results.append(uow)
    return results


async def test_a_peppol_answer_per_line_has_the_effect_of_joint_order_answered():
    standards_kit()

    def document_answer(order):
        huber, berg = _ids(order)
        xml = peppol_order_response("ord-1", "CA", [
            peppol_response_line(huber, "5", promised="2026-12-10"),
            peppol_response_line(berg, "3", 25, promised="2026-12-10", note="nur 25 am Lager"),
        ])
        return document(EventType.JOINT_ORDER_ANSWERED, peppol.ORDER_RESPONSE, xml)

    def json_answer(order):
        [line] = order.lines
        return answer("ord-1", EventType.JOINT_ORDER_ANSWERED, lines=[
            {"line_id": line.line_id, "status": "partial", "quantity": 85, "expected_delivery": "2026-12-10",
             "reason": "nur 25 am Lager"}])

    by_document, by_json = await _twins(PEPPOL_HOLZ, document_answer, json_answer)
    assert by_document.tables.orders["ord-1"].status is OrderStatus.ANSWERED
    _same_effect(by_document, by_json)


async def test_an_opentrans_orderresponse_has_the_effect_of_joint_order_answered():
    standards_kit()

    def document_answer(order):
        huber, berg = _ids(order)
        return document(EventType.JOINT_ORDER_ANSWERED, opentrans.ORDERRESPONSE,
                        opentrans_orderresponse("ord-1", [(huber, 60), (berg, 0)]))

    def json_answer(order):
        [line] = order.lines
        return answer("ord-1", EventType.JOINT_ORDER_ANSWERED, lines=[
            {"line_id": line.line_id, "status": "partial", "quantity": 60, "expected_delivery": "2026-12-10"}])

    by_document, by_json = await _twins(OPENTRANS_HOLZ, document_answer, json_answer)
    assert by_document.tables.orders["ord-1"].status is OrderStatus.ANSWERED
    _same_effect(by_document, by_json)


@pytest.mark.parametrize("supplier", [PEPPOL_HOLZ, OPENTRANS_HOLZ], ids=["peppol", "opentrans"])
async def test_a_despatch_document_has_the_effect_of_joint_order_dispatched(supplier):
    standards_kit()
    confirm = answer("ord-1", event_id="c-1", expected_delivery="2026-12-10")

    def document_dispatch(order):
        huber, berg = _ids(order)
        if supplier is PEPPOL_HOLZ:
            xml = peppol_despatch_advice("ord-1", "LS-1", [(huber, 60), (berg, 15)])
            return document(EventType.JOINT_ORDER_DISPATCHED, peppol.DESPATCH_ADVICE, xml, event_id="d-1")
        xml = opentrans_dispatchnotification("ord-1", "LS-1", [(huber, 60), (berg, 15)])
        return document(EventType.JOINT_ORDER_DISPATCHED, opentrans.DISPATCHNOTIFICATION, xml, event_id="d-1")

    def json_dispatch(order):
        huber, berg = _ids(order)
        carrier = "Spedition Nord" if supplier is PEPPOL_HOLZ else "DHL Freight"
        return answer("ord-1", EventType.JOINT_ORDER_DISPATCHED, event_id="d-1", dispatch_id="LS-1",
                      shipped_on="2026-12-02", expected_arrival="2026-12-04", carrier=carrier,
                      tracking_id="JJD000390007",
                      deliveries=[{"delivery_id": huber, "quantity": 60}, {"delivery_id": berg, "quantity": 15}])

    # The JSON supplier confirms in JSON, the XML one (which may send JSON too) the same way.
    by_document, by_json = await _twins(supplier, document_dispatch, json_dispatch, before=[confirm])
    assert not by_document.dead_letters and by_document.events(topics.MEMBER_NOTICES)
    _same_effect(by_document, by_json)


_VALID = [
    peppol_order_response("ord-1", "AP"),
    peppol_order_response("ord-1", "CA", [peppol_response_line("x", "3", 5)]),
    peppol_despatch_advice("ord-1", "LS-9", [("x", 1)]),
    opentrans_orderresponse("ord-1", [("x", 1)]),
    opentrans_dispatchnotification("ord-1", "LS-9", [("x", 1)]),
]


@st.composite
def _mangled(draw: st.DrawFn) -> str:
    """A supplier's document, cut and spliced with arbitrary text (entities and markup included)."""
    text = draw(st.sampled_from(_VALID))
    for _ in range(draw(st.integers(0, 3))):
        at, cut = draw(st.integers(0, len(text))), draw(st.integers(0, 40))
        junk = draw(st.text(max_size=30) | st.sampled_from(["&x;", "<!DOCTYPE r>", "<a>", "]]>", "\x00", "<?xml?>"]))
        text = text[:at] + junk + text[at + cut:]
    return text


_TYPES = st.sampled_from([EventType.JOINT_ORDER_CONFIRMED, EventType.JOINT_ORDER_REJECTED,
                          EventType.JOINT_ORDER_ANSWERED, EventType.JOINT_ORDER_DISPATCHED])
_SCHEMAS = st.sampled_from([peppol.ORDER_RESPONSE, peppol.DESPATCH_ADVICE, peppol.ORDER, opentrans.ORDERRESPONSE,
                            opentrans.DISPATCHNOTIFICATION])


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(_TYPES, _SCHEMAS, _mangled(), st.sampled_from([PEPPOL_HOLZ, OPENTRANS_HOLZ, HOLZ])),
                min_size=1, max_size=5))
def test_any_document_ends_exactly_once_and_nothing_escapes(batch) -> None:
    standards_kit()

    async def run() -> None:
        uow, _ = await placed(batch[0][3], WALD)  # the supplier's standard: the first record's
        records = [document(t, schema, xml, event_id=f"e-{n}", offset=n) for n, (t, schema, xml, _) in enumerate(batch)]
        await take(uow, answers, records)  # checks each record ends exactly once

    asyncio.run(run())
