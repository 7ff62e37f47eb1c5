"""What placing joint orders publishes, rendered straight to JSON: the suppliers' signed
`joint_order.placed` and the members' `purchase_request.ordered` and `purchase_request.unfulfillable`
notices. The one renderer of these records: a cycle close publishes all of them, re-sourcing its
new orders' `joint_order.placed`.

A close over 100k requests publishes ~30 MB: one `joint_order.placed` per supplier and one
record per member with all its notices. Built through the contract's models that is seconds of
CPU; here each record is written from strings as the decisions come (the contract's models
read them back to the same bytes: `tests/unit/procurement/test_order_records.py`). The parts
that are not plain data still come from the contract's code: the CloudEvent envelope from
`event_bytes` once per record type and time, escaped text from pydantic, unit prices from
`UnitPrice`'s serializer, amounts from `to_cents`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import itemgetter

import pydantic_core
from pydantic import TypeAdapter

from services.procurement.domain.demand import OpenRequest
from services.procurement.domain.orders import JointOrder, OrderLine, delivery_id
from services.procurement.service_layer.documents import DocumentSetting, OrderDocument, order_document
from services.procurement.service_layer.publishing import placed_status_message, signed_for_supplier
from shared import topics
from shared.contract import EventType, ShipTo, UnitPrice, to_cents
from shared.events.notices import MEMBER_NOTICES_REQUESTED
from shared.events.procurement import SOURCE
from shared.messaging.envelope import document_event_bytes, event_bytes
from shared.messaging.notices import notice_id
from shared.messaging.records import OutboundMessage
from shared.runtime.topics import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

NOTICES_PER_RECORD = 1_000
"""A member's notices of one close go in records of at most this many (~300 kB), well under
the 1 MB a consumer accepts, however many requests one member has open."""

_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_UNIT_PRICE: TypeAdapter[Decimal] = TypeAdapter(UnitPrice)
_ORDERED = EventType.PURCHASE_REQUEST_ORDERED.value
_UNFULFILLABLE = EventType.PURCHASE_REQUEST_UNFULFILLABLE.value


def json_text(text: str) -> str:
    """A JSON string exactly as pydantic writes it (UTF-8, only quotes, backslashes and control
    characters escaped)."""
    if _NEEDS_ESCAPE.search(text) is None:
        return f'"{text}"'
    return pydantic_core.to_json(text).decode()


def unit_price_text(price: Decimal) -> str:
    """The contract's text of a unit price (`UnitPrice`), e.g. "9.00" or "0.125"."""
    return _UNIT_PRICE.dump_python(price, mode="json")


def amount_text(amount: Decimal) -> str:
    """The contract's text of an amount (`Amount`): rounded to cents."""
    return str(to_cents(amount))


class Envelope:
    """The CloudEvent around a record's data, as `event_bytes(...)` writes it, for events
    of one type and time: pydantic renders it once, each record only fills in id and data."""

    def __init__(self, event_type: str, when: datetime) -> None:
        probe = event_bytes(event_type, SOURCE, {}, event_id="-", time=when)
        head, marker, rest = probe.partition(b'"id":"-"')
        if not marker or not rest.endswith(b'"data":{}}'):
            raise AssertionError(f"unexpected CloudEvent rendering: {probe!r}")
        self._head = head + b'"id":'
        self._middle = rest[: -len(b"{}}")]

    def render(self, event_id: str, data_json: str) -> bytes:
        return b"".join((self._head, json_text(event_id).encode(), self._middle, data_json.encode(), b"}"))


def _ship_to_json(ship_to: ShipTo | None) -> str:
    if ship_to is None:
        return "null"
    site, postal_code, country = json_text(ship_to.site), json_text(ship_to.postal_code), json_text(ship_to.country)
    return f'{{"site":{site},"postal_code":{postal_code},"country":{country}}}'


def _line_json(line: OrderLine, unit_price: str) -> str:
    """The line as the supplier's `joint_order.placed` carries it (`unit_price` already the contract's
    text), each delivery with its `delivery_id` (contract v1.1)."""
    line_id = line.line_id
    deliveries = ",".join([
        f'{{"member_id":{json_text(d.member_id)},"ship_to":{_ship_to_json(d.ship_to)},'
        f'"quantity":{d.quantity},"needed_by":"{d.needed_by.isoformat()}",'
        f'"delivery_id":{json_text(delivery_id(line_id, d))}}}'
        for d in line.deliveries
    ])
    return (
        f'{{"line_id":{json_text(line.line_id)},"sku":{json_text(line.sku)},"quantity":{line.quantity},'
        f'"unit_price":"{unit_price}","deliveries":[{deliveries}]}}'
    )


def _placed_messages(
    order: JointOrder, lines_json: Sequence[str], supplier_secret: str, document: OrderDocument | None
) -> list[OutboundMessage]:
    """`document`: an XML supplier's, every line written (the same record, its data the XML)."""
    now = time.time()
    when = datetime.fromtimestamp(now, UTC)
    event_id = f"{order.order_id}.placed"
    if document is not None:
        value = document_event_bytes(
            EventType.JOINT_ORDER_PLACED, SOURCE, document.dataschema, document.finish(order), event_id, when
        )
    else:
        data = (
            f'{{"order_id":{json_text(order.order_id)},"supplier_id":{json_text(order.supplier_id)},'
            f'"cycle_id":{json_text(order.cycle_id)},"currency":"EUR","total":"{amount_text(order.total)}",'
            f'"lines":[{",".join(lines_json)}]}}'
        )
        value = Envelope(EventType.JOINT_ORDER_PLACED, when).render(event_id, data)
    if len(value) > MAX_MESSAGE_BYTES:
        log.error("order %s for %s is a %d-byte %s record, more than a record may be (%d): it waits in the outbox,"
                  " unpublished (docs/suppliers.md, Limits)", order.order_id, order.supplier_id, len(value),
                  "cloudevents" if document is None else document.standard, MAX_MESSAGE_BYTES)
    signed = signed_for_supplier(order.supplier_id, value, supplier_secret, now, compressed=document is not None)
    return [signed, placed_status_message(order)]


def placed_messages(
    order: JointOrder, supplier_secret: str, document: DocumentSetting | None = None
) -> list[OutboundMessage]:
    """The signed `joint_order.placed` for the supplier and our own `alliance.joint_order.placed`,
    for an order placed whole (re-sourcing); a close renders its lines as they come (`CloseRecords`)."""
    if document is not None:
        return _placed_messages(order, (), supplier_secret, order_document(order, document, datetime.now(UTC).date()))
    lines_json = [_line_json(line, unit_price_text(line.unit_price)) for line in order.lines]
    return _placed_messages(order, lines_json, supplier_secret, None)


class CloseRecords:
    """Collects what a close tells suppliers and members as its order lines and leftovers come,
    then renders the records: the suppliers' signed `joint_order.placed`, our own
    `alliance.joint_order.placed`, and one record per member (in chunks of `NOTICES_PER_RECORD`)
    with all its notices, each notice with its own deterministic id."""

    def __init__(
        self, cycle_id: str, documents: Mapping[str, DocumentSetting] | None = None, issued: date | None = None
    ) -> None:
        """`documents`: the XML suppliers' settings (their orders' documents are written as their
        lines come, issued on `issued`; no JSON is written for them)."""
        self.cycle_id = cycle_id
        self._documents = documents or {}
        self._issued = issued or datetime.now(UTC).date()
        self._lines: dict[str, str] = {}
        """line_id -> the line's JSON in the supplier's order."""
        self._order_documents: dict[str, OrderDocument] = {}
        """order_id -> an XML supplier's document, its lines written so far."""
        self._ordered: dict[str, list[tuple[str, str, str]]] = {}
        """member -> (supplier_id, notice id, notice JSON) of each of its placed requests."""
        self._unfulfillable: dict[str, list[tuple[str, str]]] = {}

    def ordered(self, supplier_id: str, order_id: str, line: OrderLine) -> Decimal:
        """A new order line: its part of the supplier's order and each delivery's notice to its
        member. Returns what the line's deliveries saved."""
        prices: dict[int, str] = {}

        def price(value: Decimal) -> str:
            text = prices.get(id(value))
            if text is None:
                text = prices[id(value)] = unit_price_text(value)
            return text

        unit_price = price(line.unit_price)
        setting = self._documents.get(supplier_id)
        if setting is None:
            self._lines[line.line_id] = _line_json(line, unit_price)
        else:
            document = self._order_documents.get(order_id)
            if document is None:
                document = self._order_documents[order_id] = OrderDocument(order_id, setting, self._issued)
            document.add_line(line)
        quoted_order, quoted_supplier = json_text(order_id), json_text(supplier_id)
        saved = Decimal(0)
        notices = self._ordered
        for d in line.deliveries:
            standalone = d.standalone_unit_price
            standalone_json = "null" if standalone is None else f'"{price(standalone)}"'
            savings = d.savings
            saved += savings
            member = d.member_id
            nid = notice_id(member, _ORDERED, f"{line.line_id}:{d.request_id}")
            told = notices.get(member)
            if told is None:
                told = notices[member] = []
            told.append((supplier_id, nid, (
                f'{{"notice_id":"{nid}","notice_type":"{_ORDERED}","data":{{"request_id":{json_text(d.request_id)},'
                f'"order_id":{quoted_order},"supplier_id":{quoted_supplier},"quantity":{d.quantity},'
                f'"unit_price":"{unit_price}","standalone_unit_price":{standalone_json},'
                f'"savings":"{amount_text(savings)}"}}}}'
            )))
        return saved

    def unfulfillable(self, request: OpenRequest, reason: str) -> None:
        nid = notice_id(request.member_id, _UNFULFILLABLE, f"{self.cycle_id}:{request.request_id}")
        self._unfulfillable.setdefault(request.member_id, []).append((nid, (
            f'{{"notice_id":"{nid}","notice_type":"{_UNFULFILLABLE}","data":{{"request_id":'
            f'{json_text(request.request_id)},"reason":{json_text(reason)}}}}}'
        )))

    def order_messages(self, order: JointOrder, supplier_secret: str) -> list[OutboundMessage]:
        """`placed_messages` of the order, from its lines as `ordered` wrote them."""
        document = self._order_documents.get(order.order_id)
        lines_json = () if document is not None else [self._lines[line.line_id] for line in order.lines]
        return _placed_messages(order, lines_json, supplier_secret, document)

    def member_messages(self) -> list[OutboundMessage]:
        """One record per member (more past `NOTICES_PER_RECORD`): its placed requests by
        supplier, then line, then request, then the ones given up on."""
        envelope = Envelope(MEMBER_NOTICES_REQUESTED, datetime.now(UTC))
        topic = topics.MEMBER_NOTICES
        by_supplier = itemgetter(0)
        messages = []
        members = dict.fromkeys(self._ordered)
        members.update(dict.fromkeys(self._unfulfillable))
        for member in members:
            told = [(nid, notice) for _, nid, notice in sorted(self._ordered.get(member, ()), key=by_supplier)]
            told += self._unfulfillable.get(member, [])
            key = member.encode()
            quoted = json_text(member)
            for start in range(0, len(told), NOTICES_PER_RECORD):
                chunk = told[start : start + NOTICES_PER_RECORD]
                event_id = notice_id(member, *(nid for nid, _ in chunk))
                data = f'{{"member_id":{quoted},"notices":[{",".join(notice for _, notice in chunk)}]}}'
                messages.append(OutboundMessage(topic=topic, key=key, value=envelope.render(event_id, data)))
        return messages


__all__ = [
    "NOTICES_PER_RECORD",
    "CloseRecords",
    "Envelope",
    "amount_text",
    "json_text",
    "placed_messages",
    "unit_price_text",
]
