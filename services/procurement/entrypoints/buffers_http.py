"""The risk buffers' admin API (bearer token): configure, subscribe, book receipts, read
sizings and statements (docs/risk-buffers.md). Admins see every subscriber's figures; a member
only ever reads its own, in its `risk_buffer.statement`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from services.procurement.domain.buffers import BufferSizing, RiskBuffer
from services.procurement.service_layer import buffers as commands
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared import seed
from shared.contract import Identifier, RiskBufferStatement, ShipTo
from shared.http import FieldError, RequestBody, Unprocessable, problems


class MemberSizingView(BaseModel):
    member_id: str
    mean: str
    """Requested per cycle."""
    variance: str
    cycles: int
    pooled: bool
    """Sized from the SKU's pooled history (too little of its own)."""
    standalone_stock: str
    cost_share: str
    """EUR per cycle."""
    standalone_cost: str


class SizingView(BaseModel):
    cycle_id: str
    lead_time_cycles: int
    service_factor: str
    safety_stock: str
    target: int
    standalone_stock_summed: str
    """What the subscribers would hold alone, added up: the pooled `safety_stock` is less."""
    holding_cost: str
    members: list[MemberSizingView]

    @classmethod
    def of(cls, sizing: BufferSizing) -> SizingView:
        def text(value: Decimal) -> str:
            return str(value.quantize(Decimal("0.0001")))

        return cls(
            cycle_id=sizing.cycle_id,
            lead_time_cycles=sizing.lead_time_cycles,
            service_factor=text(sizing.service_factor),
            safety_stock=text(sizing.safety_stock),
            target=sizing.target,
            standalone_stock_summed=text(sum((m.standalone_stock for m in sizing.members), Decimal(0))),
            holding_cost=text(sizing.holding_cost),
            members=[
                MemberSizingView(
                    member_id=m.member_id, mean=text(m.stats.mean), variance=text(m.stats.variance),
                    cycles=m.stats.cycles, pooled=m.stats.pooled, standalone_stock=text(m.standalone_stock),
                    cost_share=text(m.cost_share), standalone_cost=text(m.standalone_cost),
                )
                for m in sizing.members
            ],
        )


class BufferView(BaseModel):
    sku: str
    warehouse: ShipTo
    service_level: float
    holding_cost_per_unit_and_cycle: str
    history_cycles: int
    statement_every_cycles: int
    subscribers: list[str]
    on_hand: int
    on_order: int
    unit_cost: str | None
    """The average acquisition cost a draw is charged at; none while empty."""
    sizing: SizingView | None
    """The last close's; none before the first close."""

    @classmethod
    def of(cls, buffer: RiskBuffer, sizing: BufferSizing | None) -> BufferView:
        cost = buffer.stock.unit_cost
        return cls(
            sku=buffer.sku,
            warehouse=buffer.warehouse,
            service_level=buffer.service_level,
            holding_cost_per_unit_and_cycle=str(buffer.holding_cost_per_unit_and_cycle),
            history_cycles=buffer.history_cycles,
            statement_every_cycles=buffer.statement_every_cycles,
            subscribers=list(buffer.subscribers),
            on_hand=buffer.stock.on_hand,
            on_order=buffer.stock.ordered,
            unit_cost=None if cost is None else str(cost),
            sizing=None if sizing is None else SizingView.of(sizing),
        )


class BufferSaved(BaseModel):
    created: bool
    buffer: BufferView


class Subscription(RequestBody):
    member_id: Identifier


class SubscriptionChanged(BaseModel):
    changed: bool
    buffer: BufferView


class Receipt(RequestBody):
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]
    """Units arrived at the warehouse."""


@contextmanager
def _answering_for(sku: str) -> Iterator[None]:
    """The buffer commands' refusals as the API answers them: 404 for an unknown buffer, 422
    naming the field at fault."""
    try:
        yield
    except commands.NoSuchBuffer:
        raise HTTPException(404, f"no risk buffer for SKU {sku!r}") from None
    except commands.BufferRefused as refused:
        detail = refused.detail
        raise Unprocessable(detail, [FieldError(field=f"body.{refused.field}", message=detail)]) from None


def buffers_router(unit_of_work: Callable[[], ProcurementUnitOfWork]) -> APIRouter:
    router = APIRouter()

    async def view(uow: ProcurementUnitOfWork, buffer: RiskBuffer) -> BufferView:
        sizings = await uow.buffers.latest_sizings([buffer.sku])
        return BufferView.of(buffer, sizings.get(buffer.sku))

    @router.get("/buffers", response_model=list[BufferView], tags=["risk buffers"])
    async def list_buffers() -> list[BufferView]:
        async with unit_of_work() as uow:
            buffers = await uow.buffers.list()
            sizings = await uow.buffers.latest_sizings(b.sku for b in buffers)
        return [BufferView.of(b, sizings.get(b.sku)) for b in buffers]

    @router.get("/buffers/{sku}", response_model=BufferView, tags=["risk buffers"], responses=problems(404))
    async def show_buffer(sku: str) -> BufferView:
        async with unit_of_work() as uow:
            buffer = await uow.buffers.get(sku)
            if buffer is None:
                raise HTTPException(404, f"no risk buffer for SKU {sku!r}")
            return await view(uow, buffer)

    @router.put(
        "/buffers/{sku}",
        response_model=BufferSaved,
        tags=["risk buffers"],
        summary="Create or update a risk buffer from one entry in the seed's format",
        description="Checked as the seed is: a SKU some supplier lists and delivers to the warehouse's "
        "country, members only, a service level in (0.5, 0.9999), no negative cost. An existing buffer "
        "keeps its subscribers (subscribe and unsubscribe change them).",
    )
    async def put_buffer(sku: str, body: seed.RiskBuffer) -> BufferSaved:
        if body.sku != sku:
            detail = f"the body's sku {body.sku!r} differs from the path's {sku!r}"
            raise Unprocessable(detail, [FieldError(field="body.sku", message=detail)])
        with _answering_for(sku):
            async with unit_of_work() as uow:
                buffer, created = await commands.configure(uow, body)
                return BufferSaved(created=created, buffer=await view(uow, buffer))

    async def change_subscription(sku: str, member_id: str, subscribing: bool) -> SubscriptionChanged:
        with _answering_for(sku):
            async with unit_of_work() as uow:
                if subscribing:
                    changed = await commands.subscribe(uow, sku, member_id)
                else:
                    changed = await commands.unsubscribe(uow, sku, member_id)
                buffer = await uow.buffers.get(sku)
                assert buffer is not None
                return SubscriptionChanged(changed=changed, buffer=await view(uow, buffer))

    @router.post(
        "/buffers/{sku}/subscribers",
        response_model=SubscriptionChanged,
        tags=["risk buffers"],
        responses=problems(404),
        summary="Subscribe a member to a buffer, from the next close on",
    )
    async def subscribe(sku: str, body: Subscription) -> SubscriptionChanged:
        return await change_subscription(sku, body.member_id, subscribing=True)

    @router.delete(
        "/buffers/{sku}/subscribers/{member_id}",
        response_model=SubscriptionChanged,
        tags=["risk buffers"],
        responses=problems(404),
        summary="Unsubscribe a member, from the next close on (past statements stay as they were)",
    )
    async def unsubscribe(sku: str, member_id: str) -> SubscriptionChanged:
        return await change_subscription(sku, member_id, subscribing=False)

    @router.post(
        "/buffers/{sku}/receipts",
        response_model=BufferView,
        tags=["risk buffers"],
        responses=problems(404),
        summary="Book units as arrived at the buffer's warehouse (only booked stock can be drawn)",
        description="Taken from the lots on order, oldest first, at their prices; more than is on order is refused.",
    )
    async def receive(sku: str, body: Receipt) -> BufferView:
        with _answering_for(sku):
            async with unit_of_work() as uow:
                buffer = await commands.receive(uow, sku, body.quantity, datetime.now(UTC).date())
                return await view(uow, buffer)

    @router.get(
        "/buffers/{sku}/statements/{member_id}",
        response_model=RiskBufferStatement,
        tags=["risk buffers"],
        responses=problems(404),
        summary="A member's statement of a closed period (the latest, or the one closed by `cycle_id`)",
    )
    async def statement(
        sku: str, member_id: str, cycle_id: Annotated[str | None, Query(max_length=64)] = None
    ) -> RiskBufferStatement:
        with _answering_for(sku):
            async with unit_of_work() as uow:
                found = await commands.member_statement(uow, sku, member_id, cycle_id)
        if found is None:
            raise HTTPException(404, f"no statement of {sku!r} for {member_id!r} in that period")
        return found

    return router
