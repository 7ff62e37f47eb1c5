"""Suppliers' answers and despatch advices in their own standard become the contract's data: an
Order Response or ORDERRESPONSE written the way a supplier writes one, for an order the alliance
rendered, reads as the JSON answer (its twin) would, and the procurement's own check of an answer
gives the document and its twin the same result, refusals and their reasons included."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.procurement.domain import orders as domain
from services.procurement.domain.answers import read_answer
from services.procurement.domain.catalog import Supplier
from services.procurement.domain.responses import authenticate_response
from shared.contract import (
    INBOUND_DATA,
    EventType,
    JointOrderAnswered,
    JointOrderConfirmed,
    JointOrderDispatched,
    JointOrderPlaced,
    JointOrderRejected,
)
from shared.documents import opentrans, peppol
from shared.documents.answers import DEFAULT_REJECTION
from shared.documents.safe_xml import InvalidDocument
from shared.documents.schemas import SchemaKit
from shared.documents.standards import Standard, read_supplier_document
from shared.reasons import DeadLetterReason, QuarantineReason
from shared.signing import sign
from tests.support.documents import (
    SUPPLIER,
    opentrans_orderresponse,
    order_of,
    peppol_despatch_advice,
    peppol_order_response,
    peppol_response_line,
    standards_kit,
)

ORDER = order_of(("1", [3, 4]), ("2", [5]))
"""ord-7: line ord-7-1 with deliveries ord-7-1-d1 (3) and ord-7-1-d2 (4); line ord-7-2 with ord-7-2-d1 (5)."""


@pytest.fixture(scope="module")
def kit() -> SchemaKit:
    return standards_kit()


def mapped(event_type: EventType, data: dict[str, Any]) -> Any:
    """The data validated as the intake validates a JSON event of that type."""
    return INBOUND_DATA[event_type].model_validate(data)


def peppol_answer(kit: SchemaKit, xml: str, order: JointOrderPlaced = ORDER) -> Any:
    document = read_supplier_document(Standard.PEPPOL_BIS3, "joint_order.answered", peppol.ORDER_RESPONSE, xml, kit)
    return mapped(*document.contract_data(order, SUPPLIER))


def as_domain(order: JointOrderPlaced) -> domain.JointOrder:
    lines = tuple(
        domain.OrderLine(line.line_id, line.sku, line.unit_price, tuple(
            domain.Delivery(d.member_id, f"r-{d.delivery_id}", d.quantity, d.needed_by, d.ship_to, line.unit_price, None)
            for d in line.deliveries
        ))
        for line in order.lines
    )
    return domain.JointOrder(order.order_id, order.supplier_id, order.cycle_id, lines)


def test_accepted_is_confirmed(kit: SchemaKit) -> None:
    xml = peppol_order_response("ord-7", "AP", promised="2026-12-10")
    assert peppol_answer(kit, xml) == JointOrderConfirmed(
        order_id="ord-7", supplier_id="s-holz", expected_delivery=date(2026, 12, 10)
    )


def test_rejected_is_rejected_with_the_suppliers_note_or_a_default(kit: SchemaKit) -> None:
    assert peppol_answer(kit, peppol_order_response("ord-7", "RE", note="Werk steht still")) == JointOrderRejected(
        order_id="ord-7", supplier_id="s-holz", reason="Werk steht still"
    )
    assert peppol_answer(kit, peppol_order_response("ord-7", "RE")).reason == DEFAULT_REJECTION


def test_conditionally_accepted_answers_each_line_from_its_deliveries(kit: SchemaKit) -> None:
    xml = peppol_order_response("ord-7", "CA", [
        peppol_response_line("ord-7-1-d1", "5", promised="2026-12-12"),
        peppol_response_line("ord-7-1-d2", "3", 2, promised="2026-12-15", note="only 2 in stock"),
        peppol_response_line("ord-7-2-d1", "7", note="discontinued"),
    ])
    answer = peppol_answer(kit, xml)
    twin = JointOrderAnswered.model_validate({"order_id": "ord-7", "supplier_id": "s-holz", "lines": [
        {"line_id": "ord-7-1", "status": "partial", "quantity": 5, "expected_delivery": "2026-12-15",
         "reason": "only 2 in stock"},
        {"line_id": "ord-7-2", "status": "rejected", "reason": "discontinued"},
    ]})
    assert answer == twin
    assert read_answer(as_domain(ORDER), answer) == read_answer(as_domain(ORDER), twin)


def test_a_changed_date_alone_accepts_the_line_with_that_date(kit: SchemaKit) -> None:
    xml = peppol_order_response("ord-7", "CA", [
        peppol_response_line("ord-7-1-d1", "3", promised="2026-12-18"),
        peppol_response_line("ord-7-1-d2", "5"),
        peppol_response_line("ord-7-2-d1", "3", 5),
    ], promised="2026-12-11")
    assert peppol_answer(kit, xml).lines == JointOrderAnswered.model_validate({
        "order_id": "ord-7", "supplier_id": "s-holz", "lines": [
            {"line_id": "ord-7-1", "status": "accepted", "expected_delivery": "2026-12-18"},
            {"line_id": "ord-7-2", "status": "accepted", "expected_delivery": "2026-12-11"},
        ]}).lines


@pytest.mark.parametrize(("lines", "reason"), [
    pytest.param([("ord-7-1-d1", "5"), ("ord-7-2-d1", "5")], DeadLetterReason.MISSING_LINE, id="a delivery unanswered"),
    pytest.param([("ord-7-1-d1", "5"), ("ord-7-1-d2", "5"), ("ord-7-1-d2", "7"), ("ord-7-2-d1", "5")],
                 DeadLetterReason.REPEATED_LINE, id="a delivery answered twice"),
    pytest.param([("ord-7-1-d1", "5"), ("ord-7-1-d2", "5"), ("ord-7-2-d1", "5"), ("ord-9-1-d1", "5")],
                 DeadLetterReason.UNKNOWN_LINE, id="a delivery of another order"),
])
def test_answers_that_do_not_fit_the_order_are_refused_with_the_json_reasons(
    kit: SchemaKit, lines: list[tuple[str, str]], reason: DeadLetterReason
) -> None:
    xml = peppol_order_response("ord-7", "CA", [peppol_response_line(d, status) for d, status in lines])
    refusal = read_answer(as_domain(ORDER), peppol_answer(kit, xml))
    assert getattr(refusal, "reason", None) is reason


def test_more_than_ordered_of_a_delivery_is_an_invalid_document(kit: SchemaKit) -> None:
    xml = peppol_order_response("ord-7", "CA", [
        peppol_response_line("ord-7-1-d1", "3", 4), peppol_response_line("ord-7-1-d2", "7"),
        peppol_response_line("ord-7-2-d1", "5"),
    ])
    with pytest.raises(InvalidDocument, match="confirms 4, more than the 3 ordered"):
        peppol_answer(kit, xml)


def test_another_suppliers_document_is_quarantined_as_naming_another_supplier(kit: SchemaKit) -> None:
    stranger = """<cac:Party><cbc:EndpointID schemeID="0088">4000001000012</cbc:EndpointID>
      <cac:PartyLegalEntity><cbc:RegistrationName>Andere GmbH</cbc:RegistrationName></cac:PartyLegalEntity></cac:Party>"""
    document = read_supplier_document(
        Standard.PEPPOL_BIS3, "joint_order.confirmed", peppol.ORDER_RESPONSE,
        peppol_order_response("ord-7", "AP", seller=stranger), kit,
    )
    _, data = document.contract_data(ORDER, SUPPLIER)
    assert data["supplier_id"] == "0088:4000001000012"
    now = datetime.now(UTC)
    body = b'{"the record value": "signed by s-holz"}'
    signer = Supplier(supplier_id="s-holz", name="Holz AG", secret="holz-secret", regions=("DE",), lead_time_days=3)
    header = sign("holz-secret", body, now.timestamp()).encode()
    assert authenticate_response("s-holz", data, header, body, signer, now) is QuarantineReason.KEY_NOT_SUPPLIER


def test_peppol_codes_without_an_answer_are_refused(kit: SchemaKit) -> None:
    with pytest.raises(InvalidDocument, match="AB only acknowledges"):
        peppol_answer(kit, peppol_order_response("ord-7", "AB"))
    with pytest.raises(InvalidDocument, match="PEPPOL-T76-R007"):
        peppol_answer(kit, peppol_order_response("ord-7", "CA"))
    with pytest.raises(InvalidDocument, match="PEPPOL-T76-R008/R009"):
        peppol_answer(kit, peppol_order_response("ord-7", "AP", [peppol_response_line("ord-7-1-d1", "5")]))


def test_a_despatch_advice_is_a_dispatch_of_its_deliveries(kit: SchemaKit) -> None:
    xml = peppol_despatch_advice("ord-7", "desp-1", [("ord-7-1-d1", 3), ("ord-7-2-d1", 2), ("ord-7-2-d1", 1)])
    document = read_supplier_document(Standard.PEPPOL_BIS3, "joint_order.dispatched", peppol.DESPATCH_ADVICE, xml, kit)
    assert mapped(*document.contract_data(SUPPLIER)) == JointOrderDispatched.model_validate({
        "order_id": "ord-7", "supplier_id": "s-holz", "dispatch_id": "desp-1", "shipped_on": "2026-12-02",
        "expected_arrival": "2026-12-04", "carrier": "Spedition Nord", "tracking_id": "JJD000390007",
        "deliveries": [{"delivery_id": "ord-7-1-d1", "quantity": 3}, {"delivery_id": "ord-7-2-d1", "quantity": 3}],
    })


def test_a_despatch_advice_without_an_arrival_date_is_expected_the_day_it_ships(kit: SchemaKit) -> None:
    xml = peppol_despatch_advice("ord-7", "desp-2", [("ord-7-1-d1", 3)], arrival=None)
    document = read_supplier_document(Standard.PEPPOL_BIS3, "joint_order.dispatched", peppol.DESPATCH_ADVICE, xml, kit)
    assert mapped(*document.contract_data(SUPPLIER)).expected_arrival == date(2026, 12, 2)


def test_the_record_must_name_the_standards_document(kit: SchemaKit) -> None:
    answer = peppol_order_response("ord-7", "AP")
    with pytest.raises(InvalidDocument, match="dataschema"):
        read_supplier_document(Standard.PEPPOL_BIS3, "joint_order.confirmed", peppol.DESPATCH_ADVICE, answer, kit)
    with pytest.raises(InvalidDocument, match="dataschema"):
        read_supplier_document(Standard.OPENTRANS_21, "joint_order.confirmed", peppol.ORDER_RESPONSE, answer, kit)
    with pytest.raises(InvalidDocument, match="carries no peppol-bis3 document"):
        read_supplier_document(Standard.PEPPOL_BIS3, "risk_alert.raised", peppol.ORDER_RESPONSE, answer, kit)
    with pytest.raises(InvalidDocument, match="expected a UBL DespatchAdvice"):
        read_supplier_document(Standard.PEPPOL_BIS3, "joint_order.dispatched", peppol.DESPATCH_ADVICE, answer, kit)


def test_an_opentrans_orderresponse_confirms_each_item(kit: SchemaKit) -> None:
    order = order_of(("1", [3, 4]), ("2", [5]))
    items = "".join(f"""
    <ORDERRESPONSE_ITEM><LINE_ITEM_ID>{delivery_id}</LINE_ITEM_ID>
      <PRODUCT_ID><bme:SUPPLIER_PID>BOARD-18MM</bme:SUPPLIER_PID></PRODUCT_ID>
      <QUANTITY>{quantity}</QUANTITY><bme:ORDER_UNIT>C62</bme:ORDER_UNIT>{remark}
    </ORDERRESPONSE_ITEM>""" for delivery_id, quantity, remark in (
        ("ord-7-1-d1", "3.0", ""), ("ord-7-1-d2", "0", '<REMARKS type="orderresponse">ausverkauft</REMARKS>'),
        ("ord-7-2-d1", "5", ""),
    ))
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<ORDERRESPONSE xmlns="http://www.opentrans.org/XMLSchema/2.1" xmlns:bme="http://www.bmecat.org/bmecat/2005" version="2.1">
  <ORDERRESPONSE_HEADER><ORDERRESPONSE_INFO>
    <ORDER_ID>ord-7</ORDER_ID><ORDERRESPONSE_DATE>2026-11-22T08:00:00</ORDERRESPONSE_DATE>
    <DELIVERY_DATE><DELIVERY_START_DATE>2026-12-09</DELIVERY_START_DATE><DELIVERY_END_DATE>2026-12-10</DELIVERY_END_DATE></DELIVERY_DATE>
    <PARTIES><PARTY><bme:PARTY_ID type="gln">4012345000009</bme:PARTY_ID><PARTY_ROLE>supplier</PARTY_ROLE></PARTY></PARTIES>
    <ORDER_PARTIES_REFERENCE><bme:BUYER_IDREF type="buyer_specific">alliance</bme:BUYER_IDREF>
      <bme:SUPPLIER_IDREF type="gln">4012345000009</bme:SUPPLIER_IDREF></ORDER_PARTIES_REFERENCE>
  </ORDERRESPONSE_INFO></ORDERRESPONSE_HEADER>
  <ORDERRESPONSE_ITEM_LIST>{items}</ORDERRESPONSE_ITEM_LIST>
  <ORDERRESPONSE_SUMMARY><TOTAL_ITEM_NUM>3</TOTAL_ITEM_NUM></ORDERRESPONSE_SUMMARY>
</ORDERRESPONSE>"""
    document = read_supplier_document(Standard.OPENTRANS_21, "joint_order.answered", opentrans.ORDERRESPONSE, xml, kit)
    assert mapped(*document.contract_data(order, SUPPLIER)) == JointOrderAnswered.model_validate({
        "order_id": "ord-7", "supplier_id": "s-holz", "lines": [
            {"line_id": "ord-7-1", "status": "partial", "quantity": 3, "expected_delivery": "2026-12-10",
             "reason": "ausverkauft"},
            {"line_id": "ord-7-2", "status": "accepted", "expected_delivery": "2026-12-10"},
        ]})


def test_a_document_line_naming_an_order_line_answers_all_its_deliveries(kit: SchemaKit) -> None:
    xml = peppol_order_response("ord-7", "CA", [
        peppol_response_line("ord-7-1", "3", 6, promised="2026-12-12"), peppol_response_line("ord-7-2-d1", "5"),
    ])
    twin = JointOrderAnswered.model_validate({"order_id": "ord-7", "supplier_id": "s-holz", "lines": [
        {"line_id": "ord-7-1", "status": "partial", "quantity": 6, "expected_delivery": "2026-12-12"},
        {"line_id": "ord-7-2", "status": "accepted"},
    ]})
    assert peppol_answer(kit, xml) == twin
    both = peppol_order_response("ord-7", "CA", [
        peppol_response_line("ord-7-1", "5"), peppol_response_line("ord-7-1-d1", "5"),
        peppol_response_line("ord-7-1-d2", "5"), peppol_response_line("ord-7-2-d1", "5"),
    ])
    refusal = read_answer(as_domain(ORDER), peppol_answer(kit, both))
    assert getattr(refusal, "reason", None) is DeadLetterReason.REPEATED_LINE


def test_an_opentrans_document_of_another_supplier_names_that_supplier(kit: SchemaKit) -> None:
    xml = opentrans_orderresponse("ord-7", [("ord-7-2-d1", 5)]).replace(
        '<bme:SUPPLIER_IDREF type="buyer_specific">s-holz</bme:SUPPLIER_IDREF>',
        '<bme:SUPPLIER_IDREF type="gln">4000001000012</bme:SUPPLIER_IDREF>',
    )
    document = read_supplier_document(Standard.OPENTRANS_21, "joint_order.answered", opentrans.ORDERRESPONSE, xml, kit)
    assert document.contract_data(ORDER, SUPPLIER)[1]["supplier_id"] == "0088:4000001000012"
    by_gln = xml.replace("4000001000012", "4012345000009")
    document = read_supplier_document(Standard.OPENTRANS_21, "joint_order.answered", opentrans.ORDERRESPONSE, by_gln, kit)
    assert document.contract_data(ORDER, SUPPLIER)[1]["supplier_id"] == "s-holz"


def test_quantities_in_another_unit_than_ordered_are_refused_not_read_as_pieces(kit: SchemaKit) -> None:
    in_kilograms = peppol_despatch_advice("ord-7", "desp-3", [("ord-7-1-d1", 3)]).replace('unitCode="C62"', 'unitCode="KGM"')
    with pytest.raises(InvalidDocument, match="line ord-7-1-d1: quantity in 'KGM'"):
        read_supplier_document(Standard.PEPPOL_BIS3, "joint_order.dispatched", peppol.DESPATCH_ADVICE, in_kilograms, kit)
    changed = peppol_response_line("ord-7-1-d1", "3", quantity=2).replace('unitCode="C62"', 'unitCode="BX"')
    with pytest.raises(InvalidDocument, match="quantity in 'BX'"):
        peppol_answer(kit, peppol_order_response("ord-7", "CA", [changed]))
    in_boxes = opentrans_orderresponse("ord-7", [("ord-7-1-d1", 3)]).replace(">C62<", ">BX<")
    with pytest.raises(InvalidDocument, match="item ord-7-1-d1: quantity in 'BX'"):
        read_supplier_document(Standard.OPENTRANS_21, "joint_order.answered", opentrans.ORDERRESPONSE, in_boxes, kit)
    # the kit the service reads with refuses it at validation already, naming the unit
    with pytest.raises(InvalidDocument, match="ORDER_UNIT.*'BX' is not an element of the set"):
        read_supplier_document(Standard.OPENTRANS_21, "joint_order.answered", opentrans.ORDERRESPONSE, in_boxes,
                               SchemaKit.for_reading(kit.directory))
