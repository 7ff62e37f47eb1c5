"""Statements: each subscriber's account of a closed period, its own figures only.

Periods are blocks of `statement_every_cycles` cycle numbers (1-10, 11-20, ... for 10), aligned
like the schedule's slots so that no state says where one began; the close of a period's last
cycle closes the period. A statement sums the sizings recorded at the period's closes: a member
pays for the cycles it was subscribed in, at each cycle's sizing, and a later subscription
change, which only changes later sizings, never rewrites it. Amounts are rounded to cents here
so that savings are exactly standalone cost minus cost share, as the member reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from services.procurement.domain.buffers.sizing import BufferSizing
from shared.contract import RiskBufferStatement, to_cents


def closes_period(cycle_number: int, statement_every_cycles: int) -> bool:
    return cycle_number % statement_every_cycles == 0


def period_cycle_numbers(cycle_number: int, statement_every_cycles: int) -> range:
    """The cycle numbers of the period `cycle_number` falls in."""
    first = (cycle_number - 1) // statement_every_cycles * statement_every_cycles + 1
    return range(first, first + statement_every_cycles)


def statements(
    sizings: Sequence[BufferSizing], drawn: Mapping[str, int], on_hand: int
) -> list[tuple[str, RiskBufferStatement]]:
    """(member_id, statement) for each member subscribed in some cycle of the period or drawing in
    it, in member id order. `sizings`: the buffer's recorded sizings of the period's cycles,
    oldest first; `drawn`: units each member was served in the period; `on_hand`: at its close."""
    if not sizings:
        return []
    period = f"{sizings[0].cycle_id}/{sizings[-1].cycle_id}"
    shares: dict[str, Decimal] = dict.fromkeys(drawn, Decimal(0))
    standalone: dict[str, Decimal] = dict.fromkeys(drawn, Decimal(0))
    for sizing in sizings:
        for member in sizing.members:
            shares[member.member_id] = shares.get(member.member_id, Decimal(0)) + member.cost_share
            standalone[member.member_id] = standalone.get(member.member_id, Decimal(0)) + member.standalone_cost
    result = []
    for member_id in sorted(shares):
        share, alone = to_cents(shares[member_id]), to_cents(standalone[member_id])
        result.append((member_id, RiskBufferStatement(
            sku=sizings[0].sku, period=period, cost_share=share, standalone_cost=alone, savings=alone - share,
            on_hand=on_hand, drawn=drawn.get(member_id, 0),
        )))
    return result
