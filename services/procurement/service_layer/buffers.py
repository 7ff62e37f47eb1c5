"""Risk buffers in procurement's decisions (docs/risk-buffers.md): sized and replenished at each
cycle close, drawn on where a subscriber's request would be told `unfulfillable`, and accounted
for to each subscriber at the close of each statement period.

Everything here runs in the caller's transaction (a close, or an answer or alert that re-sources
an order), under the decision lock: a draw, its stock movement and the member's notice commit
together through the outbox, and a request is drawn for at most once per occasion (a close, or
the order that lost its supplier: `risk_buffer_draws`' key), so a kill -9 at any point serves
nothing twice and loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from services.procurement.adapters import metrics
from services.procurement.adapters.buffers import lot_request, received_from_lots
from services.procurement.domain.buffers import (
    BufferSizing,
    BufferStock,
    Draw,
    DrawClaim,
    RiskBuffer,
    StockError,
    closes_period,
    demand_statistics,
    draw,
    lead_time_cycles,
    period_cycle_numbers,
    replenishment_lead_days,
    replenishment_request,
    size_buffer,
    statements,
)
from services.procurement.domain.bundling import Offer
from services.procurement.domain.demand import OpenRequest, RequestStatus
from services.procurement.domain.fulfilment import Receipt, RequestLedger, judge_receipt
from services.procurement.domain.orders import AnswerOutcome, Leftovers
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared import seed
from shared.contract import (
    ALLIANCE_MEMBER_ID,
    EventType,
    PurchaseRequestUnfulfillable,
    RiskBufferStatement,
    ShipTo,
)
from shared.events.procurement import SOURCE
from shared.messaging.notices import member_notice

_LATEST = datetime.max.replace(tzinfo=UTC)
ASKED_AGAIN = "asked_again_next_close"
"""The `status_reason` of a replenishment request left unplaced though it could wait: the next
close asks for the gap again, with a request of its own."""


def buffer_from_seed(entry: seed.RiskBuffer) -> RiskBuffer:
    return RiskBuffer(
        sku=entry.sku,
        warehouse=ShipTo.model_validate(entry.warehouse.model_dump()),
        service_level=entry.service_level,
        holding_cost_per_unit_and_cycle=entry.holding_cost_per_unit_and_cycle,
        history_cycles=entry.history_cycles,
        statement_every_cycles=entry.statement_every_cycles,
        subscribers=tuple(sorted(entry.members)),
    )


async def sync_seed_buffers(uow: ProcurementUnitOfWork, entries: seed.Seed) -> int:
    """The seed's buffers, created or updated; a new buffer's subscribers are the seed's, an
    existing buffer's are the admin API's (a restart undoes no `unsubscribe`)."""
    for entry in entries.risk_buffers:
        buffer = buffer_from_seed(entry)
        new = not await uow.buffers.exists(buffer.sku)
        await uow.buffers.save(buffer, subscribe=new)
    return len(entries.risk_buffers)


@dataclass(slots=True)
class _Served:
    """What draws did to some requests, to be written and told in the caller's transaction."""

    draws: dict[str, list[Draw]] = field(default_factory=dict)
    stock: dict[str, BufferStock] = field(default_factory=dict)
    in_full: dict[str, list[str]] = field(default_factory=dict)
    """Request ids per member served in full."""
    partly: list[tuple[OpenRequest, str, int]] = field(default_factory=list)
    """(request, reason, quantity not served) of requests served in part."""
    unmet: dict[str, int] = field(default_factory=dict)
    parts: set[tuple[str, str]] = field(default_factory=set)
    """(member_id, request_id) of requests drawn for in part only (the rest is on an order):
    their state is the order's business, only the notices are told here."""
    admitted: Mapping[tuple[str, str], datetime] = field(default_factory=dict)
    """When the requests that may be drawn for were admitted: within a member, the earliest
    `needed_by` is served first, then the request admitted first."""

    def _claim_order(self, request: OpenRequest) -> tuple[date, datetime, str]:
        return request.needed_by, self.admitted.get((request.member_id, request.request_id), _LATEST), request.request_id

    def serve(
        self,
        buffer: RiskBuffer,
        stock: BufferStock,
        sizing: BufferSizing | None,
        unplaced: Sequence[tuple[OpenRequest, str]],
    ) -> list[tuple[OpenRequest, str]]:
        """Draw on `buffer` for `unplaced` requests of its SKU; returns those it served none of."""
        requests = sorted(unplaced, key=lambda pair: self._claim_order(pair[0]))
        claims = [DrawClaim.of(request, request.quantity) for request, _ in requests]
        shares = sizing.cost_shares if sizing is not None else {}
        outcome = draw(claims, buffer.sku, buffer.subscribers, shares, stock)
        self._count_unmet(buffer.sku, outcome.short)
        if not outcome.draws:
            return list(unplaced)
        self.draws.setdefault(buffer.sku, []).extend(outcome.draws)
        self.stock[buffer.sku] = outcome.stock
        by_member_request = {(d.member_id, d.request_id): d for d in outcome.draws}
        left = []
        for request, reason in requests:
            drawn = by_member_request.get((request.member_id, request.request_id))
            if drawn is None:
                left.append((request, reason))
            elif drawn.quantity == request.quantity:
                self.in_full.setdefault(request.member_id, []).append(request.request_id)
            else:
                self.partly.append((request, reason, request.quantity - drawn.quantity))
        return left

    def _count_unmet(self, sku: str, units: int) -> None:
        if units:
            self.unmet[sku] = self.unmet.get(sku, 0) + units

    async def write(self, uow: ProcurementUnitOfWork, cycle_no: int, cause: str, sites: Mapping[str, str]) -> None:
        """Record the draws and the stock, set the requests' states, tell the members; `cause`
        makes each notice's id (the same as the `unfulfillable` it replaces would have had)."""
        store = uow.buffers
        if self.draws:
            await store.record_draws(cycle_no, cause, self.draws)
            await store.save_stocks({sku: self.stock[sku] for sku in self.draws})
        for sku, draws in self.draws.items():
            for served in draws:
                uow.publish(member_notice(
                    SOURCE, served.member_id, EventType.PURCHASE_REQUEST_SERVED_FROM_BUFFER,
                    served.notice(sites[sku]), f"{cause}:{served.request_id}",
                ))
        whole = {m: [r for r in ids if (m, r) not in self.parts] for m, ids in self.in_full.items()}
        await store.mark_served(whole)
        lost = [(r, why) for r, why, _ in self.partly if (r.member_id, r.request_id) not in self.parts]
        await uow.requests.mark_decided([r for r, _ in lost], RequestStatus.UNFULFILLABLE, [why for _, why in lost])
        for request, why, rest in self.partly:
            told = PurchaseRequestUnfulfillable(request_id=request.request_id, reason=why, quantity=rest)
            uow.publish(member_notice(
                SOURCE, request.member_id, EventType.PURCHASE_REQUEST_UNFULFILLABLE, told,
                f"{cause}:{request.request_id}",
            ))
        drawn = {sku: sum(d.quantity for d in draws) for sku, draws in self.draws.items()}
        unmet = dict(self.unmet)

        def record() -> None:
            for sku, units in drawn.items():
                metrics.BUFFER_DRAWN.labels(sku).inc(units)
            for sku, units in unmet.items():
                metrics.BUFFER_UNMET.labels(sku).inc(units)

        uow.after_commit(record)


async def serve_from_buffers(
    uow: ProcurementUnitOfWork, unplaced: Sequence[tuple[OpenRequest, str]], cause: str
) -> list[tuple[OpenRequest, str]]:
    """Requests, or parts of requests, about to be told `unfulfillable` outside a close (their
    order was rejected, answered short or cancelled, and they could not be re-sourced): serve
    subscribers from the buffers as far as they reach, now. Returns the requests served none
    of, for the caller to tell as before; those served in full or in part are written and told
    here. The caller holds the decision lock; `cause` is what the caller's notices' ids are made
    of (the order's id)."""
    skus = {r.sku for r, _ in unplaced if r.member_id != ALLIANCE_MEMBER_ID}
    if not skus:
        return list(unplaced)
    buffers = await uow.buffers.list(skus)
    if not buffers:
        return list(unplaced)
    sizings = await uow.buffers.latest_sizings(b.sku for b in buffers)
    requested = await uow.requests.quantities([(r.member_id, r.request_id) for r, _ in unplaced])
    keys = [(r.member_id, r.request_id) for r, _ in unplaced if r.sku in {b.sku for b in buffers}]
    served = _Served(parts={
        (r.member_id, r.request_id) for r, _ in unplaced if r.quantity < requested.get((r.member_id, r.request_id), 0)
    }, admitted=await uow.buffers.admitted(keys=keys))
    left = [(r, why) for r, why in unplaced if r.sku not in {b.sku for b in buffers}]
    for buffer in buffers:
        of_sku = [(r, why) for r, why in unplaced if r.sku == buffer.sku]
        left += served.serve(buffer, buffer.stock, sizings.get(buffer.sku), of_sku)
    await served.write(uow, await uow.buffers.current_cycle_no(), cause, {b.sku: b.warehouse.site for b in buffers})
    return left


@dataclass(frozen=True, slots=True)
class Settled:
    """A SKU's unplaced requests at a close, after the buffer."""

    waiting: tuple[OpenRequest, ...]
    told: tuple[tuple[OpenRequest, str], ...]
    """Members' requests to be told `unfulfillable` (none of them served)."""
    given_up: tuple[tuple[OpenRequest, str], ...]
    """The requests the close marks `unfulfillable`: `told`, and the alliance's own unplaced
    replenishment (asked for again at the next close, as the gap is still there). Those served
    in part are marked and told by `BufferClose.write`, with the quantity not served."""


class BufferClose:
    """A close's part in the buffers: `plan` before the solver (demand counted, each buffer
    sized, the replenishment requests added), `settle` per SKU as decisions come, `write`
    before the cycle's row (draws, stock, sizings, statements)."""

    def __init__(self, cycle_no: int, cycle_id: str, buffers: Sequence[RiskBuffer]) -> None:
        self.cycle_no = cycle_no
        self.cycle_id = cycle_id
        self.buffers = {b.sku: b for b in buffers}
        self.sizings: dict[str, BufferSizing] = {}
        self.replenishments: list[OpenRequest] = []
        self._served = _Served()
        self._waiting: list[OpenRequest] = []
        """Members' requests of buffered SKUs left for a later close: counted in this cycle."""

    @classmethod
    async def plan(
        cls,
        uow: ProcurementUnitOfWork,
        cycle_no: int,
        cycle_id: str,
        by_sku: Mapping[str, Sequence[OpenRequest]],
        offers: Mapping[str, Sequence[Offer]],
        interval_seconds: int,
        order_date: date,
    ) -> BufferClose:
        """`by_sku`: the open requests; those of buffered SKUs no close counted before count in
        this cycle's demand. `offers`: the catalog's, not rated by risk (lead times only)."""
        store = uow.buffers
        buffers = await store.list()
        plan = cls(cycle_no, cycle_id, buffers)
        if not buffers:
            return plan
        plan._served.admitted = await store.admitted(skus=list(plan.buffers))
        counted = await store.counted_before(list(plan.buffers))
        demand: dict[tuple[str, str], int] = {}
        for sku in plan.buffers:
            for r in by_sku.get(sku, ()):
                if r.member_id != ALLIANCE_MEMBER_ID and (r.member_id, r.request_id) not in counted:
                    demand[(sku, r.member_id)] = demand.get((sku, r.member_id), 0) + r.quantity
        await store.record_demand(cycle_no, demand)
        longest = max(b.history_cycles for b in buffers)
        cycles = [*await store.closed_cycles(longest - 1), cycle_no]
        histories = await store.histories(list(plan.buffers), cycles)
        for buffer in buffers:
            window = cycles[-buffer.history_cycles:]
            stats = demand_statistics(histories.get(buffer.sku, {}), buffer.subscribers, buffer.history_cycles)
            lead_days = replenishment_lead_days(offers.get(buffer.sku, ()), buffer.warehouse.country)
            lead_cycles = lead_time_cycles(lead_days or 0, interval_seconds)
            sizing = size_buffer(
                cycle_id, buffer.sku, buffer.service_level, buffer.holding_cost_per_unit_and_cycle, lead_cycles,
                stats, len(window),
            )
            plan.sizings[buffer.sku] = sizing
            if lead_days is not None:
                request = replenishment_request(
                    buffer.sku, buffer.warehouse, sizing.target, buffer.stock, cycle_id, order_date, lead_days
                )
                if request is not None:
                    plan.replenishments.append(request)
        await store.add_replenishments(plan.replenishments)
        return plan

    def settle(self, sku: str, leftovers: Leftovers) -> Settled:
        """Draw on the SKU's buffer for the members' requests that cannot wait."""
        own = [(r, why) for r, why in leftovers.unfulfillable if r.member_id == ALLIANCE_MEMBER_ID]
        own += [(r, ASKED_AGAIN) for r in leftovers.waiting if r.member_id == ALLIANCE_MEMBER_ID]
        waiting = tuple(r for r in leftovers.waiting if r.member_id != ALLIANCE_MEMBER_ID)
        theirs = [(r, why) for r, why in leftovers.unfulfillable if r.member_id != ALLIANCE_MEMBER_ID]
        buffer = self.buffers.get(sku)
        told = theirs
        if buffer is not None:
            self._waiting += waiting
        if buffer is not None and theirs:
            stock = self._served.stock.get(sku, buffer.stock)
            told = self._served.serve(buffer, stock, self.sizings.get(sku), theirs)
        return Settled(waiting, tuple(told), (*told, *own))

    async def write(self, uow: ProcurementUnitOfWork) -> None:
        if not self.buffers:
            return
        store = uow.buffers
        await store.mark_counted(self.cycle_no, self._waiting)
        await self._served.write(uow, self.cycle_no, self.cycle_id, {s: b.warehouse.site for s, b in self.buffers.items()})
        stocks = {sku: self._served.stock.get(sku, b.stock) for sku, b in self.buffers.items()}
        await store.record_sizings(self.cycle_no, list(self.sizings.values()), {s: st.on_hand for s, st in stocks.items()})
        await store.count_closes_below_half(
            {sku: stocks[sku].on_hand * 2 < self.sizings[sku].target for sku in self.buffers}
        )
        closing = {
            sku: (period_cycle_numbers(self.cycle_no, b.statement_every_cycles).start, self.cycle_no)
            for sku, b in self.buffers.items() if closes_period(self.cycle_no, b.statement_every_cycles)
        }
        recorded, drawn = await store.periods(closing) if closing else ({}, {})
        for sku in closing:
            for member_id, statement in statements(recorded[sku], drawn[sku], stocks[sku].on_hand):
                uow.publish(member_notice(
                    SOURCE, member_id, EventType.RISK_BUFFER_STATEMENT, statement, f"{sku}:{statement.period}"
                ))
        shared = {sku: s.holding_cost for sku, s in self.sizings.items()}
        uow.after_commit(lambda: _count_cost(shared))


def _count_cost(shared: Mapping[str, Decimal]) -> None:
    for sku, cost in shared.items():
        metrics.BUFFER_COST_SHARED.labels(sku).inc(float(cost))


async def refresh_buffer_gauges(uow: ProcurementUnitOfWork) -> None:
    buffers = await uow.buffers.list()
    sizings = await uow.buffers.latest_sizings(b.sku for b in buffers)
    below = await uow.buffers.closes_below_half()
    for buffer in buffers:
        sizing = sizings.get(buffer.sku)
        metrics.BUFFER_TARGET.labels(buffer.sku).set(sizing.target if sizing else 0)
        metrics.BUFFER_ON_HAND.labels(buffer.sku).set(buffer.stock.on_hand)
        metrics.BUFFER_ON_ORDER.labels(buffer.sku).set(buffer.stock.ordered)
        metrics.BUFFER_CLOSES_BELOW_HALF.labels(buffer.sku).set(below.get(buffer.sku, 0))


class BufferRefused(Exception):
    """An admin change the buffers cannot take; `field` names the input at fault."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class NoSuchBuffer(LookupError):
    pass


async def configure(uow: ProcurementUnitOfWork, entry: seed.RiskBuffer) -> tuple[RiskBuffer, bool]:
    """Create or update a buffer from a seed entry, checked as the seed checks it (against the
    members procurement knows); returns it and whether it is new. A new buffer's subscribers
    are the entry's; an existing one keeps its own (`subscribe` and `unsubscribe` change them)."""
    suppliers = await uow.suppliers.list()
    known = await uow.known_members.known(entry.members)
    problem = seed.risk_buffer_problem(entry, known, suppliers)  # type: ignore[arg-type]
    if problem is not None:
        field, _, detail = problem.partition(": ")
        raise BufferRefused(field, detail)
    buffer = buffer_from_seed(entry)
    new = not await uow.buffers.exists(buffer.sku)
    await uow.buffers.save(buffer, subscribe=new)
    stored = await uow.buffers.get(buffer.sku)
    assert stored is not None
    return stored, new


async def _buffer(uow: ProcurementUnitOfWork, sku: str) -> RiskBuffer:
    buffer = await uow.buffers.get(sku)
    if buffer is None:
        raise NoSuchBuffer(sku)
    return buffer


async def subscribe(uow: ProcurementUnitOfWork, sku: str, member_id: str) -> bool:
    """From the next close on; whether it was not subscribed before."""
    await _buffer(uow, sku)
    if member_id == ALLIANCE_MEMBER_ID or not await uow.known_members.known([member_id]):
        raise BufferRefused("member_id", f"'{member_id}' is not a member of the alliance")
    return await uow.buffers.subscribe(sku, member_id)


async def unsubscribe(uow: ProcurementUnitOfWork, sku: str, member_id: str) -> bool:
    """From the next close on: the statements of closes already made stay as they were."""
    await _buffer(uow, sku)
    return await uow.buffers.unsubscribe(sku, member_id)


async def receive(uow: ProcurementUnitOfWork, sku: str, quantity: int, received_on: date) -> RiskBuffer:
    """Book `quantity` units as arrived at the buffer's warehouse, from its oldest lots."""
    await uow.lock_decisions()  # draws change the same stock
    buffer = await _buffer(uow, sku)
    try:
        stock = buffer.stock.received(quantity)
    except StockError:
        raise BufferRefused(
            "quantity", f"{quantity} units cannot be booked: {buffer.stock.ordered} are on order"
        ) from None
    await uow.buffers.save_stock(sku, stock)
    taken = received_from_lots(buffer.stock.on_order, quantity)
    number = await uow.buffers.record_receipt(sku, taken, (stock.value - buffer.stock.value) / quantity)
    await _goods_received(uow, number, taken, received_on)
    stored = await uow.buffers.get(sku)
    assert stored is not None
    return stored


async def _goods_received(
    uow: ProcurementUnitOfWork, number: int, taken: Mapping[str, int], received_on: date
) -> None:
    """The warehouse's receipt as the after-the-order ledger takes a member's: for each lot whose
    supplier dispatched it, so its goods are not reported missing and its request completes.
    Goods of a supplier that sends no despatch advice are booked into the buffer only."""
    receipts = [
        Receipt(f"buffer-receipt-{number}-{n}", ALLIANCE_MEMBER_ID, lot_request(reference)[1], received_on, units)
        for n, (reference, units) in enumerate(sorted(taken.items()), start=1)
    ]
    ledgers = {ledger.request_id: ledger for ledger in await uow.fulfilment.ledgers(
        [(ALLIANCE_MEMBER_ID, r.request_id) for r in receipts]
    )}
    taken_now, completed = [], []
    for receipt in receipts:
        ledger = ledgers.get(receipt.request_id)
        if judge_receipt(ledger, receipt, None) is not AnswerOutcome.APPLY:
            continue
        assert ledger is not None
        ledger = ledgers[receipt.request_id] = RequestLedger(
            ledger.member_id, ledger.request_id, ledger.commitments, ledger.dispatches,
            (*ledger.receipts, receipt), ledger.awaiting_answer,
        )
        taken_now.append(receipt)
    for request_id in dict.fromkeys(r.request_id for r in taken_now):
        done = ledgers[request_id].completion()
        if done is not None:
            completed.append((ALLIANCE_MEMBER_ID, request_id, done.quantity))
    await uow.fulfilment.add_receipts(taken_now)
    await uow.fulfilment.complete(completed)


async def member_statement(
    uow: ProcurementUnitOfWork, sku: str, member_id: str, cycle_id: str | None = None
) -> RiskBufferStatement | None:
    """What `member_id` was (or would have been) told for the period closed by `cycle_id`, or
    the latest closed period; recomputed from the sizings recorded then, so later subscription
    changes do not show. None: no such period, or the member had no part in it."""
    await _buffer(uow, sku)
    period = await uow.buffers.statement_period(sku, cycle_id)
    if period is None:
        return None
    first, last, on_hand = period
    recorded, drawn = await uow.buffers.periods({sku: (first, last)})
    return next((s for m, s in statements(recorded[sku], drawn[sku], on_hand) if m == member_id), None)
