"""The demo's suppliers in their own standards, as an ERP or a PEPPOL access point would act:
read the alliance's order document (after checking it against the standard's official schema),
and write the answer as a PEPPOL Order Response or an openTRANS ORDERRESPONSE (docs/suppliers.md).
Written from the standards and the contract, not from the platform's code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
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
_OT = {"ot": "http://www.opentrans.org/XMLSchema/2.1", "bme": "http://www.bmecat.org/bmecat/2005"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class ReceivedItem:
    """One document line of an order: one delivery."""

    delivery_id: str
    line_id: str
    sku: str
    unit_price: str
    party: str
    """Who it is for, as the document names the member: its peppol id (`scheme:id`) or its id."""
    quantity: int
    needed_by: date


@dataclass(frozen=True)
class ReceivedOrder:
    order_id: str
    items: tuple[ReceivedItem, ...]

    @property
    def earliest_needed(self) -> date:
        """The earliest requested delivery date of its lines: a promise later than that would leave
        that delivery unserved (the contract's rule), so a whole acceptance promises no later."""
        return min(item.needed_by for item in self.items)

    def placed(self, member_of: Mapping[str, str]) -> dict[str, Any]:
        """The order as its JSON twin (`joint_order.placed`) states its lines and deliveries;
        `member_of` maps the parties the document names to member ids."""
        lines: dict[str, dict[str, Any]] = {}
        for item in self.items:
            line = lines.setdefault(item.line_id, {
                "line_id": item.line_id, "sku": item.sku, "unit_price": item.unit_price, "quantity": 0,
                "deliveries": [],
            })
            line["quantity"] += item.quantity
            line["deliveries"].append({
                "member_id": member_of.get(item.party, item.party), "quantity": item.quantity,
                "needed_by": item.needed_by.isoformat(), "delivery_id": item.delivery_id,
            })
        return {"order_id": self.order_id, "lines": list(lines.values())}


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
            items = [_peppol_item(line) for line in root.iterfind("cac:OrderLine", _UBL)]
        else:
            order_id = root.findtext("ot:ORDER_HEADER/ot:ORDER_INFO/ot:ORDER_ID", namespaces=_OT)
            members = {
                party.findtext("bme:PARTY_ID[@type='buyer_specific']", namespaces=_OT):
                    party.findtext("bme:PARTY_ID[@type='member']", namespaces=_OT)
                for party in root.iterfind("ot:ORDER_HEADER/ot:ORDER_INFO/ot:PARTIES/ot:PARTY", _OT)
            }
            items = [_opentrans_item(item, members) for item in root.iterfind("ot:ORDER_ITEM_LIST/ot:ORDER_ITEM", _OT)]
        if not order_id or not items:
            raise ValueError(f"a {standard} order without an id or lines")
        return ReceivedOrder(order_id, tuple(items))


def _peppol_item(order_line: etree._Element) -> ReceivedItem:
    item = order_line.find("cac:LineItem", _UBL)
    party = item.find("cac:OriginatorParty/cac:PartyIdentification/cbc:ID", _UBL)
    scheme = None if party is None else party.get("schemeID")
    return ReceivedItem(
        delivery_id=_required(item, "cbc:ID", _UBL),
        line_id=_required(item, "cbc:AccountingCost", _UBL),
        sku=_required(item, "cac:Item/cac:SellersItemIdentification/cbc:ID", _UBL),
        unit_price=_required(item, "cac:Price/cbc:PriceAmount", _UBL),
        party="" if party is None else f"{scheme}:{party.text}" if scheme else (party.text or ""),
        quantity=int(_required(item, "cbc:Quantity", _UBL)),
        needed_by=date.fromisoformat(_required(item, "cac:Delivery/cac:RequestedDeliveryPeriod/cbc:EndDate", _UBL)),
    )


def _opentrans_item(item: etree._Element, members: Mapping[str | None, str | None]) -> ReceivedItem:
    return ReceivedItem(
        delivery_id=_required(item, "ot:LINE_ITEM_ID", _OT),
        line_id=_required(item, "ot:CUSTOMER_ORDER_REFERENCE/ot:LINE_ITEM_ID", _OT),
        sku=_required(item, "ot:PRODUCT_ID/bme:SUPPLIER_PID", _OT),
        unit_price=_required(item, "ot:PRODUCT_PRICE_FIX/bme:PRICE_AMOUNT", _OT),
        party=members.get(item.findtext("ot:SHIPMENT_PARTIES_REFERENCE/ot:DELIVERY_IDREF", namespaces=_OT)) or "",
        quantity=int(_required(item, "ot:QUANTITY", _OT)),
        needed_by=date.fromisoformat(_required(item, "ot:DELIVERY_DATE/ot:DELIVERY_END_DATE", _OT)[:10]),
    )


def _required(element: etree._Element, path: str, namespaces: Mapping[str, str]) -> str:
    text = (element.findtext(path, namespaces=namespaces) or "").strip()
    if not text:
        raise ValueError(f"an order line without {path}")
    return text


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
        f"<ORDERRESPONSE_ITEM><LINE_ITEM_ID>{escape(item.delivery_id)}</LINE_ITEM_ID><PRODUCT_ID>"
        f"<bme:SUPPLIER_PID>{escape(item.sku)}</bme:SUPPLIER_PID></PRODUCT_ID>"
        f"<QUANTITY>{item.quantity if accepted else 0}</QUANTITY><bme:ORDER_UNIT>C62</bme:ORDER_UNIT>"
        "</ORDERRESPONSE_ITEM>"
        for item in order.items
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


DESPATCH_SCHEMA = {
    PEPPOL: "urn:fdc:peppol.eu:poacc:trns:despatch_advice:3",
    OPENTRANS: "http://www.opentrans.org/XMLSchema/2.1#DISPATCHNOTIFICATION",
}


def despatch_advice(
    standard: str, order: ReceivedOrder, supplier_id: str, peppol_id: str, buyer_peppol_id: str, dispatch_id: str,
    arrival: date,
) -> str:
    """Everything of the order shipped today by the supplier's carrier, arriving on `arrival`."""
    today = date.today().isoformat()
    if standard == PEPPOL:
        scheme, _, identifier = peppol_id.partition(":")
        buyer_scheme, _, buyer = buyer_peppol_id.partition(":")
        lines = "".join(
            f'<cac:DespatchLine><cbc:ID>{n}</cbc:ID><cbc:DeliveredQuantity unitCode="C62">{item.quantity}'
            f"</cbc:DeliveredQuantity><cac:OrderLineReference><cbc:LineID>{escape(item.delivery_id)}</cbc:LineID>"
            f"</cac:OrderLineReference><cac:Item><cbc:Name>{escape(item.sku)}</cbc:Name></cac:Item></cac:DespatchLine>"
            for n, item in enumerate(order.items, start=1)
        )
        return (
            '<DespatchAdvice xmlns="urn:oasis:names:specification:ubl:schema:xsd:DespatchAdvice-2" '
            f'xmlns:cac="{_UBL["cac"]}" xmlns:cbc="{_UBL["cbc"]}">'
            "<cbc:CustomizationID>urn:fdc:peppol.eu:poacc:trns:despatch_advice:3</cbc:CustomizationID>"
            "<cbc:ProfileID>urn:fdc:peppol.eu:poacc:bis:despatch_advice:3</cbc:ProfileID>"
            f"<cbc:ID>{escape(dispatch_id)}</cbc:ID><cbc:IssueDate>{today}</cbc:IssueDate>"
            f"<cac:OrderReference><cbc:ID>{escape(order.order_id)}</cbc:ID></cac:OrderReference>"
            f'<cac:DespatchSupplierParty><cac:Party><cbc:EndpointID schemeID="{scheme}">{identifier}</cbc:EndpointID>'
            "</cac:Party></cac:DespatchSupplierParty>"
            f'<cac:DeliveryCustomerParty><cac:Party><cbc:EndpointID schemeID="{buyer_scheme}">{buyer}</cbc:EndpointID>'
            "</cac:Party></cac:DeliveryCustomerParty>"
            "<cac:Shipment><cbc:ID>1</cbc:ID><cac:Consignment><cbc:ID>1</cbc:ID><cac:CarrierParty><cac:PartyName>"
            "<cbc:Name>Spedition Süd</cbc:Name></cac:PartyName></cac:CarrierParty></cac:Consignment>"
            f"<cac:Delivery><cbc:TrackingID>{escape(dispatch_id)}</cbc:TrackingID><cac:EstimatedDeliveryPeriod>"
            f"<cbc:EndDate>{arrival.isoformat()}</cbc:EndDate></cac:EstimatedDeliveryPeriod><cac:Despatch>"
            f"<cbc:ActualDespatchDate>{today}</cbc:ActualDespatchDate></cac:Despatch></cac:Delivery></cac:Shipment>"
            f"{lines}</DespatchAdvice>"
        )
    items = "".join(
        f"<DISPATCHNOTIFICATION_ITEM><LINE_ITEM_ID>{n}</LINE_ITEM_ID><PRODUCT_ID><bme:SUPPLIER_PID>-</bme:SUPPLIER_PID>"
        f"</PRODUCT_ID><QUANTITY>{item.quantity}</QUANTITY><bme:ORDER_UNIT>C62</bme:ORDER_UNIT><ORDER_REFERENCE>"
        f"<ORDER_ID>{escape(order.order_id)}</ORDER_ID><LINE_ITEM_ID>{escape(item.delivery_id)}</LINE_ITEM_ID>"
        f'</ORDER_REFERENCE><SHIPMENT_PARTIES_REFERENCE><DELIVERY_IDREF type="buyer_specific">'
        f"{escape(item.delivery_id)}</DELIVERY_IDREF></SHIPMENT_PARTIES_REFERENCE></DISPATCHNOTIFICATION_ITEM>"
        for n, item in enumerate(order.items, start=1)
    )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return (
        '<DISPATCHNOTIFICATION xmlns="http://www.opentrans.org/XMLSchema/2.1" '
        'xmlns:bme="http://www.bmecat.org/bmecat/2005" version="2.1"><DISPATCHNOTIFICATION_HEADER>'
        f"<DISPATCHNOTIFICATION_INFO><DISPATCHNOTIFICATION_ID>{escape(dispatch_id)}</DISPATCHNOTIFICATION_ID>"
        f"<DISPATCHNOTIFICATION_DATE>{now}</DISPATCHNOTIFICATION_DATE><DELIVERY_DATE><DELIVERY_START_DATE>"
        f"{arrival.isoformat()}</DELIVERY_START_DATE><DELIVERY_END_DATE>{arrival.isoformat()}</DELIVERY_END_DATE>"
        f'</DELIVERY_DATE><PARTIES><PARTY><bme:PARTY_ID type="buyer_specific">{escape(supplier_id)}</bme:PARTY_ID>'
        "<PARTY_ROLE>supplier</PARTY_ROLE></PARTY><PARTY><bme:PARTY_ID type=\"supplier_specific\">carrier"
        "</bme:PARTY_ID><PARTY_ROLE>deliverer</PARTY_ROLE><ADDRESS><bme:NAME>Spedition Süd</bme:NAME></ADDRESS>"
        f'</PARTY></PARTIES><bme:SUPPLIER_IDREF type="buyer_specific">{escape(supplier_id)}</bme:SUPPLIER_IDREF>'
        '<SHIPMENT_PARTIES_REFERENCE><DELIVERY_IDREF type="buyer_specific">alliance</DELIVERY_IDREF>'
        '<DELIVERER_IDREF type="supplier_specific">carrier</DELIVERER_IDREF></SHIPMENT_PARTIES_REFERENCE>'
        f"<SHIPMENT_ID>{escape(dispatch_id)}</SHIPMENT_ID></DISPATCHNOTIFICATION_INFO></DISPATCHNOTIFICATION_HEADER>"
        f"<DISPATCHNOTIFICATION_ITEM_LIST>{items}</DISPATCHNOTIFICATION_ITEM_LIST><DISPATCHNOTIFICATION_SUMMARY>"
        f"<TOTAL_ITEM_NUM>{len(order.items)}</TOTAL_ITEM_NUM></DISPATCHNOTIFICATION_SUMMARY></DISPATCHNOTIFICATION>"
    )
