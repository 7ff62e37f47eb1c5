"""Suppliers in their own standards end to end, through the real broker: a PEPPOL supplier
receives its joint order as a PEPPOL BIS 3 Order valid against the official UBL 2.1 schema,
hostile documents on `supplier.responses` (XXE, billion laughs, an external DTD, the wrong
namespace, schema-invalid, 2 MB, another supplier's order) are refused with their reasons while
the service keeps going, its Order Response confirms the order with the effect a JSON supplier's
`joint_order.confirmed` has on its own order, and its Despatch Advice tells each member."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import yaml
from lxml import etree

from shared import topics
from shared.contract import CloudEvent
from shared.documents import peppol
from shared.documents.schemas import Schema
from shared.messaging.envelope import document_event_bytes
from shared.messaging.unit_of_work import REASON_HEADER
from shared.signing import SIGNATURE_HEADER, verify
from tests.support.documents import (
    peppol_despatch_advice,
    peppol_order_response,
    peppol_order_violations,
    standards_kit,
)
from tests.support.erp import cloud_event, signed
from tests.support.kafka import wait_for_records
from tests.support.procurement import (
    close,
    metrics_show,
    notices_of_type,
    response_record,
    send,
    supplier_events,
    wait_for_open,
)
from tests.support.seeds import MEMBER_SECRETS, item, member, supplier
from tests.support.services import platform

pytestmark = pytest.mark.e2e

UBL = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
       "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
NEEDED_BY = (date.today() + timedelta(days=30)).isoformat()
ALLIANCE = {"name": "Einkaufsverbund Nord eG", "peppol_id": "0088:4000001000005", "vat_id": "DE123456789",
            "address": {"street": "Hafenstraße 1", "city": "Hamburg", "postal_code": "20457", "country": "DE"}}
HOSTILE = {
    "xxe": '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
    "billion laughs": '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "haha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">'
                      '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;">]><l>&d;</l>',
    "external DTD": '<?xml version="1.0"?><!DOCTYPE OrderResponse SYSTEM "http://127.0.0.1:9/x.dtd"><OrderResponse/>',
    "wrong namespace": peppol_order_response("ord-1", "AP").replace(
        "urn:oasis:names:specification:ubl:schema:xsd:OrderResponse-2", "urn:example:not-ubl"),
    "schema-invalid": peppol_order_response("ord-1", "AP").replace("<cbc:IssueDate>2026-11-22</cbc:IssueDate>", ""),
}
"""Each dead-lettered as `invalid_document`; a 2 MB document as `too_large`, before anything parses it."""


def document_record(event_type: str, xml: str, event_id: str) -> tuple[str, bytes, list]:
    value = document_event_bytes(event_type, "ap/s-holz", peppol.ORDER_RESPONSE, xml, event_id, datetime.now(UTC))
    return "s-holz", value, signed("s-holz-secret", value)


async def test_a_peppol_supplier_gets_a_valid_order_refuses_nothing_hostile_and_its_answer_confirms(
    kafka_bootstrap, postgres_server_url, tmp_path
):
    kit = standards_kit()
    holz = supplier("s-holz", [item("BOARD-18MM", [(1, "4.125")])]) | {
        "documents": "peppol-bis3", "peppol_id": "0088:4012345000009", "vat_id": "DE987654321"}
    plain = supplier("s-json", [item("SCREW-4X40", [(1, "0.0333")], category="metal")])
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump({
        "cycle": {"interval_seconds": 3600, "max_supplier_share": 0.7},
        "alliance": ALLIANCE,
        "members": [member("m-huber", peppol_id="0088:4000001000012", vat_id="DE111111111"), member("m-maier")],
        "suppliers": [holz, plain],
    }, allow_unicode=True))
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz", "s-json")) as running:
        await running.start("members", seed)
        procurement = await running.start("procurement", seed)
        requests = [("m-huber", "r-1", "BOARD-18MM", 61), ("m-maier", "r-2", "BOARD-18MM", 51),
                    ("m-huber", "r-3", "SCREW-4X40", 1001)]
        erp = []
        for member_id, request_id, sku, quantity in requests:
            value = cloud_event("purchase_request.submitted", f"erp/{member_id}", {
                "request_id": request_id, "member_id": member_id, "sku": sku, "quantity": quantity,
                "needed_by": NEEDED_BY})
            erp.append((member_id, value, signed(MEMBER_SECRETS[member_id], value)))
        await send(running, topics.PURCHASE_REQUESTS, erp)
        await wait_for_open(procurement, 3)
        assert (await close(procurement))["orders"] == 2

        # The PEPPOL supplier's order: the same signed record, its data a valid PEPPOL BIS 3 Order.
        [record] = await wait_for_records(kafka_bootstrap, running.topic(topics.supplier_orders("s-holz")), 1,
                                           timeout=90)
        assert verify(dict(record.headers)[SIGNATURE_HEADER], record.value, ["s-holz-secret"]) is None
        event = CloudEvent.model_validate_json(record.value)
        assert (event.type, event.datacontenttype, event.dataschema) == (
            "joint_order.placed", "application/xml", peppol.ORDER)
        order = etree.fromstring(event.data.encode())
        kit.validate(order, Schema.UBL_ORDER)
        assert peppol_order_violations(order) == []
        order_id = order.findtext("cbc:ID", namespaces=UBL)
        assert order.findtext("cac:AnticipatedMonetaryTotal/cbc:PayableAmount", namespaces=UBL) == "462.00"
        [json_order] = await supplier_events(kafka_bootstrap, running.topic(topics.supplier_orders("s-json")),
                                             "joint_order.placed", 1)
        assert json_order["data"]["total"] == "33.33"

        # Hostile documents are dead-lettered; the service keeps taking records.
        huge = peppol_order_response(order_id, "AP", note="x" * 2_000_000)
        foreign = peppol_order_response(json_order["data"]["order_id"], "AP")  # s-json's order
        await send(running, topics.SUPPLIER_RESPONSES, [
            *(document_record("joint_order.confirmed", xml, f"evil-{n}") for n, xml in enumerate(HOSTILE.values())),
            document_record("joint_order.confirmed", huge, "huge"),
            document_record("joint_order.confirmed", foreign, "foreign"),
        ])
        dead = await wait_for_records(kafka_bootstrap, running.topic(topics.DEAD_LETTERS), len(HOSTILE) + 1,
                                     timeout=90)
        assert [dict(r.headers)[REASON_HEADER] for r in dead] == [b"invalid_document"] * len(HOSTILE) + [b"too_large"]
        [refused] = await wait_for_records(kafka_bootstrap, running.topic(topics.QUARANTINE), 1, timeout=90)
        assert dict(refused.headers)[REASON_HEADER] == b"order_not_held"
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{procurement.url}/health")).status_code == 200

        # The PEPPOL acceptance and the JSON supplier's confirmation: the same effect on their orders.
        promised = (date.today() + timedelta(days=10)).isoformat()
        await send(running, topics.SUPPLIER_RESPONSES, [
            document_record("joint_order.confirmed", peppol_order_response(order_id, "AP", promised=promised), "ok-1"),
            response_record("s-json", "s-json-secret", "joint_order.confirmed",
                            {"order_id": json_order["data"]["order_id"], "supplier_id": "s-json",
                             "expected_delivery": promised}),
        ])
        confirmed = await notices_of_type(running, "purchase_request.confirmed", 3)
        assert sorted((m, d["request_id"], d["order_id"], d["expected_delivery"]) for m, d in confirmed) == [
            ("m-huber", "r-1", order_id, promised),
            ("m-huber", "r-3", json_order["data"]["order_id"], promised),
            ("m-maier", "r-2", order_id, promised),
        ]
        async with procurement.admin() as admin:
            orders = {o["order_id"]: o["status"] for o in (await admin.get("/orders")).json()}
        assert orders == {order_id: "confirmed", json_order["data"]["order_id"]: "confirmed"}

        # It ships everything: each member is told its own quantity.
        shipped = [(item.findtext("cbc:ID", namespaces=UBL), int(item.findtext("cbc:Quantity", namespaces=UBL)))
                   for item in order.iterfind("cac:OrderLine/cac:LineItem", UBL)]
        value = document_event_bytes("joint_order.dispatched", "ap/s-holz", peppol.DESPATCH_ADVICE,
                                     peppol_despatch_advice(order_id, "LS-1", shipped), "desp-1", datetime.now(UTC))
        await send(running, topics.SUPPLIER_RESPONSES, [("s-holz", value, signed("s-holz-secret", value))])
        dispatched = await notices_of_type(running, "purchase_request.dispatched", 2)
        assert sorted((m, d["request_id"], d["quantity"], d["carrier"]) for m, d in dispatched) == [
            ("m-huber", "r-1", 61, "Spedition Nord"), ("m-maier", "r-2", 51, "Spedition Nord")]
        await metrics_show(
            procurement,
            'alliance_supplier_documents_total{outcome="rendered",standard="peppol-bis3"} 1.0',
            'alliance_supplier_documents_total{outcome="read",standard="peppol-bis3"} 3.0',
            'alliance_supplier_documents_total{outcome="refused",standard="peppol-bis3"} 5.0',
        )
        assert json.loads(dead[0].value)["datacontenttype"] == "application/xml"
