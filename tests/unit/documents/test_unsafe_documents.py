"""Documents that try to hurt the alliance, or are not what they claim, are refused before they
can: each raises `InvalidDocument`, which the intake dead-letters as `invalid_document`."""

from __future__ import annotations

import time

import pytest

from shared.documents import opentrans, peppol
from shared.documents.safe_xml import MAX_DEPTH, InvalidDocument
from shared.documents.schemas import SchemaKit
from shared.documents.standards import Standard, read_supplier_document
from shared.reasons import DeadLetterReason
from tests.support.documents import peppol_order_response, standards_kit

ANSWER = peppol_order_response("ord-7", "AP")
BODY = ANSWER.split("?>", 1)[1]
"""The Order Response without its XML declaration, to put a DOCTYPE in front of."""


@pytest.fixture(scope="module")
def kit() -> SchemaKit:
    return standards_kit()


def refused(kit: SchemaKit, document: str, standard: Standard = Standard.PEPPOL_BIS3) -> str:
    dataschema = peppol.ORDER_RESPONSE if standard is Standard.PEPPOL_BIS3 else opentrans.ORDERRESPONSE
    with pytest.raises(InvalidDocument) as caught:
        read_supplier_document(standard, "joint_order.confirmed", dataschema, document, kit)
    assert caught.value.reason is DeadLetterReason.INVALID_DOCUMENT
    return caught.value.detail


def test_the_well_formed_answer_these_attacks_start_from_is_accepted(kit: SchemaKit) -> None:
    document = read_supplier_document(Standard.PEPPOL_BIS3, "joint_order.confirmed", peppol.ORDER_RESPONSE, ANSWER, kit)
    assert document.order_id == "ord-7"


@pytest.mark.parametrize("document", [
    pytest.param(
        '<?xml version="1.0"?><!DOCTYPE OrderResponse [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + BODY.replace("<cbc:ID>resp-ord-7</cbc:ID>", "<cbc:ID>&xxe;</cbc:ID>"),
        id="XXE to a local file",
    ),
    pytest.param(
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">' for n in range(1, 10))
        + "]>" + BODY.replace("<cbc:ID>resp-ord-7</cbc:ID>", "<cbc:ID>&lol9;</cbc:ID>"),
        id="billion laughs",
    ),
    pytest.param('<!DOCTYPE OrderResponse SYSTEM "http://evil.example/order.dtd">' + BODY, id="external DTD"),
    pytest.param('<!doctype OrderResponse PUBLIC "-//x//y" "order.dtd">' + BODY, id="lower-case external DTD"),
])
def test_dtds_and_entities_are_refused_before_parsing(kit: SchemaKit, document: str) -> None:
    assert "DTDs and entities are refused" in refused(kit, document)


def test_an_entity_reference_without_a_dtd_is_not_well_formed(kit: SchemaKit) -> None:
    assert "not well-formed" in refused(kit, ANSWER.replace("resp-ord-7", "&xxe;"))


def test_a_50_mb_document_is_refused_unread(kit: SchemaKit) -> None:
    document = ANSWER.replace("<cbc:Note>", "").replace(
        "<cbc:DocumentCurrencyCode>", "<cbc:Note>" + "x" * 50_000_000 + "</cbc:Note><cbc:DocumentCurrencyCode>"
    )
    started = time.perf_counter()
    assert "more than 1048576" in refused(kit, document)
    assert time.perf_counter() - started < 1


def test_a_schema_location_is_refused(kit: SchemaKit) -> None:
    located = ANSWER.replace(
        "<OrderResponse ",
        '<OrderResponse xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="urn:oasis:names:specification:ubl:schema:xsd:OrderResponse-2 http://evil.example/o.xsd" ',
    )
    assert "schemaLocation is refused" in refused(kit, located)


def test_huge_attributes_and_deep_nesting_are_refused(kit: SchemaKit) -> None:
    assert "attribute" in refused(kit, ANSWER.replace('unitCode="C62"', "").replace(
        "<cbc:IssueDate>", f'<cbc:IssueDate languageID="{"a" * 20_000}">'))
    deep = "<cbc:Note>" + "<x>" * MAX_DEPTH + "</x>" * MAX_DEPTH + "</cbc:Note>"
    assert "deeper than" in refused(kit, ANSWER.replace("<cbc:DocumentCurrencyCode>", deep + "<cbc:DocumentCurrencyCode>"))


def test_the_wrong_namespace_is_refused(kit: SchemaKit) -> None:
    foreign = ANSWER.replace("xsd:OrderResponse-2", "xsd:OrderResponse-3")
    assert "expected a UBL OrderResponse" in refused(kit, foreign)
    assert "expected an openTRANS 2.1 ORDERRESPONSE" in refused(kit, ANSWER, Standard.OPENTRANS_21)


def test_schema_invalid_documents_are_refused_with_the_validators_message(kit: SchemaKit) -> None:
    no_reference = ANSWER.replace("<cac:OrderReference><cbc:ID>ord-7</cbc:ID></cac:OrderReference>", "")
    assert "not valid against UBL-OrderResponse-2.1.xsd" in refused(kit, no_reference)
    included = ANSWER.replace(
        "<cbc:DocumentCurrencyCode>",
        '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/><cbc:DocumentCurrencyCode>',
    )
    assert "not valid against" in refused(kit, included), "XInclude is never processed, and the schema refuses it"


def test_not_well_formed_and_misdeclared_documents_are_refused(kit: SchemaKit) -> None:
    assert "not well-formed" in refused(kit, ANSWER[:-20])
    assert "not well-formed" in refused(kit, ANSWER.replace('encoding="UTF-8"', 'encoding="UTF-16"'))
    assert "none of AP, RE, CA" in refused(kit, ANSWER.replace("ResponseCode>AP<", "ResponseCode>XX<"))
