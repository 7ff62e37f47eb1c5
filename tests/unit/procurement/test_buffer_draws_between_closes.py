"""Between closes, what a supplier's answer leaves without a supplier that nobody else can take
(a rejected order, the unserved part of a partial line): its subscribers' requests are served
from the SKU's risk buffer in the answer's own transaction (short stock split by cost share),
the others told `unfulfillable` as before; the same answer again draws nothing more."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from services.procurement.domain.buffers import BufferStock, DemandStats, RiskBuffer, size_buffer
from services.procurement.domain.demand import RequestStatus
from shared import topics
from shared.contract import EventType, ShipTo
from shared.events.notices import MEMBER_NOTICE_REQUESTED
from tests.support.fake_procurement import FakeProcurementUnitOfWork, place_order
from tests.unit.procurement.test_supplier_answers import HOLZ, REQUESTS, SETTINGS, answer, deliver, rejection

WAREHOUSE = ShipTo(site="Zentrallager Nord", postal_code="30159", country="DE")


def with_buffer(uow: FakeProcurementUnitOfWork, on_hand: int, subscribers: tuple[str, ...]) -> None:
    stats = {m: DemandStats(Decimal(10), Decimal(variance), 6) for m, variance in zip(subscribers, (16, 9), strict=False)}
    uow.tables.buffers["BOARD-18MM"] = RiskBuffer(
        "BOARD-18MM", WAREHOUSE, 0.95, Decimal("0.04"), subscribers=subscribers,
        stock=BufferStock(on_hand, Decimal("8.50") * on_hand),
    )
    uow.tables.buffer_sizings["BOARD-18MM"] = size_buffer("cycle-1", "BOARD-18MM", 0.95, Decimal("0.04"), 4, stats, 6)


def told(uow: FakeProcurementUnitOfWork) -> list[tuple[str, str, dict]]:
    return [(n.key, n.data["notice_type"], n.data["data"]) for n in uow.events(topics.MEMBER_NOTICES, MEMBER_NOTICE_REQUESTED)]


async def test_a_subscriber_is_served_from_the_buffer_a_non_subscriber_is_told_unfulfillable():
    uow = FakeProcurementUnitOfWork([HOLZ], topic_prefix=SETTINGS.topic_prefix)
    order = await place_order(uow, "s-holz", REQUESTS, Decimal("9.00"))
    with_buffer(uow, on_hand=100, subscribers=("m-huber",))
    await deliver(uow, rejection(order.order_id))

    assert sorted((member, kind) for member, kind, _ in told(uow)) == [
        ("m-berg", "purchase_request.unfulfillable"), ("m-huber", "purchase_request.served_from_buffer")]
    [served] = [data for _, kind, data in told(uow) if kind == "purchase_request.served_from_buffer"]
    assert served == {"request_id": "r-1", "quantity": 60, "unit_price": "8.50", "warehouse": "Zentrallager Nord"}
    assert await uow.requests.status("m-huber", "r-1") is RequestStatus.CONFIRMED
    assert await uow.requests.status("m-berg", "r-2") is RequestStatus.UNFULFILLABLE
    assert uow.tables.buffers["BOARD-18MM"].stock.on_hand == 40

    await deliver(uow, rejection(order.order_id))  # redelivered: nothing drawn again
    assert uow.tables.buffers["BOARD-18MM"].stock.on_hand == 40 and len(uow.tables.buffer_draws) == 1


async def test_short_stock_is_split_by_cost_share_and_the_rest_told_unfulfillable_with_its_quantity():
    uow = FakeProcurementUnitOfWork([HOLZ], topic_prefix=SETTINGS.topic_prefix)
    order = await place_order(uow, "s-holz", REQUESTS, Decimal("9.00"))
    with_buffer(uow, on_hand=25, subscribers=("m-berg", "m-huber"))  # variances 16 and 9: shares 16 : 9
    await deliver(uow, rejection(order.order_id))

    served = {member: data["quantity"] for member, kind, data in told(uow) if kind == "purchase_request.served_from_buffer"}
    assert served == {"m-berg": 16, "m-huber": 9}
    rests = {member: data["quantity"] for member, kind, data in told(uow) if kind == "purchase_request.unfulfillable"}
    assert rests == {"m-berg": 40 - 16, "m-huber": 60 - 9}
    assert uow.tables.buffers["BOARD-18MM"].stock.on_hand == 0


async def test_a_request_whose_price_limit_is_below_the_buffers_cost_is_not_served():
    uow = FakeProcurementUnitOfWork([HOLZ], topic_prefix=SETTINGS.topic_prefix)
    requests = [REQUESTS[0].model_copy(update={"max_unit_price": Decimal("9.00")})]
    order = await place_order(uow, "s-holz", requests, Decimal("9.00"))
    with_buffer(uow, on_hand=100, subscribers=("m-huber",))
    uow.tables.buffers["BOARD-18MM"] = replace(
        uow.tables.buffers["BOARD-18MM"], stock=BufferStock(100, Decimal("950.00")))  # 9.50 a unit
    await deliver(uow, rejection(order.order_id))
    assert [(m, kind) for m, kind, _ in told(uow)] == [("m-huber", "purchase_request.unfulfillable")]


async def test_a_shortfall_nobody_else_can_take_is_served_from_the_buffer_for_the_part_not_delivered():
    uow = FakeProcurementUnitOfWork([HOLZ], topic_prefix=SETTINGS.topic_prefix)
    order = await place_order(uow, "s-holz", REQUESTS, Decimal("9.00"))
    with_buffer(uow, on_hand=100, subscribers=("m-huber",))
    [line] = order.lines
    # 50 of 100: m-huber's 60 comes first and is served in part (50), m-berg's 40 not at all.
    partial = answer(order.order_id, EventType.JOINT_ORDER_ANSWERED, event_id="a-3",
                     lines=[{"line_id": line.line_id, "status": "partial", "quantity": 50}])
    await deliver(uow, partial)

    served = [(m, data) for m, kind, data in told(uow) if kind == "purchase_request.served_from_buffer"]
    assert served == [("m-huber", {"request_id": "r-1", "quantity": 10, "unit_price": "8.50",
                                   "warehouse": "Zentrallager Nord"})]
    assert await uow.requests.status("m-huber", "r-1") is not RequestStatus.UNFULFILLABLE  # 50 are on the order
    lost = [(m, data) for m, kind, data in told(uow) if kind == "purchase_request.unfulfillable"]
    assert lost == [("m-berg", {"request_id": "r-2", "reason": lost[0][1]["reason"]})]
    assert uow.tables.buffers["BOARD-18MM"].stock.on_hand == 90
