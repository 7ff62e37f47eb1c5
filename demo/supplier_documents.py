"""The demo's suppliers in their own standards, as an ERP or a PEPPOL access point would act:
read the alliance's order document (after checking it against the standard's official schema),
and write the answer as a PEPPOL Order Response or an openTRANS ORDERRESPONSE (docs/suppliers.md).
Written from the standards and the contract, not from the platform's code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

PEPPOL = "peppol-bis3"
OPENTRANS = "opentrans-2.1"
ORDER_RESPONSE_SCHEMA = {
    PEPPOL: "urn:fdc:peppol.eu:poacc:trns:order_response:3",
    OPENTRANS: "http://www.opentrans.org/XMLSchema/2.1#ORDERRESPONSE",
}
_ORDER_SCHEMAS = {PEPPOL: "ubl-2.1/xsd/maindoc/UBL-Order-2.1.xsd", OPENTRANS: "opentrans-2.1/xsd/opentrans_2_1.xsd"}
_UBL = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
        "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
_OT = {"ot": "http://www.opentrans.org/XMLSchema/2.1"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class ReceivedOrder:
    order_id: str
    items: tuple[tuple[str, int], ...]
    """(document line id, quantity): one per delivery."""


class OrderReader:
    """Reads orders in one standard, validating them against its schema when the kit is there."""

    def __init__(self, standards: Path) -> None:
        self._schemas: dict[str, etree.XMLSchema] = {}
        for standard, path in _ORDER_SCHEMAS.items():
            if (standards / path).is_file():
                self._schemas[standard] = etree.XMLSchema(etree.parse(str(standards / path), _PARSER))

    def read(self, standard: str, document: str) -> ReceivedOrder:
        """Raises ValueError when the document is not a valid order of its standard."""
        root = etree.fromstring(document.encode(), _PARSER)
        schema = self._schemas.get(standard)
        if schema is not None and not schema.validate(root):
            raise ValueError(f"not a valid {standard} order: {schema.error_log.last_error}")
        if standard == PEPPOL:
            order_id = root.findtext("cbc:ID", namespaces=_UBL)
            items = [(item.findtext("cbc:ID", namespaces=_UBL), int(item.findtext("cbc:Quantity", namespaces=_UBL)))
                     for item in root.iterfind("cac:OrderLine/cac:LineItem", _UBL)]
        else:
            order_id = root.findtext("ot:ORDER_HEADER/ot:ORDER_INFO/ot:ORDER_ID", namespaces=_OT)
            items = [(item.findtext("ot:LINE_ITEM_ID", namespaces=_OT), int(item.findtext("ot:QUANTITY", namespaces=_OT)))
                     for item in root.iterfind("ot:ORDER_ITEM_LIST/ot:ORDER_ITEM", _OT)]
        if not order_id or not items:
            raise ValueError(f"a {standard} order without an id or lines")
        return ReceivedOrder(order_id, tuple((str(i), q) for i, q in items))


def order_response(
    standard: str, order: ReceivedOrder, supplier_id: str, peppol_id: str, buyer_peppol_id: str, accepted: bool,
    promised: date, reason: str | None = None,
) -> str:
    """The supplier's whole answer: all accepted by `promised`, or all rejected for `reason`."""
    if standard == PEPPOL:
        return _peppol_response(order, peppol_id, buyer_peppol_id, accepted, promised, reason)
    return _opentrans_response(order, supplier_id, accepted, promised, reason)


def _peppol_response(
    order: ReceivedOrder, peppol_id: str, buyer_peppol_id: str, accepted: bool, promised: date, reason: str | None
) -> str:
    scheme, _, identifier = peppol_id.partition(":")
    buyer_scheme, _, buyer = buyer_peppol_id.partition(":")
    note = "" if accepted or not reason else f"<cbc:Note>{escape(reason)}</cbc:Note>"
    delivery = (f"<cac:Delivery><cac:PromisedDeliveryPeriod><cbc:EndDate>{promised.isoformat()}</cbc:EndDate>"
                "</cac:PromisedDeliveryPeriod></cac:Delivery>") if accepted else ""
    return (
        '<OrderResponse xmlns="urn:oasis:names:specification:ubl:schema:xsd:OrderResponse-2" '
        f'xmlns:cac="{_UBL["cac"]}" xmlns:cbc="{_UBL["cbc"]}">'
        "<cbc:CustomizationID>urn:fdc:peppol.eu:poacc:trns:order_response:3</cbc:CustomizationID>"
        "<cbc:ProfileID>urn:fdc:peppol.eu:poacc:bis:ordering:3</cbc:ProfileID>"
        f"<cbc:ID>AB-{escape(order.order_id)}</cbc:ID><cbc:IssueDate>{date.today().isoformat()}</cbc:IssueDate>"
        f"<cbc:OrderResponseCode>{'AP' if accepted else 'RE'}</cbc:OrderResponseCode>{note}"
        "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
        f"<cac:OrderReference><cbc:ID>{escape(order.order_id)}</cbc:ID></cac:OrderReference>"
        f'<cac:SellerSupplierParty><cac:Party><cbc:EndpointID schemeID="{scheme}">{identifier}</cbc:EndpointID>'
        "</cac:Party></cac:SellerSupplierParty>"
        f'<cac:BuyerCustomerParty><cac:Party><cbc:EndpointID schemeID="{buyer_scheme}">{buyer}</cbc:EndpointID>'
        f"</cac:Party></cac:BuyerCustomerParty>{delivery}</OrderResponse>"
    )


def _opentrans_response(order: ReceivedOrder, supplier_id: str, accepted: bool, promised: date,
                        reason: str | None) -> str:
    items = "".join(
        f"<ORDERRESPONSE_ITEM><LINE_ITEM_ID>{escape(item_id)}</LINE_ITEM_ID><PRODUCT_ID>"
        "<bme:SUPPLIER_PID>-</bme:SUPPLIER_PID></PRODUCT_ID>"
        f"<QUANTITY>{quantity if accepted else 0}</QUANTITY><bme:ORDER_UNIT>C62</bme:ORDER_UNIT>"
        "</ORDERRESPONSE_ITEM>"
        for item_id, quantity in order.items
    )
    remark = "" if accepted or not reason else f'<REMARKS type="orderresponse">{escape(reason)}</REMARKS>'
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return (
        '<ORDERRESPONSE xmlns="http://www.opentrans.org/XMLSchema/2.1" xmlns:bme="http://www.bmecat.org/bmecat/2005" '
        'version="2.1"><ORDERRESPONSE_HEADER><ORDERRESPONSE_INFO>'
        f"<ORDER_ID>{escape(order.order_id)}</ORDER_ID><ORDERRESPONSE_DATE>{now}</ORDERRESPONSE_DATE>"
        f"<DELIVERY_DATE><DELIVERY_START_DATE>{promised.isoformat()}</DELIVERY_START_DATE>"
        f"<DELIVERY_END_DATE>{promised.isoformat()}</DELIVERY_END_DATE></DELIVERY_DATE>"
        '<PARTIES><PARTY><bme:PARTY_ID type="buyer_specific">alliance</bme:PARTY_ID><PARTY_ROLE>buyer</PARTY_ROLE>'
        f'</PARTY><PARTY><bme:PARTY_ID type="buyer_specific">{escape(supplier_id)}</bme:PARTY_ID>'
        "<PARTY_ROLE>supplier</PARTY_ROLE></PARTY></PARTIES>"
        '<ORDER_PARTIES_REFERENCE><bme:BUYER_IDREF type="buyer_specific">alliance</bme:BUYER_IDREF>'
        f'<bme:SUPPLIER_IDREF type="buyer_specific">{escape(supplier_id)}</bme:SUPPLIER_IDREF>'
        f"</ORDER_PARTIES_REFERENCE>{remark}</ORDERRESPONSE_INFO></ORDERRESPONSE_HEADER>"
        f"<ORDERRESPONSE_ITEM_LIST>{items}</ORDERRESPONSE_ITEM_LIST>"
        f"<ORDERRESPONSE_SUMMARY><TOTAL_ITEM_NUM>{len(order.items)}</TOTAL_ITEM_NUM></ORDERRESPONSE_SUMMARY>"
        "</ORDERRESPONSE>"
    )
