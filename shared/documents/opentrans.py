"""openTRANS 2.1: the ORDER the alliance sends, the ORDERRESPONSE and DISPATCHNOTIFICATION it reads
(docs/suppliers.md has the mapping of every field).

openTRANS lets each item name its own delivery party, so a joint order line with several
deliveries is written as one ORDER_ITEM per delivery: `LINE_ITEM_ID` is the `delivery_id`, the
item's `CUSTOMER_ORDER_REFERENCE` names the joint order and its `line_id`, and the item's
`DELIVERY_IDREF` points to a `delivery` PARTY of its own (the member, at its `ship_to` or in its
region). A supplier confirms and ships per item, referring to it by `delivery_id`.

Like the PEPPOL Order, the ORDER is written from strings for speed; the tests validate it
against the openTRANS 2.1 schema.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from lxml import etree

from shared.contract import JointOrderPlaced, to_cents
from shared.documents.answers import AnsweredLine, Outcome, ShippedLine, SupplierAnswer, SupplierDespatch
from shared.documents.parties import Address, OrderParties, Party, split_peppol_id
from shared.documents.safe_xml import InvalidDocument, parse_untrusted
from shared.documents.schemas import Schema, SchemaKit
from shared.documents.writing import (
    UNIT,
    Children,
    DocumentDelivery,
    child_text,
    children,
    day,
    first,
    ordered_units,
    required_at,
    required_text,
    unit_price_text,
    write_order,
    xml_text,
)

NAMESPACE = "http://www.opentrans.org/XMLSchema/2.1"
BMECAT = "http://www.bmecat.org/bmecat/2005"
ORDER = f"{NAMESPACE}#ORDER"
ORDERRESPONSE = f"{NAMESPACE}#ORDERRESPONSE"
DISPATCHNOTIFICATION = f"{NAMESPACE}#DISPATCHNOTIFICATION"
"""The records' `dataschema` for each document."""
MAX_ID_CHARS = 50
"""openTRANS bounds LINE_ITEM_ID at 50 characters (the alliance's delivery ids are ~25)."""
OUR_ID = "buyer_specific"
"""The PARTY_ID type of the alliance's own ids (assigned by the buyer)."""


# --- the ORDER --------------------------------------------------------------------------------


class OrderWriter:
    """An openTRANS 2.1 ORDER written item by item, as a close decides its lines, and finished
    once the order is whole."""

    def __init__(self, order_id: str, parties: OrderParties, issued: date) -> None:
        self._order_id = xml_text(order_id)
        self._parties = parties
        self._start = issued.isoformat()
        self._delivery_parties: list[str] = []
        self._items: list[str] = []

    def add_line(self, line_id: str, sku: str, unit_price: Decimal, deliveries: Iterable[DocumentDelivery]) -> None:
        """One ORDER_ITEM and one delivery PARTY per delivery of the order line."""
        parties, start = self._parties, self._start
        product = f"<PRODUCT_ID><bme:SUPPLIER_PID>{xml_text(sku)}</bme:SUPPLIER_PID></PRODUCT_ID>"
        price_xml = f"<PRODUCT_PRICE_FIX><bme:PRICE_AMOUNT>{unit_price_text(unit_price)}</bme:PRICE_AMOUNT></PRODUCT_PRICE_FIX>"
        reference = (
            f"<CUSTOMER_ORDER_REFERENCE><ORDER_ID>{self._order_id}</ORDER_ID>"
            f"<LINE_ITEM_ID>{_bounded_id(line_id)}</LINE_ITEM_ID></CUSTOMER_ORDER_REFERENCE>"
        )
        for delivery in deliveries:
            delivery_id = _bounded_id(delivery.delivery_id)
            member = parties.member(delivery.member_id)
            self._delivery_parties.append(_party(
                [(OUR_ID, delivery_id), ("member", xml_text(member.party_id)), *_peppol_ids(member)],
                "delivery", member.name, parties.delivery_place(delivery), member.vat_id,
            ))
            self._items.append(
                f"<ORDER_ITEM><LINE_ITEM_ID>{delivery_id}</LINE_ITEM_ID>{product}<QUANTITY>{delivery.quantity}</QUANTITY>"
                f"<bme:ORDER_UNIT>{UNIT}</bme:ORDER_UNIT>{price_xml}"
                f"<PRICE_LINE_AMOUNT>{to_cents(unit_price * delivery.quantity)}</PRICE_LINE_AMOUNT>"
                f"<DELIVERY_DATE><DELIVERY_START_DATE>{start}</DELIVERY_START_DATE>"
                f"<DELIVERY_END_DATE>{delivery.needed_by.isoformat()}</DELIVERY_END_DATE></DELIVERY_DATE>{reference}"
                f"<SHIPMENT_PARTIES_REFERENCE><DELIVERY_IDREF type='{OUR_ID}'>{delivery_id}</DELIVERY_IDREF>"
                "</SHIPMENT_PARTIES_REFERENCE></ORDER_ITEM>"
            )

    def finish(self, cycle_id: str, currency: str, total: Decimal) -> str:
        """The whole document."""
        buyer, seller = self._parties.buyer, self._parties.seller
        order_id = self._order_id
        document = (
            f"<?xml version='1.0' encoding='UTF-8'?><ORDER xmlns='{NAMESPACE}' xmlns:bme='{BMECAT}' type='standard' "
            f"version='2.1'><ORDER_HEADER><ORDER_INFO><ORDER_ID>{order_id}</ORDER_ID><ORDER_DATE>{self._start}</ORDER_DATE>"
            "<PARTIES>"
            + _party([(OUR_ID, xml_text(buyer.party_id)), *_peppol_ids(buyer)], "buyer", buyer.name, buyer.address, buyer.vat_id)
            + _party(
                [(OUR_ID, xml_text(seller.party_id)), *_peppol_ids(seller)], "supplier", seller.name, seller.address,
                seller.vat_id,
            )
            + "".join(self._delivery_parties)
            + f"</PARTIES><ORDER_PARTIES_REFERENCE><bme:BUYER_IDREF type='{OUR_ID}'>{xml_text(buyer.party_id)}"
            f"</bme:BUYER_IDREF><bme:SUPPLIER_IDREF type='{OUR_ID}'>{xml_text(seller.party_id)}</bme:SUPPLIER_IDREF>"
            f"</ORDER_PARTIES_REFERENCE><bme:CURRENCY>{currency}</bme:CURRENCY>"
            f"<REMARKS type='order'>Joint order of cycle {xml_text(cycle_id)}</REMARKS></ORDER_INFO></ORDER_HEADER>"
            f"<ORDER_ITEM_LIST>{''.join(self._items)}</ORDER_ITEM_LIST>"
            f"<ORDER_SUMMARY><TOTAL_ITEM_NUM>{len(self._items)}</TOTAL_ITEM_NUM>"
            f"<TOTAL_AMOUNT>{to_cents(total)}</TOTAL_AMOUNT></ORDER_SUMMARY></ORDER>"
        )
        return document


def render_order(order: JointOrderPlaced, parties: OrderParties, issued: date) -> bytes:
    """The joint order as an openTRANS 2.1 ORDER, UTF-8."""
    return write_order(OrderWriter(order.order_id, parties, issued), order).encode()


def _bounded_id(value: str) -> str:
    if len(value) > MAX_ID_CHARS:
        raise ValueError(f"{value!r}: openTRANS ids are at most {MAX_ID_CHARS} characters")
    return xml_text(value)


def _peppol_ids(party: Party) -> list[tuple[str, str]]:
    """A party's peppol id as PARTY_IDs: a GLN (scheme 0088) as type `gln`, any as type `peppol`."""
    if party.peppol_id is None:
        return []
    scheme, identifier = split_peppol_id(party.peppol_id)
    ids = [("peppol", xml_text(party.peppol_id))]
    return [("gln", xml_text(identifier)), *ids] if scheme == "0088" else ids


def _party(ids: list[tuple[str, str]], role: str, name: str, address: Address, vat_id: str | None) -> str:
    """A PARTY; `ids` are (type, already escaped value)."""
    fields = [
        ("NAME", name), ("STREET", address.street), ("ZIP", address.postal_code), ("CITY", address.city),
        ("COUNTRY_CODED", address.country), ("VAT_ID", vat_id),
    ]
    party_ids = "".join(f"<bme:PARTY_ID type='{kind}'>{value}</bme:PARTY_ID>" for kind, value in ids)
    address_xml = "".join(f"<bme:{tag}>{xml_text(value)}</bme:{tag}>" for tag, value in fields if value)
    return f"<PARTY>{party_ids}<PARTY_ROLE>{role}</PARTY_ROLE><ADDRESS>{address_xml}</ADDRESS></PARTY>"


# --- reading a supplier's documents -----------------------------------------------------------


@functools.cache
def _path(*steps: str) -> str:
    """`ORDERRESPONSE_HEADER/bme:SUPPLIER_IDREF` in Clark notation, for lxml's find."""
    return "/".join(f"{{{BMECAT}}}{step[4:]}" if step.startswith("bme:") else f"{{{NAMESPACE}}}{step}" for step in steps)


_REMARKS = _path("REMARKS")
_DELIVERY_END = _path("DELIVERY_DATE", "DELIVERY_END_DATE")
_DELIVERY_DATE = _path("DELIVERY_DATE")
_DELIVERY_END_DATE = _path("DELIVERY_END_DATE")
_LINE_ITEM_ID = _path("LINE_ITEM_ID")
_QUANTITY = _path("QUANTITY")
_ORDER_UNIT = _path("bme:ORDER_UNIT")
_ORDER_REFERENCE = _path("ORDER_REFERENCE")
_ORDER_ID = _path("ORDER_ID")


def _quantity(fields: Children, where: str) -> int:
    """An item's QUANTITY, in its ORDER_UNIT (which the schema requires)."""
    return ordered_units(child_text(fields, _QUANTITY), child_text(fields, _ORDER_UNIT), where)


def _root(document: str | bytes, kit: SchemaKit, name: str) -> etree._Element:
    root = parse_untrusted(document)
    if root.tag != f"{{{NAMESPACE}}}{name}":
        raise InvalidDocument(f"expected an openTRANS 2.1 {name} ({NAMESPACE}), got {etree.QName(root).text}")
    kit.validate(root, Schema.OPENTRANS)
    return root


def _remark(element: etree._Element) -> str | None:
    return _remark_of(element.iterfind(_REMARKS))


def _remark_of(remarks: Iterable[etree._Element]) -> str | None:
    texts = [text.strip() for text in (r.text for r in remarks) if text and text.strip()]
    return "; ".join(texts) or None


def _seller_ids(info: etree._Element, idref_path: str) -> frozenset[str]:
    """The supplier's ids: its IDREF and every PARTY_ID of the party it refers to, a `gln` or `iln`
    also as `0088:<gln>`, so a supplier may be named by the alliance's id for it or by its GLN."""
    reference = info.find(idref_path)
    if reference is None or not (reference.text or "").strip():
        return frozenset()
    value = reference.text.strip()
    party_ids = [(reference.get("type"), value)]
    for party in info.iterfind(_path("PARTIES", "PARTY")):
        ids = [(p.get("type"), (p.text or "").strip()) for p in party.iterfind(_path("bme:PARTY_ID"))]
        if any(text == value for _, text in ids):
            party_ids.extend(ids)
    return frozenset(
        f"0088:{text}" if kind in ("gln", "iln") else text for kind, text in party_ids if text
    ) | {value}


def read_order_response(document: str | bytes, kit: SchemaKit) -> SupplierAnswer:
    """An openTRANS ORDERRESPONSE: each item confirms its QUANTITY of one delivery (0: none)."""
    root = _root(document, kit, "ORDERRESPONSE")
    info = root.find(_path("ORDERRESPONSE_HEADER", "ORDERRESPONSE_INFO"))
    lines = []
    for item in root.iterfind(_path("ORDERRESPONSE_ITEM_LIST", "ORDERRESPONSE_ITEM")):
        fields = children(item)
        line_id = required_text(fields, _LINE_ITEM_ID, "LINE_ITEM_ID")
        delivery_date = first(fields, _DELIVERY_DATE)
        lines.append(AnsweredLine(
            document_line_id=line_id,
            confirmed_quantity=_quantity(fields, f"item {line_id}"),
            expected_delivery=day(None if delivery_date is None else delivery_date.findtext(_DELIVERY_END_DATE)),
            reason=_remark_of(fields.get(_REMARKS, ())),
        ))
    return SupplierAnswer(
        order_id=required_at(info, _path("ORDER_ID"), "ORDER_ID"),
        seller_ids=_seller_ids(info, _path("ORDER_PARTIES_REFERENCE", "bme:SUPPLIER_IDREF")),
        outcome=Outcome.PER_LINE,
        expected_delivery=day(info.findtext(_DELIVERY_END)),
        reason=_remark(info),
        lines=tuple(lines),
    )


def read_dispatch_notification(document: str | bytes, kit: SchemaKit) -> SupplierDespatch:
    """An openTRANS DISPATCHNOTIFICATION: one shipment of one order's items."""
    root = _root(document, kit, "DISPATCHNOTIFICATION")
    info = root.find(_path("DISPATCHNOTIFICATION_HEADER", "DISPATCHNOTIFICATION_INFO"))
    order_ids: set[str] = set()
    lines = []
    for item in root.iterfind(_path("DISPATCHNOTIFICATION_ITEM_LIST", "DISPATCHNOTIFICATION_ITEM")):
        fields = children(item)
        reference = children(first(fields, _ORDER_REFERENCE))
        order_ids.add(required_text(reference, _ORDER_ID, "ORDER_REFERENCE/ORDER_ID"))
        line_id = required_text(reference, _LINE_ITEM_ID, "ORDER_REFERENCE/LINE_ITEM_ID")
        lines.append(ShippedLine(line_id, _quantity(fields, f"item {line_id}")))
    if len(order_ids) != 1:
        raise InvalidDocument(f"the notification ships orders {', '.join(sorted(order_ids))}: one notification per order")
    deliverer = (info.findtext(_path("SHIPMENT_PARTIES_REFERENCE", "DELIVERER_IDREF")) or "").strip()
    return SupplierDespatch(
        order_id=order_ids.pop(),
        seller_ids=_seller_ids(info, _path("bme:SUPPLIER_IDREF")),
        dispatch_id=required_at(info, _path("DISPATCHNOTIFICATION_ID"), "DISPATCHNOTIFICATION_ID"),
        shipped_on=day(info.findtext(_path("DISPATCHNOTIFICATION_DATE"))),
        expected_arrival=day(info.findtext(_DELIVERY_END)),
        carrier=_party_name(info, deliverer) if deliverer else None,
        tracking_id=(info.findtext(_path("SHIPMENT_ID")) or "").strip() or None,
        lines=tuple(lines),
    )


def _party_name(info: etree._Element, party_id: str) -> str | None:
    for party in info.iterfind(_path("PARTIES", "PARTY")):
        if any((p.text or "").strip() == party_id for p in party.iterfind(_path("bme:PARTY_ID"))):
            return (party.findtext(_path("ADDRESS", "bme:NAME")) or "").strip() or None
    return None
