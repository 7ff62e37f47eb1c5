"""The procurement admin API (bearer token): suppliers, cycles, orders and risk alerts for
admins and ops.

Responses never contain a secret; a supplier shows only until when a rotated-out secret
still verifies. Alerts show who raised them (ops need it); nothing here reaches members.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, ValidationError

from services.procurement.adapters.alerts import AlertsRepository
from services.procurement.domain.answers import OrderAnswer
from services.procurement.domain.catalog import CatalogConflict, Supplier
from services.procurement.domain.fulfilment import (
    EscalationKind,
    RequestLedger,
    order_stage,
)
from services.procurement.domain.orders import JointOrder, OrderRecord, OrderStatus, delivery_id
from services.procurement.domain.performance import DEFAULT_WINDOW_DAYS
from services.procurement.domain.risk import (
    OPS_REPORTER,
    AlertSource,
    AlertStatus,
    RegisteredAlert,
    effective_alerts,
    effects,
)
from services.procurement.entrypoints.buffers_http import buffers_router
from services.procurement.service_layer.catalog import supplier_from_seed, upsert_supplier
from services.procurement.service_layer.cycle import CycleReport
from services.procurement.service_layer.resourcing import DecisionOptions
from services.procurement.service_layer.risk import AlertRefused, raise_alert, resolve_alert
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared import seed
from shared.contract import (
    ALERT_SCOPES,
    AlertSummary,
    CountryCode,
    Identifier,
    RiskAlertRaised,
    RiskKind,
    Severity,
    Sku,
    Timestamp,
    to_cents,
)
from shared.http import FieldError, RequestBody, Unprocessable, invalid_body, problems
from shared.reasons import DeadLetterReason
from shared.settings import Settings


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
    documents: str = "cloudevents"
    """What its orders and answers are written in: cloudevents, peppol-bis3 or opentrans-2.1."""
    peppol_id: str | None = None
    vat_id: str | None = None

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
            documents=supplier.documents.value,
            peppol_id=supplier.peppol_id,
            vat_id=supplier.vat_id,
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
        return cls.model_validate({**asdict(report), "savings": str(to_cents(report.savings))})


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
    cancelled_at: datetime | None
    cancellation_reason: str | None
    risk_flagged_at: datetime | None
    risk_flag: str | None

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
            cancelled_at=order.cancelled_at,
            cancellation_reason=order.cancellation_reason,
            risk_flagged_at=order.risk_flagged_at,
            risk_flag=order.risk_flag,
        )


class OrderLineView(BaseModel):
    line_id: str
    sku: str
    quantity: int
    unit_price: str


class DeliveryStageView(BaseModel):
    """One delivery after the order: units ordered, confirmed by the answer, dispatched, received
    (accepted, rejected) and missing past the grace, and the stage they make."""

    delivery_id: str
    member_id: str
    request_id: str
    ordered: int
    confirmed: int | None
    """None until the supplier answered."""
    dispatched: int
    accepted: int
    rejected: int
    missing: int
    stage: str


class LineStageView(OrderLineView):
    answer: str | None
    """accepted, partial or rejected; None until answered."""
    confirmed: int | None
    expected_delivery: date | None
    answer_reason: str | None
    stage: str
    deliveries: list[DeliveryStageView]


class OrderDetail(OrderView):
    stage: str
    """placed → answered → dispatched → received → completed (the least advanced delivery it
    still serves), or cancelled."""
    lines: list[LineStageView]


class EscalationView(BaseModel):
    kind: str
    """not_dispatched (confirmed goods not dispatched by the expected delivery) or not_received
    (dispatched goods not received by the expected arrival plus the grace)."""
    order_id: str
    supplier_id: str
    subject: str
    """The delivery_id (not_dispatched) or the dispatch_id (not_received)."""
    quantity: int
    due_on: date


class PerformanceView(BaseModel):
    """A supplier's record for one category over the rolling window; rates are null without data."""

    supplier_id: str
    category: str
    window_days: int
    deliveries: int
    on_time: float | None
    in_full: float | None
    otif: float | None
    line_rejection_rate: float | None
    mean_answer_hours: float | None
    below_floor: bool
    """Used only as a last resort for the category's SKUs (on-time-in-full below the floor)."""
    otif_floor: float
    computed_at: datetime | None
    """When it was last computed from the lifecycle (every 30 s)."""


class DemandView(BaseModel):
    category: str
    quantity: int
    requests: int


class RaiseAlert(RequestBody):
    """An alert raised by ops: the contract's `risk_alert.raised` data, `alert_id` optional."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [{"required": [scope], "properties": {scope: {"type": "string"}}} for scope in ALERT_SCOPES]
        }
    )

    alert_id: Identifier | None = None
    supplier_id: Identifier | None = None
    sku: Sku | None = None
    region: CountryCode | None = None
    kind: RiskKind
    severity: Severity
    summary: AlertSummary
    valid_until: Timestamp | None = None


class AlertChangeView(BaseModel):
    at: datetime
    change: str
    detail: str | None


class AlertView(BaseModel):
    alert_key: str
    alert_id: str
    source: str
    reporter: str
    supplier_id: str | None
    sku: str | None
    region: str | None
    kind: str
    severity: str
    summary: str
    valid_until: datetime | None
    trusted: bool
    status: str
    effective: bool
    """Whether procurement acts on it now (trusted, or corroborated), not only warns."""
    raised_at: datetime
    ended_at: datetime | None
    exposed_members: int
    """How many members were told of it when it was raised (never who)."""
    history: list[AlertChangeView]


async def _alert_views(
    registry: AlertsRepository, registered: Sequence[RegisteredAlert], corroboration: int
) -> list[AlertView]:
    acting = effective_alerts(effects(await registry.active(), datetime.now(UTC), corroboration))
    keys = [r.alert.key for r in registered]
    history = await registry.history(keys)
    exposed = await registry.exposed_counts(keys)
    return [
        AlertView(
            alert_key=alert.key,
            alert_id=alert.alert_id,
            source=alert.source,
            reporter=alert.reporter,
            supplier_id=alert.scope.supplier_id,
            sku=alert.scope.sku,
            region=alert.scope.region,
            kind=alert.kind,
            severity=alert.severity,
            summary=alert.summary,
            valid_until=alert.valid_until,
            trusted=alert.trusted,
            status=alert.status,
            effective=alert.key in acting,
            raised_at=entry.raised_at,
            ended_at=entry.ended_at,
            exposed_members=exposed.get(alert.key, 0),
            history=[AlertChangeView(at=h.at, change=h.change, detail=h.detail) for h in history.get(alert.key, [])],
        )
        for entry in registered
        for alert in (entry.alert,)
    ]


def admin_router(
    unit_of_work: Callable[[], ProcurementUnitOfWork],
    close_now: Callable[[], Awaitable[CycleReport]],
    default_grace: timedelta,
    ensure_supplier_topic: Callable[[str], Awaitable[None]],
    decisions: DecisionOptions,
    receipt_grace_days: int = Settings.model_fields["receipt_grace_days"].default,
) -> APIRouter:
    router = APIRouter()

    @router.get("/suppliers", response_model=list[SupplierView], tags=["suppliers"])
    async def list_suppliers() -> list[SupplierView]:
        async with unit_of_work() as uow:
            return [SupplierView.of(s) for s in await uow.suppliers.list()]

    @router.get("/suppliers/{supplier_id}", response_model=SupplierView, tags=["suppliers"],
                responses=problems(404))
    async def show_supplier(supplier_id: str) -> SupplierView:
        async with unit_of_work() as uow:
            supplier = await uow.suppliers.get(supplier_id)
        if supplier is None:
            raise HTTPException(404, f"no supplier {supplier_id!r}")
        return SupplierView.of(supplier)

    @router.put(
        "/suppliers/{supplier_id}",
        response_model=SupplierUpserted,
        tags=["suppliers"],
        responses=problems(409),
        summary="Create or update a supplier from one entry in the seed's format",
        description="A new secret becomes current at once; the previous one keeps verifying "
        "responses for the rotation grace period. The catalog given replaces the stored one.",
    )
    async def upsert(supplier_id: str, body: seed.Supplier) -> SupplierUpserted:
        if body.id != supplier_id:
            detail = f"the body's id {body.id!r} differs from the path's {supplier_id!r}"
            raise Unprocessable(detail, [FieldError(field="body.id", message=detail)])
        try:
            async with unit_of_work() as uow:
                if body.documents != "cloudevents" and await uow.parties.alliance() is None:
                    detail = (f"documents: {body.documents} needs the alliance's own party (the seed's alliance "
                              "entry: name, peppol_id, vat_id, address), the buyer of its orders")
                    raise Unprocessable(detail, [FieldError(field="body.documents", message=detail)])
                stored, changed = await upsert_supplier(uow, supplier_from_seed(body), default_grace)
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
            closed = await uow.cycles.recent(limit)
        return [CycleView.model_validate(cycle, from_attributes=True) for cycle in closed]

    @router.get("/demand", response_model=list[DemandView], tags=["cycles"], summary="Open demand by category")
    async def open_demand() -> list[DemandView]:
        async with unit_of_work() as uow:
            rows = await uow.requests.open_demand_by_category()
        return [DemandView(category=c, quantity=q, requests=n) for c, q, n in sorted(rows)]

    @router.get(
        "/orders",
        response_model=list[OrderView],
        tags=["orders"],
        description="Newest first. `escalated=true` lists the orders escalated for want of an answer, "
        "`risk_flagged=true` the confirmed orders a critical risk alert covers.",
    )
    async def list_orders(
        status: OrderStatus | None = None,
        escalated: bool | None = None,
        risk_flagged: bool | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[OrderView]:
        async with unit_of_work() as uow:
            orders = await uow.orders.list(status, escalated, limit, risk_flagged)
        return [OrderView.of(o) for o in orders]

    @router.get(
        "/orders/{order_id}",
        response_model=OrderDetail,
        tags=["orders"],
        responses=problems(404),
        description="The order with each line's answer and each delivery's progress after the order: "
        "placed → answered → dispatched → received → completed, or cancelled.",
    )
    async def show_order(order_id: str) -> OrderDetail:
        today = datetime.now(UTC).date()
        async with unit_of_work() as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                raise HTTPException(404, f"no order {order_id!r}")
            fulfilment = uow.fulfilment
            placed = await fulfilment.placed_order(order_id)
            answer = await fulfilment.answer(order_id)
            ledgers = await fulfilment.ledgers_on_order(order_id)
        assert placed is not None
        return order_detail(order, placed.order, answer, ledgers, today, receipt_grace_days)

    @router.get(
        "/escalations",
        response_model=list[EscalationView],
        tags=["orders"],
        description="Goods overdue after the order, oldest first: confirmed units not dispatched by their "
        "expected delivery, dispatched units not received by the expected arrival plus "
        "ALLIANCE_RECEIPT_GRACE_DAYS. Orders unanswered too long: `GET /orders?escalated=true`.",
    )
    async def list_escalations(
        kind: EscalationKind | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[EscalationView]:
        async with unit_of_work() as uow:
            found = await uow.fulfilment.open_escalations(kind, limit)
        return [EscalationView(kind=e.kind.value, order_id=e.order_id, supplier_id=e.supplier_id, subject=e.subject,
                               quantity=e.quantity, due_on=e.due_on) for e in found]

    @router.get(
        "/suppliers/{supplier_id}/performance",
        response_model=list[PerformanceView],
        tags=["suppliers"],
        responses=problems(404),
        description="On time (received in full by the promised date), in full (accepted ÷ confirmed), "
        "on-time-in-full, line rejection rate and answer time, per SKU category over the last "
        f"{DEFAULT_WINDOW_DAYS} days, as last computed (every 30 s).",
    )
    async def supplier_performance(supplier_id: str) -> list[PerformanceView]:
        async with unit_of_work() as uow:
            if await uow.suppliers.get(supplier_id) is None:
                raise HTTPException(404, f"no supplier {supplier_id!r}")
            found, computed_at = await uow.performance.current()
        floor = decisions.otif_floor
        return [
            PerformanceView(
                supplier_id=p.supplier_id, category=p.category, window_days=DEFAULT_WINDOW_DAYS,
                deliveries=p.deliveries, on_time=p.on_time, in_full=p.in_full, otif=p.otif,
                line_rejection_rate=p.line_rejection_rate, mean_answer_hours=p.mean_answer_hours,
                below_floor=p.otif is not None and p.otif < floor, otif_floor=floor, computed_at=computed_at,
            )
            for p in found
            if p.supplier_id == supplier_id
        ]

    @router.post(
        "/alerts",
        response_model=AlertView,
        status_code=201,
        tags=["risk"],
        responses=problems(409),
        summary="Raise a risk alert as ops",
        description="Effective at once. Critical: the scope is excluded from new decisions, its "
        "unconfirmed orders are cancelled and re-sourced, confirmed ones flagged. High: the scope is "
        "a last resort. Exposed members are warned. The same alert_id and content again changes nothing.",
    )
    async def raise_ops_alert(body: RaiseAlert) -> AlertView:
        fields = body.model_dump(exclude_none=True, mode="json")
        fields.setdefault("alert_id", f"ops-{uuid.uuid4().hex[:12]}")
        try:
            raised = RiskAlertRaised.model_validate(fields)
        except ValidationError as error:
            raise invalid_body(error) from None
        try:
            async with unit_of_work() as uow:
                await _check_scope_known(uow, raised)
                await raise_alert(uow, decisions, AlertSource.OPS, OPS_REPORTER, raised, datetime.now(UTC))
        except AlertRefused as refused:
            if refused.reason == DeadLetterReason.ALERT_ID_REUSED:
                raise HTTPException(409, refused.detail) from None
            raise Unprocessable(refused.detail) from None
        return await _one_alert(raised.alert_id)

    @router.post(
        "/alerts/{reference}/resolve",
        response_model=AlertView,
        tags=["risk"],
        responses=problems(404),
        summary="Resolve an alert (an ops alert_id, or any alert's alert_key)",
        description="It stops acting at once; the members told of it are told it is resolved. "
        "Resolving an alert that has ended already changes nothing.",
    )
    async def resolve(reference: str) -> AlertView:
        async with unit_of_work() as uow:
            found = await uow.alerts.find(reference)
            if found is None:
                raise HTTPException(404, f"no alert {reference!r}")
            await resolve_alert(uow, decisions, found.alert.key, datetime.now(UTC))
        return await _one_alert(found.alert.key)

    @router.get("/alerts", response_model=list[AlertView], tags=["risk"], summary="Alerts, newest first, with history")
    async def list_alerts(
        state: AlertStatus | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[AlertView]:
        async with unit_of_work() as uow:
            registry = uow.alerts
            return await _alert_views(registry, await registry.listing(state, limit), decisions.corroboration)

    @router.get("/alerts/{reference}", response_model=AlertView, tags=["risk"], responses=problems(404))
    async def show_alert(reference: str) -> AlertView:
        return await _one_alert(reference)

    async def _one_alert(reference: str) -> AlertView:
        async with unit_of_work() as uow:
            registry = uow.alerts
            found = await registry.find(reference)
            if found is None:
                raise HTTPException(404, f"no alert {reference!r}")
            [view] = await _alert_views(registry, [found], decisions.corroboration)
        return view

    router.include_router(buffers_router(unit_of_work))
    return router


def order_detail(
    order: OrderRecord,
    placed: JointOrder,
    answer: OrderAnswer | None,
    ledgers: Sequence[RequestLedger],
    today: date,
    grace_days: int,
) -> OrderDetail:
    """The order, its lines and their deliveries with the stage each has reached."""
    progress = {p.delivery_id: p for ledger in ledgers for p in ledger.progress(today, grace_days)
                if p.order_id == order.order_id}
    decisions = {line.line_id: line for line in answer.lines} if answer else {}
    lines = []
    every = []
    for line in placed.lines:
        deliveries = []
        reached = []
        for delivery in line.deliveries:
            key = delivery_id(line.line_id, delivery)
            known = progress.get(key)
            if known is not None:
                reached.append(known)
            deliveries.append(DeliveryStageView(
                delivery_id=key, member_id=delivery.member_id, request_id=delivery.request_id,
                ordered=delivery.quantity, confirmed=known.confirmed if known else None,
                dispatched=known.dispatched if known else 0, accepted=known.accepted if known else 0,
                rejected=known.rejected if known else 0, missing=known.missing if known else 0,
                stage=order_stage(order.status, [known] if known else []).value,
            ))
        every += reached
        decision = decisions.get(line.line_id)
        lines.append(LineStageView(
            line_id=line.line_id, sku=line.sku, quantity=line.quantity, unit_price=str(line.unit_price),
            answer=decision.status.value if decision else None, confirmed=decision.quantity if decision else None,
            expected_delivery=decision.expected_delivery if decision else None,
            answer_reason=decision.reason if decision else None,
            stage=order_stage(order.status, reached).value, deliveries=deliveries,
        ))
    return OrderDetail(**OrderView.of(order).model_dump(), stage=order_stage(order.status, every).value, lines=lines)


async def _check_scope_known(uow: ProcurementUnitOfWork, raised: RiskAlertRaised) -> None:
    """Ops name suppliers and SKUs the alliance knows: a typo would silently guard nothing."""
    suppliers = await uow.suppliers.list()
    if raised.supplier_id is not None and raised.supplier_id not in {s.supplier_id for s in suppliers}:
        detail = f"no supplier {raised.supplier_id!r}"
        raise Unprocessable(detail, [FieldError(field="body.supplier_id", message=detail)])
    if raised.sku is not None and raised.sku not in {i.sku for s in suppliers for i in s.catalog}:
        detail = f"no catalog item {raised.sku!r}"
        raise Unprocessable(detail, [FieldError(field="body.sku", message=detail)])
