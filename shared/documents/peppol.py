"""PEPPOL BIS Ordering 3 and Despatch Advice 3 (UBL 2.1): the Order the alliance sends, the Order
Response and Despatch Advice it reads (docs/suppliers.md has the mapping of every field).

PEPPOL's Order carries at most one delivery place, for the whole order, and lets a line state
only its requested period. A joint order line with several deliveries is therefore written as one
document line per delivery: `cbc:ID` is the `delivery_id`, `cbc:AccountingCost` the order line's
`line_id`, the member is the line's `OriginatorParty`, its requested period ends on `needed_by`,
and the line's note says where it goes; the order-level `Delivery` names the place when all
deliveries share one. A supplier answers and ships per document line, referring to it by
`delivery_id` (`OrderLineReference/LineID`).

The Order is written from strings, not built as a tree: a close publishes orders with 100k
lines, and the text is a few microseconds per line where a tree is tens. The tests validate what
it writes against the UBL 2.1 schema and PEPPOL's rules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
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

ORDER = "urn:fdc:peppol.eu:poacc:trns:order:3"
ORDER_RESPONSE = "urn:fdc:peppol.eu:poacc:trns:order_response:3"
DESPATCH_ADVICE = "urn:fdc:peppol.eu:poacc:trns:despatch_advice:3"
"""The transactions' CustomizationIDs, which are also the records' `dataschema`."""
ORDERING_PROFILE = "urn:fdc:peppol.eu:poacc:bis:ordering:3"

_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_ORDER_NS = "urn:oasis:names:specification:ubl:schema:xsd:Order-2"
_RESPONSE_NS = "urn:oasis:names:specification:ubl:schema:xsd:OrderResponse-2"
_DESPATCH_NS = "urn:oasis:names:specification:ubl:schema:xsd:DespatchAdvice-2"


# --- the Order --------------------------------------------------------------------------------


class OrderWriter:
    """A PEPPOL BIS 3 Order (T01) written line by line, as a close decides its lines, and
    finished once the order is whole: the lines' text costs the close nothing after its solve."""

    def __init__(self, order_id: str, parties: OrderParties, issued: date) -> None:
        self._order_id = order_id
        self._parties = parties
        self._issued = issued
        self._places: set[tuple[str, Address]] = set()
        self._member_on_line: dict[tuple[str, tuple[str, str, str] | None], tuple[str, str]] = {}
        """The same XML by member and `ship_to`: cheaper to look up than a place."""
        self._dates: dict[date, str] = {}
        self._lines: list[str] = []
        self._lines_total = Decimal(0)

    def add_line(self, line_id: str, sku: str, unit_price: Decimal, deliveries: Iterable[DocumentDelivery]) -> None:
        """One document line per delivery of the order line: the parts of its XML that repeat
        (a member's, a quantity's with its amount, a date's) are written once."""
        parties, dates = self._parties, self._dates
        quantities: dict[int, tuple[Decimal, str]] = {}
        accounting = f"<cbc:AccountingCost>{xml_text(line_id)}</cbc:AccountingCost>"
        tail = (
            f"<cac:Price><cbc:PriceAmount currencyID='EUR'>{unit_price_text(unit_price)}</cbc:PriceAmount></cac:Price>"
            f"<cac:Item><cbc:Name>{xml_text(sku)}</cbc:Name><cac:SellersItemIdentification>"
            f"<cbc:ID>{xml_text(sku)}</cbc:ID></cac:SellersItemIdentification></cac:Item></cac:LineItem></cac:OrderLine>"
        )
        lines, lines_total = self._lines, self._lines_total
        for delivery in deliveries:
            ship_to = delivery.ship_to
            seen = (delivery.member_id, None if ship_to is None else (ship_to.site, ship_to.postal_code, ship_to.country))
            member_xml = self._member_on_line.get(seen)
            if member_xml is None:
                place = parties.delivery_place(delivery)
                self._places.add((delivery.member_id, place))
                member_xml = self._member_on_line[seen] = _member_on_line(parties.member(delivery.member_id), place)
            quantity = quantities.get(delivery.quantity)
            if quantity is None:
                amount = to_cents(unit_price * delivery.quantity)
                quantity = quantities[delivery.quantity] = (amount, (
                    f"</cbc:ID><cbc:Quantity unitCode='{UNIT}'>{delivery.quantity}</cbc:Quantity>"
                    f"<cbc:LineExtensionAmount currencyID='EUR'>{amount}</cbc:LineExtensionAmount>{accounting}"
                    "<cac:Delivery><cac:RequestedDeliveryPeriod><cbc:EndDate>"
                ))
            needed_by = dates.get(delivery.needed_by)
            if needed_by is None:
                needed_by = dates[delivery.needed_by] = (
                    f"{delivery.needed_by.isoformat()}</cbc:EndDate></cac:RequestedDeliveryPeriod></cac:Delivery>"
                )
            lines_total += quantity[0]
            lines.append(
                f"{member_xml[0]}{xml_text(delivery.delivery_id)}{quantity[1]}{needed_by}{member_xml[1]}{tail}"
            )
        self._lines_total = lines_total

    def finish(self, cycle_id: str, currency: str, total: Decimal) -> str:
        """The whole document; `total` is the order's (its lines' amounts before rounding)."""
        parties, lines_total = self._parties, self._lines_total
        payable = to_cents(total)
        rounding = payable - lines_total
        totals = (
            f"<cbc:LineExtensionAmount currencyID='EUR'>{lines_total}</cbc:LineExtensionAmount>"
            f"<cbc:TaxExclusiveAmount currencyID='EUR'>{lines_total}</cbc:TaxExclusiveAmount>"
            f"<cbc:TaxInclusiveAmount currencyID='EUR'>{lines_total}</cbc:TaxInclusiveAmount>"
            + (f"<cbc:PayableRoundingAmount currencyID='EUR'>{rounding}</cbc:PayableRoundingAmount>" if rounding else '')
            + f"<cbc:PayableAmount currencyID='EUR'>{payable}</cbc:PayableAmount>"
        )
        delivery_xml = ""
        if len(self._places) == 1:
            ((member_id, place),) = self._places
            member = parties.member(member_id)
            delivery_xml = (
                f"<cac:Delivery><cac:DeliveryLocation>{_address('Address', place)}</cac:DeliveryLocation>"
                f"<cac:DeliveryParty>{_identification(member)}<cac:PartyName><cbc:Name>"
                f"{xml_text(member.name)}</cbc:Name></cac:PartyName></cac:DeliveryParty></cac:Delivery>"
            )
        document = (
            f"<?xml version='1.0' encoding='UTF-8'?><Order xmlns='{_ORDER_NS}' xmlns:cac='{_CAC}' xmlns:cbc='{_CBC}'>"
            f"<cbc:CustomizationID>{ORDER}</cbc:CustomizationID><cbc:ProfileID>{ORDERING_PROFILE}</cbc:ProfileID>"
            f"<cbc:ID>{xml_text(self._order_id)}</cbc:ID><cbc:IssueDate>{self._issued.isoformat()}</cbc:IssueDate>"
            f"<cbc:DocumentCurrencyCode>{currency}</cbc:DocumentCurrencyCode>"
            f"<cbc:CustomerReference>{xml_text(cycle_id)}</cbc:CustomerReference>"
            f"<cac:BuyerCustomerParty><cac:Party>{_trading_party(parties.buyer, identified=False)}</cac:Party>"
            f"</cac:BuyerCustomerParty><cac:SellerSupplierParty><cac:Party>{_trading_party(parties.seller, identified=True)}"
            f"</cac:Party></cac:SellerSupplierParty>{delivery_xml}"
            f"<cac:AnticipatedMonetaryTotal>{totals}</cac:AnticipatedMonetaryTotal>{''.join(self._lines)}</Order>"
        )
        return document


def render_order(order: JointOrderPlaced, parties: OrderParties, issued: date) -> bytes:
    """The joint order as a PEPPOL BIS 3 Order (T01), UTF-8."""
    return write_order(OrderWriter(order.order_id, parties, issued), order).encode()


def _trading_party(party: Party, identified: bool) -> str:
    """Buyer or seller: endpoint, name, address, VAT and legal name, as T01 requires them."""
    if party.peppol_id is None or party.vat_id is None:
        raise ValueError(f"{party.party_id} needs a peppol_id and a vat_id to appear in a PEPPOL order")
    scheme, endpoint = split_peppol_id(party.peppol_id)
    name = xml_text(party.name)
    identification = (
        f"<cac:PartyIdentification><cbc:ID>{xml_text(party.party_id)}</cbc:ID></cac:PartyIdentification>"
        if identified else ""
    )
    return (
        f"<cbc:EndpointID schemeID='{xml_text(scheme)}'>{xml_text(endpoint)}</cbc:EndpointID>{identification}"
        f"<cac:PartyName><cbc:Name>{name}</cbc:Name></cac:PartyName>{_address('PostalAddress', party.address)}"
        f"<cac:PartyTaxScheme><cbc:CompanyID>{xml_text(party.vat_id)}</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT"
        f"</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"
        f"<cac:PartyLegalEntity><cbc:RegistrationName>{name}</cbc:RegistrationName></cac:PartyLegalEntity>"
    )


def _address(element: str, address: Address) -> str:
    parts = [
        f"<cbc:{name}>{xml_text(value)}</cbc:{name}>"
        for name, value in (("StreetName", address.street), ("CityName", address.city), ("PostalZone", address.postal_code))
        if value
    ]
    country = f"<cac:Country><cbc:IdentificationCode>{address.country}</cbc:IdentificationCode></cac:Country>"
    return f"<cac:{element}>{''.join(parts)}{country}</cac:{element}>"


def _identification(member: Party) -> str:
    """The member's peppol id where it has one, else the alliance's id for it. An identification
    scheme must be an ISO 6523 ICD (0xxx); a peppol id of an EAS-only scheme (99xx) is written whole,
    without one."""
    if member.peppol_id is None or not member.peppol_id.startswith("0"):
        shown = member.party_id if member.peppol_id is None else member.peppol_id
        return f"<cac:PartyIdentification><cbc:ID>{xml_text(shown)}</cbc:ID></cac:PartyIdentification>"
    scheme, identifier = split_peppol_id(member.peppol_id)
    return (
        f"<cac:PartyIdentification><cbc:ID schemeID='{xml_text(scheme)}'>{xml_text(identifier)}</cbc:ID>"
        "</cac:PartyIdentification>"
    )


@functools.lru_cache(maxsize=65_536)
def _member_on_line(member: Party, place: Address) -> tuple[str, str]:
    """The document line's start up to its id, with the note saying where it goes, and its
    originator party (the member)."""
    where = ", ".join(xml_text(part) for part in (place.street, place.postal_code, place.country) if part)
    note = f"<cbc:Note>Deliver to {xml_text(member.name)} ({xml_text(member.party_id)}): {where}</cbc:Note>"
    originator = (
        f"<cac:OriginatorParty>{_identification(member)}<cac:PartyName><cbc:Name>{xml_text(member.name)}"
        "</cbc:Name></cac:PartyName></cac:OriginatorParty>"
    )
    return f"<cac:OrderLine>{note}<cac:LineItem><cbc:ID>", originator


# --- reading a supplier's documents -----------------------------------------------------------


@functools.cache
def _path(*steps: str) -> str:
    """`cac:Delivery/cbc:EndDate` in Clark notation, for lxml's find."""
    spaces = {"cac": _CAC, "cbc": _CBC}
    return "/".join(f"{{{spaces[step[:3]]}}}{step[4:]}" for step in steps)


_ID = _path("cbc:ID")
_CUSTOMIZATION = _path("cbc:CustomizationID")
_NOTE = _path("cbc:Note")
_ORDER_REFERENCE = _path("cac:OrderReference", "cbc:ID")
_PROMISED = _path("cac:Delivery", "cac:PromisedDeliveryPeriod")
_END, _START = _path("cbc:EndDate"), _path("cbc:StartDate")
# a line's fields, one step each (read through `children`)
_LINE_ITEM, _LINE_REFERENCE, _LINE_ID = _path("cac:LineItem"), _path("cac:OrderLineReference"), _path("cbc:LineID")
_STATUS, _QUANTITY, _DELIVERED = _path("cbc:LineStatusCode"), _path("cbc:Quantity"), _path("cbc:DeliveredQuantity")
_DELIVERY, _PROMISED_PERIOD, _ORDER = _path("cac:Delivery"), _path("cac:PromisedDeliveryPeriod"), _path("cac:OrderReference")


def _root(document: str | bytes, kit: SchemaKit, namespace: str, name: str, schema: Schema, customization: str):
    root = parse_untrusted(document)
    if root.tag != f"{{{namespace}}}{name}":
        raise InvalidDocument(f"expected a UBL {name} ({namespace}), got {etree.QName(root).text}")
    kit.validate(root, schema)
    given = (root.findtext(_CUSTOMIZATION) or "").strip()
    if not given.startswith(customization):
        raise InvalidDocument(f"CustomizationID {given!r} does not start with {customization!r}")
    return root


def _text(element: etree._Element, path: str) -> str | None:
    """A free text the document gives, trimmed; None when absent or blank."""
    return (element.findtext(path) or "").strip() or None


def _seller_ids(party: etree._Element | None) -> frozenset[str]:
    """The ids a document's seller party gives: its endpoint and identifications, as
    `<scheme>:<id>` where a scheme is given."""
    if party is None:
        return frozenset()
    ids = set()
    for element in (party.find(_path("cbc:EndpointID")), *party.iterfind(_path("cac:PartyIdentification", "cbc:ID"))):
        if element is not None and element.text and element.text.strip():
            scheme = element.get("schemeID")
            ids.add(f"{scheme}:{element.text.strip()}" if scheme else element.text.strip())
    return frozenset(ids)


def _period_end(period: etree._Element | None) -> date | None:
    """The last day of a period (its end, or its start when it states only that)."""
    if period is None:
        return None
    return day(period.findtext(_END)) or day(period.findtext(_START))


def _quantity(element: etree._Element | None, where: str) -> int | None:
    """A quantity element's value in the ordered unit; None when the element is absent."""
    return None if element is None else ordered_units(element.text, element.get("unitCode"), where)


_LINE_STATUS: dict[str, Callable[[Children, str], int | None]] = {
    "5": lambda item, where: None,
    "7": lambda item, where: 0,
    "3": lambda item, where: _quantity(first(item, _QUANTITY), where),
}
"""UNCL1229 line status codes of T76: accepted, not accepted, changed (the quantity it will deliver,
or as ordered when only the date changed)."""


def read_order_response(document: str | bytes, kit: SchemaKit) -> SupplierAnswer:
    """A PEPPOL Order Response (T76): AP accepts the order, RE rejects it, CA answers per line."""
    root = _root(document, kit, _RESPONSE_NS, "OrderResponse", Schema.UBL_ORDER_RESPONSE, ORDER_RESPONSE)
    code = required_at(root, _path("cbc:OrderResponseCode"), "OrderResponseCode")
    order_lines = root.findall(_path("cac:OrderLine"))
    if code == "AB":
        raise InvalidDocument("OrderResponseCode AB only acknowledges receipt: answer with AP, RE or CA")
    if code not in ("AP", "RE", "CA"):
        raise InvalidDocument(f"OrderResponseCode {code!r} is none of AP, RE, CA")
    if (code == "CA") != bool(order_lines):
        raise InvalidDocument(
            "PEPPOL-T76-R007: CA lists the order lines" if code == "CA" else f"PEPPOL-T76-R008/R009: {code} lists no lines"
        )
    lines = []
    for order_line in order_lines:
        line = children(order_line)
        item = children(first(line, _LINE_ITEM))
        line_id = required_text(children(first(line, _LINE_REFERENCE)), _LINE_ID, "OrderLineReference/LineID")
        status = (child_text(item, _STATUS) or "").strip()
        confirmed = _LINE_STATUS.get(status)
        if confirmed is None:
            raise InvalidDocument(f"line {line_id}: LineStatusCode {status!r} is none of 3, 5, 7")
        lines.append(AnsweredLine(
            document_line_id=line_id,
            confirmed_quantity=confirmed(item, f"line {line_id}"),
            expected_delivery=_period_end(first(children(first(item, _DELIVERY)), _PROMISED_PERIOD)),
            reason=(child_text(item, _NOTE) or "").strip() or None,
        ))
    return SupplierAnswer(
        order_id=required_at(root, _ORDER_REFERENCE, "OrderReference/ID"),
        seller_ids=_seller_ids(root.find(_path("cac:SellerSupplierParty", "cac:Party"))),
        outcome={"AP": Outcome.ACCEPTED, "RE": Outcome.REJECTED}.get(code, Outcome.PER_LINE),
        expected_delivery=_period_end(root.find(_PROMISED)),
        reason=_text(root, _NOTE),
        lines=tuple(lines),
    )


def read_despatch_advice(document: str | bytes, kit: SchemaKit) -> SupplierDespatch:
    """A PEPPOL Despatch Advice (T16): one shipment of one order's document lines."""
    root = _root(document, kit, _DESPATCH_NS, "DespatchAdvice", Schema.UBL_DESPATCH_ADVICE, DESPATCH_ADVICE)
    order_id = required_at(root, _ORDER_REFERENCE, "OrderReference/ID")
    lines = []
    for despatch_line in root.iterfind(_path("cac:DespatchLine")):
        line = children(despatch_line)
        reference = children(first(line, _LINE_REFERENCE))
        line_id = required_text(reference, _LINE_ID, "OrderLineReference/LineID")
        other_order = (child_text(children(first(reference, _ORDER)), _ID) or order_id).strip()
        if other_order != order_id:
            raise InvalidDocument(f"line {line_id} ships order {other_order}, not {order_id}: one advice per order")
        quantity = _quantity(first(line, _DELIVERED), f"line {line_id}")
        lines.append(ShippedLine(line_id, quantity or 0))
    delivery = root.find(_path("cac:Shipment", "cac:Delivery"))
    shipment = root.find(_path("cac:Shipment"))
    return SupplierDespatch(
        order_id=order_id,
        seller_ids=_seller_ids(root.find(_path("cac:DespatchSupplierParty", "cac:Party"))),
        dispatch_id=required_at(root, _ID, "ID"),
        shipped_on=(None if delivery is None else day(delivery.findtext(_path("cac:Despatch", "cbc:ActualDespatchDate"))))
        or day(root.findtext(_path("cbc:IssueDate"))),
        expected_arrival=None if delivery is None else _period_end(delivery.find(_path("cac:EstimatedDeliveryPeriod"))),
        carrier=None if shipment is None else _text(
            shipment, _path("cac:Consignment", "cac:CarrierParty", "cac:PartyName", "cbc:Name")
        ),
        tracking_id=None if delivery is None else _text(delivery, _path("cbc:TrackingID")),
        lines=tuple(lines),
    )
