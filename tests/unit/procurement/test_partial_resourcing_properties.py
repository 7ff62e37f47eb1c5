"""Over random orders and answers: every unit of a request is served by the answer, re-sourced, or
lost, exactly once (never placed twice); a partial line serves deliveries in the contract's order;
and re-sourced parts keep every optimizer rule, individual rationality for the part's quantity
included, with the part's savings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.procurement.adapters.highs import HIGHS
from services.procurement.domain.answers import LineDecision, OrderAnswer, Service, apply_answer
from services.procurement.domain.bundling import Offer, Tier, optimize_bundle
from services.procurement.domain.catalog import CatalogItem, Supplier
from services.procurement.domain.demand import OpenRequest
from services.procurement.domain.orders import Delivery, JointOrder, OrderLine
from services.procurement.domain.resourcing import request_part, resourcing_offers
from shared.contract import LineStatus

TODAY = date(2026, 12, 1)
ADMITTED = datetime(2026, 11, 1, tzinfo=UTC)
SKUS = ("A", "B")


@st.composite
def catalog_items(draw: st.DrawFn, sku: str) -> CatalogItem:
    """All-units tiers (prices never rising), a capacity and a minimum order."""
    breaks = sorted(draw(st.sets(st.integers(1, 150), min_size=1, max_size=3)))
    prices = sorted(draw(st.lists(st.integers(500, 1200), min_size=len(breaks), max_size=len(breaks))), reverse=True)
    tiers = tuple(Tier(q, Decimal(p).scaleb(-2)) for q, p in zip(breaks, prices, strict=True))
    return CatalogItem(sku, sku, "wood", "piece", draw(st.integers(20, 400)), draw(st.integers(0, 30)), tiers)


@st.composite
def suppliers(draw: st.DrawFn) -> list[Supplier]:
    found = []
    for n in range(draw(st.integers(1, 3))):
        items = tuple(draw(catalog_items(sku)) for sku in SKUS if draw(st.booleans()))
        found.append(Supplier(f"s-{n + 1}", f"s-{n + 1}", ("DE",), draw(st.integers(1, 6)), "secret", catalog=items))
    return found


@st.composite
def orders_and_answers(draw: st.DrawFn) -> tuple[JointOrder, dict[str, OpenRequest], OrderAnswer, dict]:
    requests: dict[str, OpenRequest] = {}
    lines, decisions = [], []
    for n, sku in enumerate(SKUS[: draw(st.integers(1, 2))], 1):
        deliveries = []
        for k in range(draw(st.integers(1, 5))):
            request = OpenRequest(f"m-{k}", f"r-{sku}-{k}", sku, draw(st.integers(1, 100)),
                                  TODAY + timedelta(days=draw(st.integers(2, 12))), "DE")
            requests[request.key] = request
            deliveries.append(Delivery(request.member_id, request.request_id, request.quantity, request.needed_by,
                                       None, Decimal("10.00"), None))
        line = OrderLine(f"ord-1-{n}", sku, Decimal("10.00"), tuple(deliveries))
        lines.append(line)
        status = draw(st.sampled_from(LineStatus) if line.quantity > 1 else st.sampled_from(
            [LineStatus.ACCEPTED, LineStatus.REJECTED]))
        quantity = {LineStatus.ACCEPTED: line.quantity, LineStatus.REJECTED: 0}.get(status)
        if quantity is None:
            quantity = draw(st.integers(1, line.quantity - 1))
        expected = draw(st.none() | st.integers(1, 14).map(lambda d: TODAY + timedelta(days=d)))
        decisions.append(LineDecision(line.line_id, status, quantity, expected))
    order = JointOrder("ord-1", "s-0", "c-1", tuple(lines))
    ranks = draw(st.permutations(sorted(requests)))
    admitted = {key: ADMITTED + timedelta(minutes=rank) for rank, key in enumerate(ranks)}
    return order, requests, OrderAnswer("ord-1", "s-0", tuple(decisions)), admitted


def alone_price(offer: Offer, quantity: int, needed_by: date) -> Decimal | None:
    """What `offer` charges for `quantity` ordered alone, None when it cannot take it in time."""
    floor = max(offer.min_order_quantity, offer.tiers[0].min_quantity, 1)
    if TODAY + timedelta(days=offer.lead_time_days) > needed_by or not floor <= quantity <= offer.capacity_per_cycle:
        return None
    return [t.unit_price for t in offer.tiers if t.min_quantity <= quantity][-1]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders_and_answers(), suppliers(), st.integers(0, 100))
def test_partial_resourcing_places_every_unit_once_under_every_rule(case, others, committed):
    order, requests, answer, admitted = case
    effects = apply_answer(order, answer, admitted)
    by_line = {decision.line_id: decision for decision in answer.lines}

    for line in order.lines:
        decision = by_line[line.line_id]
        mine = [c for c in effects.commitments if c.line_id == line.line_id]
        assert all(c.confirmed + c.shortfall == c.ordered and c.confirmed >= 0 for c in mine)
        late = [c for c in mine if c.service is Service.LATE]
        assert all(c.confirmed == 0 and decision.expected_delivery is not None for c in late)
        on_time = sorted((c for c in mine if c.service is not Service.LATE),
                         key=lambda c: (requests[f"{c.member_id}/{c.request_id}"].needed_by,
                                        admitted[f"{c.member_id}/{c.request_id}"]))
        assert sum(c.confirmed for c in on_time) == min(decision.quantity, sum(c.ordered for c in on_time))
        services = [c.service for c in on_time]
        assert services == sorted(services, key=[Service.WHOLE, Service.PART, Service.NONE].index)
        assert services.count(Service.PART) <= 1

    parts: dict[str, list[OpenRequest]] = {}
    for shortfall in effects.shortfalls:
        request = requests[f"{shortfall.member_id}/{shortfall.request_id}"]
        parts.setdefault(shortfall.sku, []).append(request_part(request, shortfall.quantity))
    for sku, sku_parts in parts.items():
        ordered = {s.supplier_id: committed for s in others}
        offers = resourcing_offers([*others, Supplier("s-0", "s-0", ("DE",), 1, "x", catalog=(
            CatalogItem(sku, sku, "wood", "piece", 10**6, 0, (Tier(1, Decimal("1.00")),)),))], sku, {"s-0"}, ordered)
        assert all(o.supplier_id != "s-0" for o in offers)
        decision = optimize_bundle(offers, [p.demand() for p in sku_parts], order_date=TODAY, max_supplier_share=0.7,
                                   milp_solver=HIGHS)
        keys = [p.key for p in sku_parts]
        assert sorted([*decision.placements, *decision.unplaced]) == sorted(keys)  # each part decided once
        assert not set(decision.placements) & set(decision.unplaced)
        totals: dict[str, int] = {}
        for part in sku_parts:
            placement = decision.placements.get(part.key)
            if placement is None:
                continue
            assert placement.supplier_id != "s-0" and placement.quantity == part.quantity
            totals[placement.supplier_id] = totals.get(placement.supplier_id, 0) + part.quantity
            prices = [alone_price(o, part.quantity, part.needed_by) for o in offers]
            standalone = min((p for p in prices if p is not None), default=None)
            assert placement.standalone_unit_price == standalone
            if standalone is not None:
                assert placement.unit_price <= standalone
                assert placement.savings == part.quantity * (standalone - placement.unit_price) >= 0
        for supplier_order in decision.supplier_orders:
            offer = next(o for o in offers if o.supplier_id == supplier_order.supplier_id)
            assert supplier_order.quantity == totals[offer.supplier_id] <= offer.capacity_per_cycle
            assert supplier_order.quantity >= max(offer.min_order_quantity, offer.tiers[0].min_quantity)
            reached = [t.unit_price for t in offer.tiers if t.min_quantity <= supplier_order.quantity][-1]
            assert supplier_order.unit_price == reached

    served = {f"{c.member_id}/{c.request_id}": c.confirmed for c in effects.commitments}
    short = {f"{s.member_id}/{s.request_id}": s.quantity for s in effects.shortfalls}
    for key, request in requests.items():
        assert served[key] + short.get(key, 0) == request.quantity  # served, or decided again: never both
