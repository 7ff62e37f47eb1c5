"""Suppliers in their own standards (contract v1.1, docs/suppliers.md). Out: who appears in a
supplier's order document, and the document itself, written by shared/documents from the same
lines its JSON twin carries (so its totals are the JSON order's to the cent). In: a
supplier's order response or despatch advice read into the JSON event it stands for, which the
intake pipeline then judges exactly as the JSON one (same Accept entries, rules and reasons).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from services.procurement.adapters import metrics
from services.procurement.domain.catalog import Supplier
from services.procurement.domain.orders import JointOrder, OrderLine, delivery_id
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared.contract import CloudEvent, Delivery, JointOrderPlaced, to_cents
from shared.contract import OrderLine as ContractLine
from shared.documents.answers import SupplierAnswer
from shared.documents.parties import ALLIANCE_MEMBER_ID, Address, OrderParties, Party
from shared.documents.safe_xml import InvalidDocument
from shared.documents.schemas import SchemaKit
from shared.documents.standards import Standard, order_writer, read_supplier_document
from shared.documents.writing import DocumentDelivery

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DocumentSetting:
    """How one supplier's orders are written: its standard, and the parties they name."""

    standard: Standard
    parties: OrderParties


async def document_settings(
    uow: ProcurementUnitOfWork, orders: Sequence[JointOrder], suppliers: Mapping[str, Supplier]
) -> dict[str, DocumentSetting]:
    """The settings of the XML suppliers among these orders' (one read of the members' parties).
    A member whose profile has not reached procurement yet is named by its id, in the alliance's
    country; without the alliance's own party (the seed and the admin API insist on it) the
    orders go as JSON, logged."""
    xml = {o.supplier_id for o in orders if suppliers[o.supplier_id].documents is not Standard.CLOUDEVENTS}
    wanted = {d.member_id for o in orders if o.supplier_id in xml for _, d in o.deliveries()}
    return await _settings(uow, xml, wanted, suppliers)


async def close_document_settings(
    uow: ProcurementUnitOfWork, suppliers: Sequence[Supplier], member_ids: Iterable[str]
) -> dict[str, DocumentSetting]:
    """`document_settings` of every XML supplier, naming any of `member_ids` (those with demand in
    a close): read before the close decides, so its documents are rendered while its writes go on."""
    xml = {s.supplier_id for s in suppliers if s.documents is not Standard.CLOUDEVENTS}
    return await _settings(uow, xml, set(member_ids) if xml else set(), {s.supplier_id: s for s in suppliers})


async def _settings(
    uow: ProcurementUnitOfWork, xml: set[str], wanted: set[str], suppliers: Mapping[str, Supplier]
) -> dict[str, DocumentSetting]:
    if not xml:
        return {}
    alliance = await uow.parties.alliance()
    if alliance is None:
        log.error("suppliers %s take documents, but the alliance's own party is unknown: their orders go as JSON",
                  ", ".join(sorted(xml)))
        return {}
    wanted = wanted - {ALLIANCE_MEMBER_ID}
    members = await uow.parties.members(wanted)
    for member_id in wanted - members.keys():
        members[member_id] = Party(member_id, member_id, Address(alliance.address.country))
    return {
        supplier_id: DocumentSetting(
            suppliers[supplier_id].documents, OrderParties(alliance, suppliers[supplier_id].party, members)
        )
        for supplier_id in xml
    }


def contract_order(order: JointOrder) -> JointOrderPlaced:
    """The order as `joint_order.placed` states it, delivery ids included: what a supplier's
    answer document is mapped through. Built without validation: the domain's order is the
    contract's by construction (tests/unit/procurement/test_order_documents.py compares them)."""
    return JointOrderPlaced.model_construct(
        order_id=order.order_id,
        supplier_id=order.supplier_id,
        cycle_id=order.cycle_id,
        currency="EUR",
        total=to_cents(order.total),
        lines=[
            ContractLine.model_construct(
                line_id=line.line_id,
                sku=line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                deliveries=[
                    Delivery.model_construct(
                        member_id=d.member_id, ship_to=d.ship_to, quantity=d.quantity, needed_by=d.needed_by,
                        delivery_id=delivery_id(line.line_id, d),
                    )
                    for d in line.deliveries
                ],
            )
            for line in order.lines
        ],
    )


class OrderDocument:
    """An XML supplier's order document, written line by line from the domain's lines (a close
    writes each as it is decided, while the optimizer goes on with the next SKUs)."""

    def __init__(self, order_id: str, setting: DocumentSetting, issued: date) -> None:
        self.standard = setting.standard
        self.dataschema, self._writer = order_writer(setting.standard, order_id, setting.parties, issued)

    def add_line(self, line: OrderLine) -> None:
        line_id = line.line_id
        self._writer.add_line(line_id, line.sku, line.unit_price, [
            DocumentDelivery(delivery_id(line_id, d), d.member_id, d.ship_to, d.quantity, d.needed_by)
            for d in line.deliveries
        ])

    def finish(self, order: JointOrder) -> str:
        """The XML text of the whole order (every line added)."""
        return self._writer.finish(order.cycle_id, "EUR", order.total)


def order_document(order: JointOrder, setting: DocumentSetting, issued: date) -> OrderDocument:
    """The supplier's document of an order placed whole (re-sourcing), every line added."""
    document = OrderDocument(order.order_id, setting, issued)
    for line in order.lines:
        document.add_line(line)
    return document


def count_rendered(uow: ProcurementUnitOfWork, orders: Iterable[JointOrder], settings: Mapping[str, DocumentSetting]) -> None:
    """Once the transaction that publishes them commits."""
    for order in orders:
        setting = settings.get(order.supplier_id)
        if setting is not None:
            uow.after_commit(lambda standard=setting.standard: metrics.SUPPLIER_DOCUMENTS.labels(
                standard.value, "rendered").inc())


def standards_kit(directory: Path) -> SchemaKit | None:
    """The schemas, compiled once at start; None (logged) where the kit is absent: JSON suppliers
    are unaffected, XML suppliers' documents are dead-lettered until it is installed."""
    try:
        return SchemaKit.for_reading(directory).load()
    except (OSError, ValueError) as error:
        log.error("no standards kit (ALLIANCE_STANDARDS_DIR): XML suppliers' documents will be refused: %s", error)
        return None


async def read_document(
    kit: SchemaKit | None, uow: ProcurementUnitOfWork, event: CloudEvent, supplier: Supplier
) -> CloudEvent:
    """An XML supplier's answer or despatch advice as the JSON event it stands for (its JSON twin).
    An answer's document lines are mapped back through the order it names; one naming an order
    the supplier does not hold is mapped without it, and refused as `order_not_held` like a JSON one."""
    standard = supplier.documents
    try:
        if standard is Standard.CLOUDEVENTS:
            raise InvalidDocument(f"supplier {supplier.supplier_id} is set to cloudevents: its data is JSON")
        if kit is None:
            raise InvalidDocument("the standards kit is not installed (ALLIANCE_STANDARDS_DIR): cannot validate")
        assert isinstance(event.data, str)  # the CloudEvent model: application/xml data is a string
        read = read_supplier_document(standard, event.type, event.dataschema, event.data, kit)
        if isinstance(read, SupplierAnswer):
            placed = await uow.fulfilment.placed_order(read.order_id)
            if placed is not None and placed.order.supplier_id == supplier.supplier_id:
                order = contract_order(placed.order)
            else:
                order = JointOrderPlaced.model_construct(
                    order_id=read.order_id, supplier_id=supplier.supplier_id, cycle_id="", total=Decimal(0), lines=[]
                )
            event_type, data = read.contract_data(order, supplier.party)
        else:
            event_type, data = read.contract_data(supplier.party)
    except InvalidDocument:
        if standard is not Standard.CLOUDEVENTS:
            uow.after_commit(lambda: metrics.SUPPLIER_DOCUMENTS.labels(standard.value, "refused").inc())
        raise
    uow.after_commit(lambda: metrics.SUPPLIER_DOCUMENTS.labels(standard.value, "read").inc())
    return event.model_copy(update={
        "type": event_type.value, "datacontenttype": "application/json", "dataschema": None, "data": data,
    })
