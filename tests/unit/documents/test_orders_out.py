"""Every joint order the alliance renders for an XML supplier is valid against the official schema
(UBL 2.1 Order, openTRANS 2.1), satisfies PEPPOL's Order rules (PEPPOL BIS 3), and says what the
JSON order says: the same lines, quantities, unit prices, requested dates and total to the cent."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

from shared.contract import JointOrderPlaced, ShipTo, to_cents
from shared.documents import opentrans, peppol
from shared.documents.parties import Address, OrderParties
from shared.documents.schemas import Schema, SchemaKit
from shared.documents.standards import Standard, render_joint_order
from tests.support.documents import ISSUED, PARTIES, joint_orders, order_of, peppol_order_violations, standards_kit

UBL = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
       "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
OT = {"ot": opentrans.NAMESPACE, "bme": opentrans.BMECAT}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def kit() -> SchemaKit:
    return standards_kit()


def deliveries(order: JointOrderPlaced) -> dict[str, tuple[str, int, Decimal, str]]:
    """delivery_id -> (line_id, quantity, unit price, needed_by) as the JSON order states them."""
    return {
        d.delivery_id: (line.line_id, d.quantity, line.unit_price, d.needed_by.isoformat())
        for line in order.lines for d in line.deliveries
    }


@SETTINGS
@given(order=joint_orders())
def test_every_peppol_order_is_valid_ubl_and_keeps_peppols_rules(kit: SchemaKit, order: JointOrderPlaced) -> None:
    root = etree.fromstring(peppol.render_order(order, PARTIES, ISSUED))
    kit.validate(root, Schema.UBL_ORDER)
    assert peppol_order_violations(root) == []
    written = {
        item.findtext("cbc:ID", namespaces=UBL): (
            item.findtext("cbc:AccountingCost", namespaces=UBL),
            int(item.findtext("cbc:Quantity", namespaces=UBL)),
            Decimal(item.findtext("cac:Price/cbc:PriceAmount", namespaces=UBL)),
            item.findtext("cac:Delivery/cac:RequestedDeliveryPeriod/cbc:EndDate", namespaces=UBL),
        )
        for item in root.iterfind("cac:OrderLine/cac:LineItem", UBL)
    }
    assert written == deliveries(order)
    payable = root.findtext("cac:AnticipatedMonetaryTotal/cbc:PayableAmount", namespaces=UBL)
    assert payable == str(to_cents(order.total))
    for item in root.iterfind("cac:OrderLine/cac:LineItem", UBL):
        amount = Decimal(item.findtext("cbc:LineExtensionAmount", namespaces=UBL))
        _, quantity, price, _ = written[item.findtext("cbc:ID", namespaces=UBL)]
        assert amount == to_cents(quantity * price)


@SETTINGS
@given(order=joint_orders())
def test_every_opentrans_order_is_valid_opentrans(kit: SchemaKit, order: JointOrderPlaced) -> None:
    root = etree.fromstring(opentrans.render_order(order, PARTIES, ISSUED))
    kit.validate(root, Schema.OPENTRANS)
    written = {
        item.findtext("ot:LINE_ITEM_ID", namespaces=OT): (
            item.findtext("ot:CUSTOMER_ORDER_REFERENCE/ot:LINE_ITEM_ID", namespaces=OT),
            int(item.findtext("ot:QUANTITY", namespaces=OT)),
            Decimal(item.findtext("ot:PRODUCT_PRICE_FIX/bme:PRICE_AMOUNT", namespaces=OT)),
            item.findtext("ot:DELIVERY_DATE/ot:DELIVERY_END_DATE", namespaces=OT),
        )
        for item in root.iterfind("ot:ORDER_ITEM_LIST/ot:ORDER_ITEM", OT)
    }
    assert written == deliveries(order)
    assert root.findtext("ot:ORDER_SUMMARY/ot:TOTAL_AMOUNT", namespaces=OT) == str(to_cents(order.total))
    delivery_parties = {
        party.findtext("bme:PARTY_ID[@type='buyer_specific']", namespaces=OT)
        for party in root.iterfind("ot:ORDER_HEADER/ot:ORDER_INFO/ot:PARTIES/ot:PARTY", OT)
        if party.findtext("ot:PARTY_ROLE", namespaces=OT) == "delivery"
    }
    assert delivery_parties == set(deliveries(order)), "each delivery is its own delivery party"


def test_sub_cent_prices_round_per_line_and_the_difference_is_stated() -> None:
    order = order_of(("1", [1, 1, 1]), price="0.005")  # three lines of 0.005 → 0.01 each; the order: 0.015 → 0.02
    root = etree.fromstring(peppol.render_order(order, PARTIES, ISSUED))
    totals = root.find("cac:AnticipatedMonetaryTotal", UBL)
    assert totals.findtext("cbc:LineExtensionAmount", namespaces=UBL) == "0.03"
    assert totals.findtext("cbc:PayableRoundingAmount", namespaces=UBL) == "-0.01"
    assert totals.findtext("cbc:PayableAmount", namespaces=UBL) == "0.02" == str(order.total.quantize(Decimal("0.01")))
    assert peppol_order_violations(root) == []


def test_a_single_place_is_the_orders_delivery_and_every_line_says_where_it_goes(kit: SchemaKit) -> None:
    order = order_of(("1", [5]))
    root = etree.fromstring(peppol.render_order(order, PARTIES, ISSUED))
    kit.validate(root, Schema.UBL_ORDER)
    assert root.findtext("cac:Delivery/cac:DeliveryParty/cac:PartyName/cbc:Name", namespaces=UBL) == (
        "Schreinerei Huber GmbH"
    )
    assert root.findtext("cac:OrderLine/cbc:Note", namespaces=UBL) == "Deliver to Schreinerei Huber GmbH (m-huber): DE"
    several = order_of(("1", [5, 6]), ("2", [7]))
    root = etree.fromstring(peppol.render_order(several, PARTIES, ISSUED))
    assert root.find("cac:Delivery", UBL) is None
    notes = [note.text for note in root.iterfind("cac:OrderLine/cbc:Note", UBL)]
    assert Counter(notes)["Deliver to Schreinerei Huber GmbH (m-huber): DE"] == 2


def test_a_ship_to_is_the_delivery_address_and_the_alliance_receives_its_own_deliveries(kit: SchemaKit) -> None:
    order = order_of(("1", [5]))
    line = order.lines[0]
    warehouse = ShipTo(site="Zentrallager Nord", postal_code="30159", country="DE")
    delivery = line.deliveries[0].model_copy(update={"member_id": "alliance", "ship_to": warehouse})
    order = order.model_copy(update={"lines": [line.model_copy(update={"deliveries": [delivery]})]})
    for standard in (Standard.PEPPOL_BIS3, Standard.OPENTRANS_21):
        _, xml = render_joint_order(standard, order, PARTIES, ISSUED)
        root = etree.fromstring(xml)
        kit.validate(root, Schema.UBL_ORDER if standard is Standard.PEPPOL_BIS3 else Schema.OPENTRANS)
        assert b"Zentrallager Nord" in xml and b"30159" in xml and b"Einkaufsverbund Nord eG" in xml
    root = etree.fromstring(peppol.render_order(order, PARTIES, ISSUED))
    assert root.findtext("cac:Delivery/cac:DeliveryLocation/cac:Address/cbc:StreetName", namespaces=UBL) == (
        "Zentrallager Nord"
    )


def test_control_characters_in_a_members_text_cannot_break_the_document(kit: SchemaKit) -> None:
    order = order_of(("1", [5]))
    line = order.lines[0]
    odd = ShipTo(site="Halle 3\x00\x1b & <Rampe>", postal_code="10115", country="DE")
    delivery = line.deliveries[0].model_copy(update={"ship_to": odd})
    order = order.model_copy(update={"lines": [line.model_copy(update={"deliveries": [delivery]})]})
    for render, schema in ((peppol.render_order, Schema.UBL_ORDER), (opentrans.render_order, Schema.OPENTRANS)):
        root = etree.fromstring(render(order, PARTIES, ISSUED))
        kit.validate(root, schema)
        assert "Halle 3\ufffd\ufffd & <Rampe>" in etree.tostring(root, encoding="unicode", method="text")


def test_xml_suppliers_need_the_parties_ids() -> None:
    order = order_of(("1", [5]))
    anonymous = OrderParties(PARTIES.buyer, PARTIES.seller.__class__("s-x", "X", Address("DE")), PARTIES.members)
    with pytest.raises(ValueError, match="needs a peppol_id and a vat_id"):
        peppol.render_order(order, anonymous, ISSUED)
    with pytest.raises(ValueError, match="get JSON"):
        render_joint_order(Standard.CLOUDEVENTS, order, PARTIES, ISSUED)
    assert render_joint_order(Standard.OPENTRANS_21, order, PARTIES, ISSUED)[0] == opentrans.ORDER
    assert render_joint_order(Standard.PEPPOL_BIS3, order, PARTIES, ISSUED)[0] == peppol.ORDER


def test_the_rule_checker_catches_what_peppol_refuses() -> None:
    root = etree.fromstring(peppol.render_order(order_of(("1", [3, 4])), PARTIES, ISSUED))
    item = root.find("cac:OrderLine/cac:LineItem", UBL)
    item.find("cbc:LineExtensionAmount", UBL).text = "1.234"
    delivery = item.find("cac:Delivery", UBL)
    etree.SubElement(delivery, f"{{{UBL['cac']}}}DeliveryLocation").text = "x"
    root.find("cac:AnticipatedMonetaryTotal/cbc:PayableAmount", UBL).text = "1.00"
    root.find("cac:BuyerCustomerParty/cac:Party/cbc:EndpointID", UBL).set("schemeID", "XX")
    rules = {violation.split()[0] for violation in peppol_order_violations(root)}
    assert {"PEPPOL-T01-R024", "PEPPOL-T01-R028", "PEPPOL-T01-R008", "PEPPOL-T01-R016",
            "PEPPOL-T01-B*(data", "PEPPOL-T01-B03402/B06902"} <= rules


def test_a_large_order_is_valid_and_keeps_the_rules_too(kit: SchemaKit) -> None:
    """50 lines of 40 deliveries each, every delivery an odd quantity at a sub-cent price."""
    lines = []
    for number in range(1, 51):
        deliveries = [
            {"member_id": member, "ship_to": None, "quantity": 7 + 13 * index, "needed_by": "2026-12-24",
             "delivery_id": f"ord-9-{number}-{index:012x}"}
            for index, member in zip(range(40), ["m-huber", "m-vogel", "m-kern", "alliance"] * 10, strict=True)
        ]
        lines.append({"line_id": f"ord-9-{number}", "sku": f"SKU-{number}", "unit_price": f"{number}.0{number % 10}5",
                      "quantity": sum(d["quantity"] for d in deliveries), "deliveries": deliveries})
    total = sum((Decimal(line["unit_price"]) * line["quantity"] for line in lines), Decimal(0))
    order = JointOrderPlaced.model_validate({"order_id": "ord-9", "supplier_id": "s-holz",
                                             "cycle_id": "cycle-9", "total": str(to_cents(total)), "lines": lines})
    root = etree.fromstring(peppol.render_order(order, PARTIES, ISSUED))
    kit.validate(root, Schema.UBL_ORDER)
    assert peppol_order_violations(root) == []
    assert len(root.findall("cac:OrderLine", UBL)) == 2000
    kit.validate(etree.fromstring(opentrans.render_order(order, PARTIES, ISSUED)), Schema.OPENTRANS)
