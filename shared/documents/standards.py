"""Which document a record carries, for each standard a supplier may choose: the one place
that maps (standard, event type) to a document, its `dataschema`, its writer and its reader.

Records stay CloudEvents with the contract's types and signature; for an XML supplier
`datacontenttype` is `application/xml`, `dataschema` names the document and `data` is the XML
as a string (../shared/contract.md, "Documents in the suppliers' own standards").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import StrEnum

from shared.contract import EventType, JointOrderPlaced
from shared.documents import opentrans, peppol
from shared.documents.answers import SupplierAnswer, SupplierDespatch
from shared.documents.parties import OrderParties
from shared.documents.safe_xml import InvalidDocument
from shared.documents.schemas import SchemaKit
from shared.documents.writing import OrderWriter, write_order

XML_CONTENT_TYPE = "application/xml"


class Standard(StrEnum):
    """A supplier's `documents` setting."""

    CLOUDEVENTS = "cloudevents"
    PEPPOL_BIS3 = "peppol-bis3"
    OPENTRANS_21 = "opentrans-2.1"


Reader = Callable[[str | bytes, SchemaKit], SupplierAnswer | SupplierDespatch]
_ANSWER_TYPES = (EventType.JOINT_ORDER_ANSWERED, EventType.JOINT_ORDER_CONFIRMED, EventType.JOINT_ORDER_REJECTED)

_ORDERS: dict[Standard, tuple[str, Callable[[str, OrderParties, date], OrderWriter]]] = {
    Standard.PEPPOL_BIS3: (peppol.ORDER, peppol.OrderWriter),
    Standard.OPENTRANS_21: (opentrans.ORDER, opentrans.OrderWriter),
}
_READERS: dict[tuple[Standard, str], tuple[str, Reader]] = {
    **{(Standard.PEPPOL_BIS3, t): (peppol.ORDER_RESPONSE, peppol.read_order_response) for t in _ANSWER_TYPES},
    (Standard.PEPPOL_BIS3, EventType.JOINT_ORDER_DISPATCHED): (peppol.DESPATCH_ADVICE, peppol.read_despatch_advice),
    **{(Standard.OPENTRANS_21, t): (opentrans.ORDERRESPONSE, opentrans.read_order_response) for t in _ANSWER_TYPES},
    (Standard.OPENTRANS_21, EventType.JOINT_ORDER_DISPATCHED): (
        opentrans.DISPATCHNOTIFICATION, opentrans.read_dispatch_notification,
    ),
}


def order_writer(standard: Standard, order_id: str, parties: OrderParties, issued: date) -> tuple[str, OrderWriter]:
    """The `dataschema` of an XML supplier's `joint_order.placed` and a writer of its document."""
    if standard not in _ORDERS:
        raise ValueError(f"{standard} suppliers get JSON, not a document")
    dataschema, writer = _ORDERS[standard]
    return dataschema, writer(order_id, parties, issued)


def render_joint_order(
    standard: Standard, order: JointOrderPlaced, parties: OrderParties, issued: date
) -> tuple[str, bytes]:
    """The `joint_order.placed` document for an XML supplier: its `dataschema` and the XML."""
    dataschema, writer = order_writer(standard, order.order_id, parties, issued)
    return dataschema, write_order(writer, order).encode()


def read_supplier_document(
    standard: Standard, event_type: str, dataschema: str | None, document: str, kit: SchemaKit
) -> SupplierAnswer | SupplierDespatch:
    """A supplier's answer or despatch document, read and checked; `InvalidDocument` when the
    record's type and `dataschema` do not name this standard's document, or the document is
    unsafe, malformed, or not valid against its schema."""
    reading = _READERS.get((standard, event_type))
    if reading is None:
        raise InvalidDocument(f"{event_type!r} carries no {standard} document")
    expected, read = reading
    if dataschema != expected:
        raise InvalidDocument(f"dataschema {dataschema!r}: a {standard} {event_type} is {expected!r}")
    return read(document, kit)
