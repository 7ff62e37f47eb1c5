"""The openTRANS 2.1 samples of the standards kit, adapted only in their ids and references (the
order, its items, the supplier), are accepted and read as the expected contract data."""

from __future__ import annotations

import pytest
from lxml import etree

from shared.contract import INBOUND_DATA, JointOrderAnswered, JointOrderDispatched
from shared.documents import opentrans
from shared.documents.schemas import SchemaKit
from shared.documents.standards import Standard, read_supplier_document
from tests.support.documents import ISSUED, PARTIES, STANDARDS, SUPPLIER, order_of, standards_kit

ORDER = order_of(("1", [1, 2, 3]))
"""ord-7: one line, deliveries ord-7-1-d1..d3 of 1, 2 and 3 units, as the samples' items."""
OT = {"ot": opentrans.NAMESPACE}
SAMPLES = STANDARDS / "opentrans-2.1" / "examples"


@pytest.fixture(scope="module", params=["official", "for reading"])
def kit(request: pytest.FixtureRequest) -> SchemaKit:
    """The samples pass the official schema and the one the service reads with alike."""
    official = standards_kit()
    return official if request.param == "official" else SchemaKit.for_reading(official.directory)


def adapted(path: str) -> str:
    """The sample with the alliance's ids: order id, the items it refers to, the supplier."""
    text = (SAMPLES / path).read_text(encoding="utf-8")
    for sample_id, ours in (
        ("GWAHJV-160131-1470", "ord-7"), ("10000735", "s-holz"),
        *((f"<LINE_ITEM_ID>0000{n}</LINE_ITEM_ID>", f"<LINE_ITEM_ID>ord-7-1-d{n}</LINE_ITEM_ID>") for n in (1, 2, 3)),
    ):
        assert sample_id in text, f"{path} no longer holds {sample_id}"
        text = text.replace(sample_id, ours)
    return text


def test_the_sample_orderresponse_answers_the_order(kit: SchemaKit) -> None:
    xml = adapted("OrderResponse/Example_ORDERRESPONSE Testdistributor_Auftragsbestaetigung.xml")
    document = read_supplier_document(Standard.OPENTRANS_21, "joint_order.answered", opentrans.ORDERRESPONSE, xml, kit)
    event_type, data = document.contract_data(ORDER, SUPPLIER)
    assert INBOUND_DATA[event_type].model_validate(data) == JointOrderAnswered.model_validate({
        "order_id": "ord-7", "supplier_id": "s-holz",
        "lines": [{"line_id": "ord-7-1", "status": "accepted", "expected_delivery": "2018-06-27"}],
    })


def test_the_sample_dispatchnotification_dispatches_the_deliveries(kit: SchemaKit) -> None:
    xml = adapted("DispatchNotification/Example_DISPATCHNOTIFICATION_Testdistributor_Lieferavis.xml")
    document = read_supplier_document(
        Standard.OPENTRANS_21, "joint_order.dispatched", opentrans.DISPATCHNOTIFICATION, xml, kit
    )
    event_type, data = document.contract_data(SUPPLIER)
    assert INBOUND_DATA[event_type].model_validate(data) == JointOrderDispatched.model_validate({
        "order_id": "ord-7", "supplier_id": "s-holz", "dispatch_id": "39076516",
        "shipped_on": "2016-01-31", "expected_arrival": "2016-01-31", "tracking_id": "1Z7318301287125572",
        "deliveries": [{"delivery_id": f"ord-7-1-d{n}", "quantity": n} for n in (1, 2, 3)],
    })


def test_the_order_the_alliance_renders_is_what_the_samples_answer(kit: SchemaKit) -> None:
    """The adapted samples refer to exactly the items of the alliance's ORDER for the same order."""
    root = etree.fromstring(opentrans.render_order(ORDER, PARTIES, ISSUED))
    ours = {item.text for item in root.iterfind("ot:ORDER_ITEM_LIST/ot:ORDER_ITEM/ot:LINE_ITEM_ID", OT)}
    assert ours == {"ord-7-1-d1", "ord-7-1-d2", "ord-7-1-d3"}
