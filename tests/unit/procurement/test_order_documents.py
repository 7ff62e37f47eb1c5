"""Orders to XML suppliers: the same signed record as a JSON supplier's, its data the order
document in the supplier's standard, valid against the official schema, with the JSON twin's
totals to the cent and the same delivery ids; who appears in it comes from procurement's tables."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from lxml import etree

from services.procurement.domain.catalog import Supplier
from services.procurement.domain.orders import Delivery, JointOrder, OrderLine, delivery_id
from services.procurement.service_layer.documents import DocumentSetting, contract_order, document_settings
from services.procurement.service_layer.order_records import CloseRecords, placed_messages
from shared.contract import CloudEvent, JointOrderPlaced, ShipTo
from shared.documents import opentrans, peppol
from shared.documents.parties import OrderParties
from shared.documents.schemas import Schema
from shared.documents.standards import Standard
from shared.events.members import MemberProfile
from shared.signing import SIGNATURE_HEADER, verify
from tests.support.documents import ALLIANCE, MEMBERS, SUPPLIER, peppol_order_violations, standards_kit
from tests.support.fake_procurement import FakeProcurementUnitOfWork

NEEDED = date(2026, 12, 15)
PRICE = Decimal("4.125")
UBL = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
       "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
OT = {"ot": "http://www.opentrans.org/XMLSchema/2.1", "bme": "http://www.bmecat.org/bmecat/2005"}


def order() -> JointOrder:
    """Sub-cent prices whose rounded line amounts do not add up to the order's total."""
    boards = OrderLine("ord-41-1", "BOARD-18MM", PRICE, (
        Delivery("m-huber", "r-1", 61, NEEDED, ShipTo(site="Werkstatt Nord", postal_code="80939", country="DE"),
                 PRICE, None),
        Delivery("m-kern", "r-7", 51, NEEDED, None, PRICE, None),
    ))
    screws = OrderLine("ord-41-2", "SCREW-4x40", Decimal("0.0333"), (
        Delivery("m-vogel", "r-2", 1_001, NEEDED, None, Decimal("0.0333"), None),
    ))
    return JointOrder("ord-41", "s-holz", "cycle-12", (boards, screws))


def setting(standard: Standard) -> DocumentSetting:
    return DocumentSetting(standard, OrderParties(ALLIANCE, SUPPLIER, MEMBERS))


def json_twin() -> JointOrderPlaced:
    [record, _] = placed_messages(order(), "holz-secret")
    return JointOrderPlaced.model_validate(json.loads(record.value)["data"])


@pytest.mark.parametrize("standard", [Standard.PEPPOL_BIS3, Standard.OPENTRANS_21])
def test_an_xml_suppliers_order_is_the_same_signed_record_carrying_its_document(standard):
    kit = standards_kit()
    [record, status] = placed_messages(order(), "holz-secret", setting(standard))
    event = CloudEvent.model_validate_json(record.value)
    assert (event.type, event.id, event.datacontenttype) == ("joint_order.placed", "ord-41.placed", "application/xml")
    assert verify(dict(record.headers)[SIGNATURE_HEADER], record.value, ["holz-secret"], now=event.time.timestamp()) is None
    assert record.topic == "supplier.orders.s-holz" and record.key == b"s-holz"
    assert json.loads(status.value)["type"] == "alliance.joint_order.placed"
    root = etree.fromstring(event.data.encode())
    twin = json_twin()
    ids = [delivery_id(line.line_id, d) for line, d in order().deliveries()]
    assert [d.delivery_id for line in twin.lines for d in line.deliveries] == ids
    if standard is Standard.PEPPOL_BIS3:
        assert event.dataschema == peppol.ORDER
        kit.validate(root, Schema.UBL_ORDER)
        assert peppol_order_violations(root) == []
        assert root.findtext("cac:AnticipatedMonetaryTotal/cbc:PayableAmount", namespaces=UBL) == str(twin.total)
        assert root.xpath("cac:OrderLine/cac:LineItem/cbc:ID/text()", namespaces=UBL) == ids
    else:
        assert event.dataschema == opentrans.ORDER
        kit.validate(root, Schema.OPENTRANS)
        assert root.findtext("ot:ORDER_SUMMARY/ot:TOTAL_AMOUNT", namespaces=OT) == str(twin.total)
        assert root.xpath("ot:ORDER_ITEM_LIST/ot:ORDER_ITEM/ot:LINE_ITEM_ID/text()", namespaces=OT) == ids
    assert str(twin.total) == "495.33"  # 112 x 4.125 + 1,001 x 0.0333; the lines' cents add up to 495.34


def test_the_order_a_document_is_rendered_from_is_its_json_twin():
    """Built unvalidated for speed, it must equal what the contract's model reads from the JSON."""
    assert contract_order(order()) == json_twin()
    assert contract_order(order()).model_dump(mode="json") == json_twin().model_dump(mode="json")


@pytest.mark.parametrize("standard", [Standard.PEPPOL_BIS3, Standard.OPENTRANS_21])
def test_a_close_writes_xml_suppliers_documents_line_by_line_and_json_for_the_others(standard):
    """The document a close writes as its lines come is the one of the order placed whole."""
    today = datetime.now(UTC).date()
    records = CloseRecords("cycle-12", {"s-holz": setting(standard)}, today)
    placed, other = order(), JointOrder("ord-42", "s-json", "cycle-12", order().lines[1:])
    for line in placed.lines:
        records.ordered("s-holz", "ord-41", line)
    records.ordered("s-json", "ord-42", other.lines[0])
    xml = CloudEvent.model_validate_json(records.order_messages(placed, "holz-secret")[0].value)
    plain = records.order_messages(other, "json-secret")[0]
    whole = CloudEvent.model_validate_json(placed_messages(placed, "holz-secret", setting(standard))[0].value)
    assert (xml.datacontenttype, xml.dataschema) == ("application/xml", whole.dataschema)
    assert xml.data == whole.data
    assert json.loads(plain.value)["datacontenttype"] == "application/json"


def _supplier(supplier_id: str, standard: Standard) -> Supplier:
    return Supplier(supplier_id, "Holz AG", ("AT", "DE"), 3, "secret", documents=standard,
                    peppol_id="0088:4012345000009", vat_id="ATU12345678")


async def test_the_parties_come_from_the_alliance_entry_the_members_profiles_and_the_supplier():
    uow = FakeProcurementUnitOfWork()
    suppliers = {"s-holz": _supplier("s-holz", Standard.OPENTRANS_21), "s-json": _supplier("s-json", Standard.CLOUDEVENTS)}
    orders = [order(), JointOrder("ord-42", "s-json", "cycle-12", order().lines)]
    async with uow:
        assert await document_settings(uow, orders, suppliers) == {}  # no alliance party: JSON, logged
        uow.parties.alliance_party = ALLIANCE
        await uow.parties.learn_members([MemberProfile(member_id="m-huber", name="Schreinerei Huber GmbH",
                                                       status="active", region="DE", peppol_id="0088:4000001000012")])
        settings = await document_settings(uow, orders, suppliers)
    assert list(settings) == ["s-holz"] and settings["s-holz"].standard is Standard.OPENTRANS_21
    parties = settings["s-holz"].parties
    assert parties.buyer is ALLIANCE
    assert (parties.seller.party_id, parties.seller.address.country, parties.seller.vat_id) == ("s-holz", "AT",
                                                                                                 "ATU12345678")
    assert parties.members["m-huber"].peppol_id == "0088:4000001000012"
    assert (parties.members["m-kern"].name, parties.members["m-kern"].address.country) == ("m-kern", "DE")


@pytest.mark.parametrize("standard", [Standard.CLOUDEVENTS, Standard.PEPPOL_BIS3])
def test_an_order_too_large_for_a_record_is_logged_naming_it(standard, monkeypatch, caplog):
    import services.procurement.service_layer.order_records as order_records

    monkeypatch.setattr(order_records, "MAX_MESSAGE_BYTES", 800)
    document = None if standard is Standard.CLOUDEVENTS else setting(standard)
    [record, _] = placed_messages(order(), "holz-secret", document)
    assert len(record.value) > 800
    [logged] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "order ord-41 for s-holz" in logged.getMessage() and standard.value in logged.getMessage()
