"""Deciding an order's requests again at once, in the caller's transaction: after the supplier
rejected the order or left part of a delivery unserved, or after a critical risk alert
cancelled it. The caller holds the decision lock (re-sourcing uses capacity a cycle close also
decides on). Suppliers below the on-time-in-full floor are a last resort here as in a close."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.procurement.adapters import metrics
from services.procurement.adapters.bundling_runner import SkuProblem, solve_in_thread
from services.procurement.domain.demand import OpenRequest, RequestStatus
from services.procurement.domain.orders import JointOrder, OrderRecord, assemble_orders, placed_suppliers
from services.procurement.domain.resourcing import resourcing_offers
from services.procurement.domain.risk import Effect
from services.procurement.service_layer.buffers import serve_from_buffers
from services.procurement.service_layer.documents import count_rendered, document_settings
from services.procurement.service_layer.order_records import placed_messages
from services.procurement.service_layer.performance import category_of, last_resort_by_category
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared.contract import EventType, PurchaseRequestResourced, PurchaseRequestUnfulfillable
from shared.events.procurement import SOURCE
from shared.messaging.notices import member_notice
from shared.settings import Settings


@dataclass(frozen=True, slots=True)
class DecisionOptions:
    """What decisions outside a cycle close (re-sourcing, acting on risk alerts) need to know."""

    max_supplier_share: float
    """The seed's cap, applied when re-sourcing too."""
    corroboration: int
    """Distinct members whose alerts with one scope make those alerts act."""
    otif_floor: float = Settings.model_fields["supplier_otif_floor"].default
    """`ALLIANCE_SUPPLIER_OTIF_FLOOR`: below it a supplier is a last resort for the category."""


@dataclass(frozen=True, slots=True)
class Resourced:
    new_orders: tuple[JointOrder, ...]
    unplaced: tuple[tuple[OpenRequest, str], ...]
    skus: tuple[str, ...]
    """The SKUs of the order that was replaced."""


async def resource_order(
    uow: ProcurementUnitOfWork,
    order: OrderRecord,
    reason: str,
    options: DecisionOptions,
    effects_in_force: Sequence[Effect],
    now: datetime,
) -> Resourced:
    """Place all of `order`'s deliveries on new orders (same cycle) or tell their members they
    are unfulfillable (a critical risk alert cancelled it)."""
    affected = await uow.requests.on_order(order.order_id)
    return await resource_parts(uow, order, [(r, reason) for r in affected], options, effects_in_force, now)


async def resource_parts(
    uow: ProcurementUnitOfWork,
    order: OrderRecord,
    parts: Sequence[tuple[OpenRequest, str]],
    options: DecisionOptions,
    effects_in_force: Sequence[Effect],
    now: datetime,
) -> Resourced:
    """Decide `parts` of `order`'s requests again (each a request of the quantity to re-source,
    `resourcing.request_part`, with the reason its member is told): placed on new orders of the
    same cycle, members told `purchase_request.resourced`, or `unfulfillable`; either notice
    names the quantity where it is part of the request."""
    orders, requests = uow.orders, uow.requests
    excluded = await requests.excluded_suppliers(order.order_id)
    requested = await requests.quantities([(r.member_id, r.request_id) for r, _ in parts])
    reasons = {r.key: why for r, why in parts}
    suppliers = await uow.suppliers.list()
    last_resort = await last_resort_by_category(uow, options.otif_floor)
    by_sku: dict[str, list[OpenRequest]] = {}
    for request, _ in parts:
        by_sku.setdefault(request.sku, []).append(request)
    problems = []
    for sku, sku_requests in by_sku.items():
        ordered = await orders.ordered_this_cycle(order.cycle_id, sku)
        offers = resourcing_offers(suppliers, sku, excluded, ordered, effects_in_force,
                                   last_resort.get(category_of(suppliers, sku), ()))
        problems.append(SkuProblem(sku, tuple(offers), tuple(r.demand() for r in sku_requests)))
    decisions = await solve_in_thread(problems, now.date(), options.max_supplier_share)

    def part_of(member_id: str, request_id: str, quantity: int) -> int | None:
        return quantity if quantity < requested.get((member_id, request_id), quantity) else None

    winners = placed_suppliers(decisions.values())
    order_ids = dict(zip(winners, await orders.allocate_ids(len(winners)), strict=True))
    new_orders = assemble_orders(order.cycle_id, decisions, by_sku, order_ids, order.order_id)
    await orders.add(new_orders)
    await requests.mark_ordered(new_orders)
    secrets = {s.supplier_id: s.secret for s in suppliers}
    documents = await document_settings(uow, new_orders, {s.supplier_id: s for s in suppliers})
    count_rendered(uow, new_orders, documents)
    for new_order in new_orders:
        for message in placed_messages(new_order, secrets[new_order.supplier_id], documents.get(new_order.supplier_id)):
            uow.publish(message)
        for _, delivery in new_order.deliveries():
            resourced = PurchaseRequestResourced(
                request_id=delivery.request_id,
                from_supplier_id=order.supplier_id,
                to_supplier_id=new_order.supplier_id,
                order_id=new_order.order_id,
                unit_price=delivery.unit_price,
                reason=reasons[delivery.request_key],
                standalone_unit_price=delivery.standalone_unit_price,
                savings=delivery.savings,
                quantity=part_of(delivery.member_id, delivery.request_id, delivery.quantity),
            )
            uow.publish(
                member_notice(
                    SOURCE,
                    delivery.member_id,
                    EventType.PURCHASE_REQUEST_RESOURCED,
                    resourced,
                    f"{order.order_id}:{delivery.request_id}",
                )
            )
    unplaced = [
        (request, decisions[sku].unplaced[request.key])
        for sku, sku_requests in by_sku.items()
        for request in sku_requests
        if request.key in decisions[sku].unplaced
    ]
    unplaced = await serve_from_buffers(uow, unplaced, order.order_id)
    lost_whole = [(r, why) for r, why in unplaced if part_of(r.member_id, r.request_id, r.quantity) is None]
    await requests.mark_decided([r for r, _ in lost_whole], RequestStatus.UNFULFILLABLE, [w for _, w in lost_whole])
    for request, why in unplaced:
        lost = PurchaseRequestUnfulfillable(request_id=request.request_id, reason=why,
                                            quantity=part_of(request.member_id, request.request_id, request.quantity))
        uow.publish(
            member_notice(
                SOURCE,
                request.member_id,
                EventType.PURCHASE_REQUEST_UNFULFILLABLE,
                lost,
                f"{order.order_id}:{request.request_id}",
            )
        )
    moved = sum(o.quantity for o in new_orders)
    placed = len(new_orders)
    unplaced_reasons = [why for _, why in unplaced]

    def record() -> None:
        metrics.ORDERS.labels("placed").inc(placed)
        metrics.RESOURCED_QUANTITY.inc(moved)
        for why in unplaced_reasons:
            metrics.UNFULFILLABLE_REQUESTS.labels(why).inc()

    uow.after_commit(record)
    return Resourced(tuple(new_orders), tuple(unplaced), tuple(sorted(by_sku)))
