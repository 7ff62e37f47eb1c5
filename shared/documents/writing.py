"""Small pieces both standards' writers and readers share: XML text from our strings, amounts
as the documents state them, the order writers' shape, and fields, quantities and dates as
documents give them.

The writers quote attribute values with apostrophes: a document travels as a JSON string, in
which every double quote would cost an escape."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import NamedTuple, Protocol

from lxml import etree
from pydantic import TypeAdapter

from shared.contract import JointOrderPlaced, ShipTo, UnitPrice
from shared.documents.safe_xml import InvalidDocument

_NEEDS_ESCAPE = re.compile('[&<>"\'\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_UNIT_PRICE: TypeAdapter[Decimal] = TypeAdapter(UnitPrice)
MAX_QUANTITY = 10**12
UNIT = "C62"
"""UN/ECE Rec 20 "one": the contract counts units, whatever the catalog calls them; every order is
placed in it and a supplier's quantities are read only in it."""


class DocumentDelivery(NamedTuple):
    """A delivery as an order document states it: the contract's `Delivery`, its id set."""

    delivery_id: str
    member_id: str
    ship_to: ShipTo | None
    quantity: int
    needed_by: date


class OrderWriter(Protocol):
    """An order document written line by line (a close writes each line as it is decided), then
    finished once the order is whole."""

    def add_line(self, line_id: str, sku: str, unit_price: Decimal, deliveries: Iterable[DocumentDelivery]) -> None: ...

    def finish(self, cycle_id: str, currency: str, total: Decimal) -> str: ...


def write_order(writer: OrderWriter, order: JointOrderPlaced) -> str:
    """`joint_order.placed` as the writer's document."""
    for line in order.lines:
        deliveries = []
        for d in line.deliveries:
            if d.delivery_id is None:
                raise ValueError(f"order {order.order_id}: line {line.line_id} has a delivery without delivery_id")
            deliveries.append(DocumentDelivery(d.delivery_id, d.member_id, d.ship_to, d.quantity, d.needed_by))
        writer.add_line(line.line_id, line.sku, line.unit_price, deliveries)
    return writer.finish(order.cycle_id, order.currency, order.total)


def xml_text(value: str) -> str:
    """`value` as XML text or attribute value (either quote): markup escaped, characters XML 1.0
    cannot carry (control characters from a member's free text) replaced by U+FFFD."""
    if _NEEDS_ESCAPE.search(value) is None:
        return value
    value = _NOT_XML.sub("\ufffd", value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace('"', "&quot;").replace("'", "&apos;")


def unit_price_text(price: Decimal) -> str:
    """As the contract writes a unit price: cents at least, more digits only where the catalog has them."""
    return _UNIT_PRICE.dump_python(price, mode="json")


def whole_quantity(text: str | None, where: str) -> int:
    """A document's quantity ("3", "3.0") as the contract's integer; fractions are refused."""
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        raise InvalidDocument(f"{where}: quantity {text!r} is not a number") from None
    if value != value.to_integral_value() or not 0 <= value <= MAX_QUANTITY:
        raise InvalidDocument(f"{where}: quantity {text!r} is not a whole number of units from 0 to {MAX_QUANTITY}")
    return int(value)


def ordered_units(text: str | None, unit: str | None, where: str) -> int:
    """A quantity a supplier states, in the unit it was ordered in: a quantity in boxes or
    kilograms is refused, not read as pieces. A quantity naming no unit (UBL makes it optional)
    counts in the ordered unit."""
    if unit is not None and unit.strip() != UNIT:
        raise InvalidDocument(f"{where}: quantity in {unit.strip()!r}: the alliance orders and reads quantities in {UNIT}")
    return whole_quantity(text, where)


Children = dict[str, list[etree._Element]]
"""An element's children by tag (Clark notation), in document order."""


def children(element: etree._Element | None) -> Children:
    """One pass over an element's children instead of an ElementPath search per field: a
    document's lines are read field by field, and reading keeps up with 2,000 documents a
    second. Empty for an absent element."""
    found: Children = {}
    if element is not None:
        for child in element.iterchildren(tag=etree.Element):
            found.setdefault(child.tag, []).append(child)
    return found


def first(found: Children, tag: str) -> etree._Element | None:
    elements = found.get(tag)
    return None if elements is None else elements[0]


def child_text(found: Children, tag: str) -> str | None:
    """What `findtext(tag)` gives: the first such child's text ("" when empty), None when absent."""
    elements = found.get(tag)
    return None if elements is None else elements[0].text or ""


def required_text(found: Children, tag: str, what: str) -> str:
    """The first such child's text, trimmed; `InvalidDocument` naming `what` when absent or blank."""
    return _present((child_text(found, tag) or "").strip(), what)


def required_at(element: etree._Element, path: str, what: str) -> str:
    """The text at `path` below `element`, trimmed; `InvalidDocument` naming `what` when absent or blank."""
    return _present((element.findtext(path) or "").strip(), what)


def _present(text: str, what: str) -> str:
    if not text:
        raise InvalidDocument(f"the document has no {what}")
    return text


def day(text: str | None) -> date | None:
    """The date of an ISO date or date-time ("2026-11-21", "2026-11-21T10:00:00+01:00")."""
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise InvalidDocument(f"{text!r} is not a date") from None
