"""The procurement admin API (bearer token): suppliers, cycles and orders for admins and ops.

Responses never contain a secret; a supplier shows only until when a rotated-out secret
still verifies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from services.procurement.adapters.repository import (
    CyclesRepository,
    OrdersRepository,
    RequestsRepository,
    SuppliersRepository,
)
from services.procurement.domain.catalog import CatalogConflict, Supplier
from services.procurement.domain.orders import OrderRecord, OrderStatus
from services.procurement.service_layer.catalog import supplier_from_seed, upsert_supplier
from services.procurement.service_layer.cycle import CycleReport
from shared import seed
from shared.contract import to_cents
from shared.messaging.unit_of_work import UnitOfWork


class TierView(BaseModel):
    min_quantity: int
    unit_price: str


class CatalogItemView(BaseModel):
    sku: str
    name: str
    category: str
    unit: str
    capacity_per_cycle: int
    min_order_quantity: int
    tiers: list[TierView]


class SupplierView(BaseModel):
    supplier_id: str
    name: str
    regions: list[str]
    lead_time_days: int
    secret_rotation_grace_until: datetime | None
    catalog: list[CatalogItemView]

    @classmethod
    def of(cls, supplier: Supplier) -> SupplierView:
        return cls(
            supplier_id=supplier.supplier_id,
            name=supplier.name,
            regions=list(supplier.regions),
            lead_time_days=supplier.lead_time_days,
            secret_rotation_grace_until=supplier.previous_secret_valid_until,
            catalog=[
                CatalogItemView(
                    sku=item.sku,
                    name=item.name,
                    category=item.category,
                    unit=item.unit,
                    capacity_per_cycle=item.capacity_per_cycle,
                    min_order_quantity=item.min_order_quantity,
                    tiers=[TierView(min_quantity=t.min_quantity, unit_price=str(t.unit_price)) for t in item.tiers],
                )
                for item in supplier.catalog
            ],
        )


class SupplierUpserted(BaseModel):
    changed: bool
    supplier: SupplierView


class CycleView(BaseModel):
    cycle_id: str
    trigger: str
    order_date: date
    requests_considered: int
    requests_placed: int
    quantity_placed: int
    orders: int
    unfulfillable: int
    solve_seconds: float


class CycleClosedView(CycleView):
    waiting: int
    savings: str
    share_cap_relaxed: int
    max_optimizer_gap: float

    @classmethod
    def of(cls, report: CycleReport) -> CycleClosedView:
        return cls(
            cycle_id=report.cycle_id,
            trigger=report.trigger,
            order_date=report.order_date,
            requests_considered=report.requests_considered,
            requests_placed=report.requests_placed,
            quantity_placed=report.quantity_placed,
            orders=report.orders,
            unfulfillable=report.unfulfillable,
            solve_seconds=report.solve_seconds,
            waiting=report.waiting,
            savings=str(to_cents(report.savings)),
            share_cap_relaxed=report.share_cap_relaxed,
            max_optimizer_gap=report.max_optimizer_gap,
        )


class OrderView(BaseModel):
    order_id: str
    supplier_id: str
    cycle_id: str
    status: str
    total: str
    quantity: int
    placed_at: datetime
    replaces_order_id: str | None
    answered_at: datetime | None
    expected_delivery: date | None
    rejection_reason: str | None
    escalated_at: datetime | None

    @classmethod
    def of(cls, order: OrderRecord) -> OrderView:
        return cls(
            order_id=order.order_id,
            supplier_id=order.supplier_id,
            cycle_id=order.cycle_id,
            status=order.status.value,
            total=str(to_cents(order.total)),
            quantity=order.quantity,
            placed_at=order.placed_at,
            replaces_order_id=order.replaces_order_id,
            answered_at=order.answered_at,
            expected_delivery=order.expected_delivery,
            rejection_reason=order.rejection_reason,
            escalated_at=order.escalated_at,
        )


class OrderLineView(BaseModel):
    line_id: str
    sku: str
    quantity: int
    unit_price: str


class OrderDetail(OrderView):
    lines: list[OrderLineView]


class DemandView(BaseModel):
    category: str
    quantity: int
    requests: int


def admin_router(
    unit_of_work: Callable[[], UnitOfWork],
    close_now: Callable[[], Awaitable[CycleReport]],
    topic_prefix: str,
    default_grace: timedelta,
    ensure_supplier_topic: Callable[[str], Awaitable[None]],
) -> APIRouter:
    router = APIRouter()

    @router.get("/suppliers", response_model=list[SupplierView], tags=["suppliers"])
    async def list_suppliers() -> list[SupplierView]:
        async with unit_of_work() as uow:
            return [SupplierView.of(s) for s in await SuppliersRepository(uow.conn).list()]

    @router.get("/suppliers/{supplier_id}", response_model=SupplierView, tags=["suppliers"])
    async def show_supplier(supplier_id: str) -> SupplierView:
        async with unit_of_work() as uow:
            supplier = await SuppliersRepository(uow.conn).get(supplier_id)
        if supplier is None:
            raise HTTPException(404, f"no supplier {supplier_id!r}")
        return SupplierView.of(supplier)

    @router.put(
        "/suppliers/{supplier_id}",
        response_model=SupplierUpserted,
        tags=["suppliers"],
        summary="Create or update a supplier from one entry in the seed's format",
        description="A new secret becomes current at once; the previous one keeps verifying "
        "responses for the rotation grace period. The catalog given replaces the stored one.",
    )
    async def upsert(supplier_id: str, body: seed.Supplier) -> SupplierUpserted:
        if body.id != supplier_id:
            raise HTTPException(422, f"the body's id {body.id!r} differs from the path's {supplier_id!r}")
        try:
            async with unit_of_work() as uow:
                stored, changed = await upsert_supplier(uow, topic_prefix, supplier_from_seed(body), default_grace)
        except CatalogConflict as conflict:
            raise HTTPException(409, str(conflict)) from None
        await ensure_supplier_topic(supplier_id)
        return SupplierUpserted(changed=changed, supplier=SupplierView.of(stored))

    @router.post(
        "/cycles/close",
        response_model=CycleClosedView,
        tags=["cycles"],
        summary="Close the current order cycle now",
        description="Decides every open request at once, in one transaction; waits while "
        "another instance is closing.",
    )
    async def close_cycle() -> CycleClosedView:
        return CycleClosedView.of(await close_now())

    @router.get("/cycles", response_model=list[CycleView], tags=["cycles"])
    async def list_cycles(limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> list[CycleView]:
        async with unit_of_work() as uow:
            rows = await CyclesRepository(uow.conn).recent(limit)
        return [CycleView.model_validate(dict(row)) for row in rows]

    @router.get("/demand", response_model=list[DemandView], tags=["cycles"], summary="Open demand by category")
    async def open_demand() -> list[DemandView]:
        async with unit_of_work() as uow:
            rows = await RequestsRepository(uow.conn).open_demand_by_category()
        return [DemandView(category=c, quantity=q, requests=n) for c, q, n in sorted(rows)]

    @router.get(
        "/orders",
        response_model=list[OrderView],
        tags=["orders"],
        description="Newest first. `escalated=true` lists the orders escalated for want of an answer.",
    )
    async def list_orders(
        status: OrderStatus | None = None,
        escalated: bool | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[OrderView]:
        async with unit_of_work() as uow:
            orders = await OrdersRepository(uow.conn).list(status, escalated, limit)
        return [OrderView.of(o) for o in orders]

    @router.get("/orders/{order_id}", response_model=OrderDetail, tags=["orders"])
    async def show_order(order_id: str) -> OrderDetail:
        async with unit_of_work() as uow:
            orders = OrdersRepository(uow.conn)
            order = await orders.get(order_id)
            lines = await orders.lines(order_id) if order else []
        if order is None:
            raise HTTPException(404, f"no order {order_id!r}")
        return OrderDetail(
            **OrderView.of(order).model_dump(),
            lines=[
                OrderLineView(
                    line_id=r["line_id"], sku=r["sku"], quantity=r["quantity"], unit_price=str(r["unit_price"])
                )
                for r in lines
            ],
        )

    return router
