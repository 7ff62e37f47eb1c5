"""A close's part in the risk buffers once a SKU is decided (`BufferClose.settle`): subscribers'
requests that cannot wait are drawn for, everyone else's are told as before, and the alliance's
own unplaced replenishment is dropped silently, to be asked for again at the next close."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.procurement.domain.buffers import BufferStock, DemandStats, RiskBuffer, size_buffer
from services.procurement.domain.demand import OpenRequest
from services.procurement.domain.orders import Leftovers
from services.procurement.service_layer.buffers import ASKED_AGAIN, BufferClose
from shared.contract import ALLIANCE_MEMBER_ID, ShipTo

SKU = "BOARD-18MM"
WAREHOUSE = ShipTo(site="Zentrallager Nord", postal_code="30159", country="DE")
SOON = date(2026, 12, 9)


def request(member_id: str, request_id: str, quantity: int) -> OpenRequest:
    return OpenRequest(member_id, request_id, SKU, quantity, SOON, "DE")


def close_with(on_hand: int) -> BufferClose:
    buffer = RiskBuffer(SKU, WAREHOUSE, 0.95, Decimal("0.04"), subscribers=("m-huber", "m-maier"),
                        stock=BufferStock(on_hand, Decimal("9.00") * on_hand))
    close = BufferClose(7, "cycle-7", [buffer])
    stats = {"m-huber": DemandStats(Decimal(10), Decimal(16), 6), "m-maier": DemandStats(Decimal(20), Decimal(9), 6)}
    close.sizings[SKU] = size_buffer("cycle-7", SKU, 0.95, Decimal("0.04"), 4, stats, 6)
    return close


def test_subscribers_are_drawn_for_outsiders_told_and_the_alliances_own_request_dropped():
    close = close_with(on_hand=100)
    own = request(ALLIANCE_MEMBER_ID, "buffer:cycle-7:BOARD-18MM", 30)
    later = request("m-huber", "r-later", 4)
    settled = close.settle(SKU, Leftovers(
        waiting=(later, own),
        unfulfillable=((request("m-huber", "r-1", 5), "no_eligible_supplier"),
                       (request("m-berg", "r-2", 5), "no_eligible_supplier")),
    ))
    assert settled.waiting == (later,)
    assert settled.told == ((request("m-berg", "r-2", 5), "no_eligible_supplier"),)
    assert settled.given_up == (*settled.told, (own, ASKED_AGAIN))


def test_short_stock_at_a_close_is_split_by_cost_share_across_the_skus_claims():
    close = close_with(on_hand=10)
    settled = close.settle(SKU, Leftovers(waiting=(), unfulfillable=(
        (request("m-huber", "r-1", 10), "capacity"), (request("m-maier", "r-2", 10), "capacity"),
    )))
    assert settled.told == ()  # both served in part: told with the quantity not served by the close's write
    served = {d.member_id: d.quantity for d in close._served.draws[SKU]}
    assert served == {"m-huber": 6, "m-maier": 4}  # variances 16 : 9
    assert close._served.stock[SKU].on_hand == 0
