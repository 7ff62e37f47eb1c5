"""Round trips over random joint orders: the alliance renders the order, a supplier answers and
ships it per document line as its standard has it, and the alliance reads back exactly the
contract data the supplier's decisions mean: per order line, the sum of what it confirmed of the
line's deliveries; per dispatch, what it shipped of each delivery."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from shared.contract import INBOUND_DATA, JointOrderAnswered, JointOrderDispatched, JointOrderPlaced
from shared.documents import opentrans, peppol
from shared.documents.schemas import SchemaKit
from shared.documents.standards import Standard, read_supplier_document, render_joint_order
from tests.support.documents import (
    ISSUED,
    PARTIES,
    SUPPLIER,
    joint_orders,
    opentrans_dispatchnotification,
    opentrans_orderresponse,
    peppol_despatch_advice,
    peppol_order_response,
    peppol_response_line,
    standards_kit,
)

UBL = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
       "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
OT = {"ot": opentrans.NAMESPACE}


@pytest.fixture(scope="module")
def kit() -> SchemaKit:
    return standards_kit()


def document_lines(standard: Standard, xml: bytes) -> list[tuple[str, int]]:
    """(document line id, quantity) of each line of the order document, read from the document."""
    root = etree.fromstring(xml)
    if standard is Standard.PEPPOL_BIS3:
        return [(item.findtext("cbc:ID", namespaces=UBL), int(item.findtext("cbc:Quantity", namespaces=UBL)))
                for item in root.iterfind("cac:OrderLine/cac:LineItem", UBL)]
    return [(item.findtext("ot:LINE_ITEM_ID", namespaces=OT), int(item.findtext("ot:QUANTITY", namespaces=OT)))
            for item in root.iterfind("ot:ORDER_ITEM_LIST/ot:ORDER_ITEM", OT)]


def expected_answer(order: JointOrderPlaced, confirmed: dict[str, int], date: str) -> JointOrderAnswered:
    lines: list[dict[str, Any]] = []
    for line in order.lines:
        total = sum(confirmed[d.delivery_id] for d in line.deliveries)
        if total == line.quantity:
            lines.append({"line_id": line.line_id, "status": "accepted", "expected_delivery": date})
        elif total == 0:
            lines.append({"line_id": line.line_id, "status": "rejected"})
        else:
            lines.append({"line_id": line.line_id, "status": "partial", "quantity": total, "expected_delivery": date})
    return JointOrderAnswered.model_validate({"order_id": order.order_id, "supplier_id": "s-holz", "lines": lines})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=joint_orders(max_lines=5, max_deliveries=5), standard=st.sampled_from(list(Standard)[1:]), data=st.data())
def test_an_answer_and_a_dispatch_read_back_as_the_suppliers_decisions(
    kit: SchemaKit, order: JointOrderPlaced, standard: Standard, data: st.DataObject
) -> None:
    _, xml = render_joint_order(standard, order, PARTIES, ISSUED)
    lines = document_lines(standard, xml)
    confirmed = {line_id: data.draw(st.integers(min_value=0, max_value=quantity)) for line_id, quantity in lines}
    if standard is Standard.PEPPOL_BIS3:
        answer_schema, dispatch_schema = peppol.ORDER_RESPONSE, peppol.DESPATCH_ADVICE
        answer_xml = peppol_order_response(order.order_id, "CA", [
            peppol_response_line(line_id, "5") if confirmed[line_id] == quantity
            else peppol_response_line(line_id, "7") if confirmed[line_id] == 0
            else peppol_response_line(line_id, "3", confirmed[line_id])
            for line_id, quantity in lines
        ], promised="2026-12-10")
        shipped = [(line_id, q) for line_id, q in confirmed.items() if q]
        dispatch_xml = peppol_despatch_advice(order.order_id, "d-1", shipped)
    else:
        answer_schema, dispatch_schema = opentrans.ORDERRESPONSE, opentrans.DISPATCHNOTIFICATION
        answer_xml = opentrans_orderresponse(order.order_id, confirmed.items())
        shipped = [(line_id, q) for line_id, q in confirmed.items() if q]
        dispatch_xml = opentrans_dispatchnotification(order.order_id, "d-1", shipped)

    answer = read_supplier_document(standard, "joint_order.answered", answer_schema, answer_xml, kit)
    event_type, answered = answer.contract_data(order, SUPPLIER)
    assert INBOUND_DATA[event_type].model_validate(answered) == expected_answer(order, confirmed, "2026-12-10")

    if shipped:
        dispatch = read_supplier_document(standard, "joint_order.dispatched", dispatch_schema, dispatch_xml, kit)
        event_type, dispatched = dispatch.contract_data(SUPPLIER)
        model = INBOUND_DATA[event_type].model_validate(dispatched)
        assert isinstance(model, JointOrderDispatched)
        assert (model.order_id, model.supplier_id, model.dispatch_id) == (order.order_id, "s-holz", "d-1")
        assert {d.delivery_id: d.quantity for d in model.deliveries} == dict(shipped)
        assert (str(model.expected_arrival), model.tracking_id) == ("2026-12-04", "JJD000390007")
        assert model.carrier == ("Spedition Nord" if standard is Standard.PEPPOL_BIS3 else "DHL Freight")
