"""docs/suppliers.md stays true: its outbound examples are what the alliance renders for the order
it describes, and each inbound example reads as the JSON shown right after it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lxml import etree

from shared.contract import INBOUND_DATA, JointOrderPlaced
from shared.documents import opentrans, peppol
from shared.documents.schemas import SchemaKit
from shared.documents.standards import Standard, read_supplier_document
from tests.support.documents import ISSUED, PARTIES, SUPPLIER, standards_kit

DOC = Path(__file__).resolve().parents[3] / "docs" / "suppliers.md"
BLOCKS = re.findall(r"```(xml|json)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
ORDER = JointOrderPlaced.model_validate({
    "order_id": "ord-41", "supplier_id": "s-holz", "cycle_id": "cycle-12", "total": "462.00", "lines": [{
        "line_id": "ord-41-1", "sku": "BOARD-18MM", "quantity": 112, "unit_price": "4.125", "deliveries": [
            {"member_id": "m-huber", "ship_to": {"site": "Werkstatt Nord", "postal_code": "80939", "country": "DE"},
             "quantity": 61, "needed_by": "2026-12-15", "delivery_id": "ord-41-1-3f2a9c01b7de"},
            {"member_id": "m-kern", "ship_to": None, "quantity": 51, "needed_by": "2026-12-18",
             "delivery_id": "ord-41-1-91c4e2d05a13"},
        ]}],
})
"""The order the page's examples are about."""
INBOUND = {
    "OrderResponse": (Standard.PEPPOL_BIS3, "joint_order.answered", peppol.ORDER_RESPONSE),
    "DespatchAdvice": (Standard.PEPPOL_BIS3, "joint_order.dispatched", peppol.DESPATCH_ADVICE),
    "ORDERRESPONSE": (Standard.OPENTRANS_21, "joint_order.answered", opentrans.ORDERRESPONSE),
    "DISPATCHNOTIFICATION": (Standard.OPENTRANS_21, "joint_order.dispatched", opentrans.DISPATCHNOTIFICATION),
}


@pytest.fixture(scope="module")
def kit() -> SchemaKit:
    return standards_kit()


def canonical(xml: str | bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True)
    return etree.tostring(etree.fromstring(xml.encode() if isinstance(xml, str) else xml, parser), method="c14n")


def test_the_outbound_examples_are_what_the_alliance_renders() -> None:
    orders = {etree.QName(etree.fromstring(text.encode())).localname: text for kind, text in BLOCKS if kind == "xml"}
    assert canonical(orders["Order"]) == canonical(peppol.render_order(ORDER, PARTIES, ISSUED))
    assert canonical(orders["ORDER"]) == canonical(opentrans.render_order(ORDER, PARTIES, ISSUED))


def test_each_inbound_example_reads_as_the_json_after_it(kit: SchemaKit) -> None:
    checked = []
    for (kind, text), (next_kind, expected) in zip(BLOCKS, [*BLOCKS[1:], ("", "")], strict=True):
        root = etree.QName(etree.fromstring(text.encode())).localname if kind == "xml" else ""
        if root not in INBOUND:
            continue
        assert next_kind == "json", f"the {root} example is followed by the JSON it reads as"
        standard, event_type, dataschema = INBOUND[root]
        document = read_supplier_document(standard, event_type, dataschema, text, kit)
        mapped_type, data = (
            document.contract_data(ORDER, SUPPLIER) if event_type == "joint_order.answered"
            else document.contract_data(SUPPLIER)
        )
        shown = json.loads(expected)
        assert shown["type"] == mapped_type
        assert INBOUND_DATA[mapped_type].model_validate(data) == INBOUND_DATA[mapped_type].model_validate(shown["data"])
        checked.append(root)
    assert sorted(checked) == sorted(INBOUND)
