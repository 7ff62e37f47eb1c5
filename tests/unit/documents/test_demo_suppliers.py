"""The demo's (and chaos's) XML suppliers read the alliance's order documents as a supplier's
ERP would, from the standard alone: what they read is the JSON twin's lines and deliveries, so
chaos accounts an XML supplier's orders exactly as a JSON supplier's."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.supplier_documents import OrderReader
from shared.contract import ALLIANCE_MEMBER_ID, JointOrderPlaced
from shared.documents.standards import Standard, render_joint_order
from tests.support.documents import ALLIANCE, ISSUED, MEMBERS, PARTIES, joint_orders, standards_kit

MEMBER_OF = {party.peppol_id: party.party_id for party in MEMBERS.values() if party.peppol_id} | {
    ALLIANCE.peppol_id: ALLIANCE_MEMBER_ID
}
"""The parties a PEPPOL order names by their peppol ids (openTRANS names members by id)."""


@pytest.fixture(scope="module")
def reader() -> OrderReader:
    return OrderReader(standards_kit().directory)  # skipped, saying why, where the kit is absent


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=joint_orders(max_lines=5, max_deliveries=5), standard=st.sampled_from(list(Standard)[1:]))
def test_an_xml_order_reads_as_its_json_twins_lines(reader: OrderReader, order: JointOrderPlaced, standard: Standard):
    _, xml = render_joint_order(standard, order, PARTIES, ISSUED)
    read = reader.read(standard.value, xml.decode())
    twin = order.model_dump(mode="json")
    for line in twin["lines"]:
        for delivery in line["deliveries"]:
            del delivery["ship_to"]  # the document states the place, the twin's shape is what chaos counts
    assert read.placed(MEMBER_OF) == {"order_id": twin["order_id"], "lines": twin["lines"]}
    assert read.earliest_needed == min(d.needed_by for line in order.lines for d in line.deliveries)


def test_a_document_that_is_no_valid_order_is_refused(reader: OrderReader):
    with pytest.raises(ValueError, match="not a valid peppol-bis3 order"):
        reader.read("peppol-bis3", '<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>')
