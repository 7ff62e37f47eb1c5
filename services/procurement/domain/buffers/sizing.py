"""How much a risk buffer holds and who pays how much for holding it.

Demand statistics. For each subscriber: the quantity it requested of the SKU in each closed cycle
of the window (the last `history_cycles`; zero for a cycle without a request), mean and sample
variance. A member with fewer than `own_history_needed` cycles of its own is given the SKU's pooled
statistics instead: every (member, cycle) observation of the members that do have enough history
(of all that have any, when none has), read as draws from one typical member's demand.

Sizing (Eppen 1979; periodic review with one cycle between reviews):

    L          = 1 + ceil(lead_time_days * 86400 / interval_seconds)     protection interval, cycles
    z          = Φ⁻¹(service_level)
    pooled     = z * sqrt(L * Σᵢ σᵢ²)                                     target = ceil(pooled)
    standalone = z * sqrt(L) * σᵢ                                         member i's buffer alone

Demands are taken as independent: Σᵢ σᵢ² and no covariances (docs/risk-buffers.md says why). The
mean demand over the protection interval is not stocked: every request's expected quantity is
bought for it by the cycle's own bundling, so the buffer only holds the safety stock against the
deviation. With n identical members the target is √n, not n, times one member's stock.

Cost shares. The subscribers share the expected holding cost of the pooled safety stock,
h * pooled per cycle, in proportion to their variances:

    shareᵢ = h * z * sqrt(L) * σᵢ² / sqrt(Σⱼ σⱼ²)

This is in the core of the pooling game c(S) = h * z * sqrt(L) * sqrt(Σ_{i∈S} σᵢ²): with V_S the
variance of coalition S and V_N the subscribers', Σ_{i∈S} shareᵢ = h z sqrt(L) V_S / sqrt(V_N)
= c(S) * sqrt(V_S / V_N) <= c(S), with equality for S = N (Hartman, Dror & Shaked 2000; Müller,
Scarsini & Shaked 2002). The game is on the formula's expected stock, not the whole units of the
target: rounding up to whole units (under one unit per cycle) is not charged, since the rounded
game's costs are not concave and the rule would leave its core.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, localcontext
from fractions import Fraction
from math import ceil
from statistics import NormalDist, mean, variance

from services.procurement.domain.bundling import Offer

MIN_CLOSED_CYCLES = 2
"""Below this many closed cycles in the window the target is 0 (the contract's rule): there is no
variance to size from."""
SECONDS_PER_DAY = 86_400
ZERO = Decimal(0)


def own_history_needed(history_cycles: int) -> int:
    """Cycles of its own a member needs to be sized from them: half the window, at least 2."""
    return max(MIN_CLOSED_CYCLES, ceil(history_cycles / 2))


@dataclass(frozen=True, slots=True)
class DemandStats:
    """A member's requested quantity per cycle: mean and sample variance over `cycles` cycles;
    `pooled` when they are the SKU's pooled statistics (too little history of its own)."""

    mean: Decimal
    variance: Decimal
    cycles: int
    pooled: bool = False


def _stats(observations: Sequence[int], pooled: bool = False) -> DemandStats:
    if not observations:
        return DemandStats(ZERO, ZERO, 0, pooled)
    exact = [Fraction(q) for q in observations]
    spread = variance(exact) if len(exact) >= 2 else Fraction(0)
    return DemandStats(_decimal(mean(exact)), _decimal(spread), len(exact), pooled)


def _decimal(value: Fraction) -> Decimal:
    with localcontext() as context:
        context.prec = 28
        return Decimal(value.numerator) / Decimal(value.denominator)


def demand_statistics(
    histories: Mapping[str, Sequence[int]], subscribers: Iterable[str], history_cycles: int
) -> dict[str, DemandStats]:
    """Each subscriber's statistics. `histories`: per member that requested the SKU in the window
    (subscribers or not) and per subscriber, its requested quantity in each closed cycle since it
    became a member, oldest first; only the last `history_cycles` count."""
    windows = {member: list(quantities)[-history_cycles:] for member, quantities in histories.items()}
    needed = own_history_needed(history_cycles)
    long_enough = [w for w in windows.values() if len(w) >= needed]
    pool = _stats([q for w in (long_enough or windows.values()) for q in w], pooled=True)
    result = {}
    for member in subscribers:
        own = windows.get(member, [])
        result[member] = _stats(own) if len(own) >= needed else pool
    return result


def replenishment_lead_days(offers: Iterable[Offer], country: str) -> int | None:
    """The longest lead time of the SKU's suppliers delivering to the warehouse's country: the
    replenishment request is due that late, so any of them may win it. None: none delivers there."""
    lead_times = [offer.lead_time_days for offer in offers if country in offer.regions]
    return max(lead_times) if lead_times else None


def lead_time_cycles(lead_time_days: int, interval_seconds: int) -> int:
    """The protection interval in cycles: the cycle until the gap is ordered at the next close,
    plus the supplier's lead time rounded up to whole cycles."""
    return 1 + ceil(lead_time_days * SECONDS_PER_DAY / interval_seconds)


def service_factor(service_level: float) -> Decimal:
    """z: the standard normal quantile of the service level."""
    return Decimal(repr(NormalDist().inv_cdf(service_level)))


@dataclass(frozen=True, slots=True)
class MemberSizing:
    """One subscriber's part of a cycle's sizing; costs are per cycle, in EUR, not rounded."""

    member_id: str
    stats: DemandStats
    standalone_stock: Decimal
    """The safety stock it would need alone at the same service level."""
    cost_share: Decimal
    standalone_cost: Decimal

    @property
    def savings(self) -> Decimal:
        return self.standalone_cost - self.cost_share


@dataclass(frozen=True, slots=True)
class BufferSizing:
    """A buffer's sizing at one cycle close: recorded with the cycle, so statements are sums over
    the recorded cycles and a later subscription change rewrites nothing."""

    cycle_id: str
    sku: str
    lead_time_cycles: int
    service_factor: Decimal
    safety_stock: Decimal
    """The formula's pooled safety stock, not rounded."""
    target: int
    holding_cost: Decimal
    """What holding `safety_stock` costs per cycle: what the subscribers share."""
    members: tuple[MemberSizing, ...]
    """In member id order."""

    def member(self, member_id: str) -> MemberSizing | None:
        return next((m for m in self.members if m.member_id == member_id), None)

    @property
    def cost_shares(self) -> dict[str, Decimal]:
        return {m.member_id: m.cost_share for m in self.members}


def size_buffer(
    cycle_id: str,
    sku: str,
    service_level: float,
    holding_cost_per_unit_and_cycle: Decimal,
    lead_cycles: int,
    stats: Mapping[str, DemandStats],
    closed_cycles: int,
) -> BufferSizing:
    """The module docstring's formulas for the subscribers in `stats`; all zero below
    `MIN_CLOSED_CYCLES` closed cycles in the window."""
    z = service_factor(service_level)
    h = holding_cost_per_unit_and_cycle
    with localcontext() as context:
        context.prec = 28
        usable = closed_cycles >= MIN_CLOSED_CYCLES
        variances = {member: (s.variance if usable else ZERO) for member, s in stats.items()}
        total = sum(variances.values(), ZERO)
        per_sigma = z * Decimal(lead_cycles).sqrt()
        pooled = per_sigma * total.sqrt()
        members = []
        for member_id in sorted(stats):
            own = variances[member_id]
            standalone = per_sigma * own.sqrt()
            share = h * pooled * own / total if total else ZERO
            members.append(MemberSizing(member_id, stats[member_id], standalone, share, h * standalone))
        target = int(pooled.to_integral_value(rounding=ROUND_CEILING))
        return BufferSizing(cycle_id, sku, lead_cycles, z, pooled, target, h * pooled, tuple(members))
