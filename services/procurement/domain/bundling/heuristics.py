"""Whole-request assignments: realising the band relaxation's supplier totals (a transportation flow,
subset sums), greedy construction with repair, local search."""

from __future__ import annotations

import time

from services.procurement.domain.bundling.bands import BandChoice
from services.procurement.domain.bundling.pricing import Band, Instance
from services.procurement.domain.bundling.supply import Supply


def _route(demands: list[int], reach: list[tuple[int, ...]], targets: dict[int, int]) -> list[dict[int, int]]:
    """Split each type's demand over the suppliers it may use so every supplier gets exactly its
    target (a feasible transportation flow: greedy fill in the given type order, then augmenting
    paths); types early in the order tend to stay whole."""
    flows: list[dict[int, int]] = [{} for _ in demands]
    spare, room = list(demands), dict(targets)
    users: dict[int, list[int]] = {s: [] for s in targets}
    for g, suppliers in enumerate(reach):
        for s in suppliers:
            users[s].append(g)
            step = min(spare[g], room[s])
            if step:
                flows[g][s] = step
                spare[g] -= step
                room[s] -= step
    while any(room.values()):
        end, via_supplier, via_type = _augmenting_path(reach, users, flows, spare, room)
        forward, backward, s = [], [], end
        while True:
            g = via_supplier[s]
            forward.append((g, s))
            came_from = via_type[g]
            if came_from is None:
                break
            backward.append((g, came_from))
            s = came_from
        step = min(spare[g], room[end], *(flows[h][t] for h, t in backward))
        for h, t in forward:
            flows[h][t] = flows[h].get(t, 0) + step
        for h, t in backward:
            flows[h][t] -= step
        spare[g] -= step
        room[end] -= step
    return flows


def _augmenting_path(
    reach: list[tuple[int, ...]],
    users: dict[int, list[int]],
    flows: list[dict[int, int]],
    spare: list[int],
    room: dict[int, int],
) -> tuple[int, dict[int, int], dict[int, int | None]]:
    """Breadth-first search from types with spare demand to a supplier with room, moving forward
    along any usable type -> supplier arc and back along arcs carrying flow. Returns the supplier
    reached, the type each supplier was reached from, and the supplier each type was reached from
    (None for a starting type)."""
    via_type: dict[int, int | None] = {g: None for g, left in enumerate(spare) if left}
    via_supplier: dict[int, int] = {}
    frontier = list(via_type)
    while frontier:
        following = []
        for g in frontier:
            for s in reach[g]:
                if s in via_supplier:
                    continue
                via_supplier[s] = g
                if room[s]:
                    return s, via_supplier, via_type
                for h in users[s]:
                    if h not in via_type and flows[h].get(s):
                        via_type[h] = s
                        following.append(h)
        frontier = following
    raise AssertionError("targets come from a feasible relaxation, so a path exists")


def realize(instance: Instance, supply: Supply, choice: BandChoice) -> list[int]:
    """Whole-request assignment aiming at the relaxation's supplier totals: split each type's demand
    by a flow, fill each share with an exact (else largest) subset sum of the type's requests, then
    top up suppliers still short with the smallest covering sum of unplaced requests they may take
    (suppliers below their band's minimum first)."""
    candidates = instance.candidates
    bands: dict[int, Band] = {}
    for s, total in choice.totals.items():
        band = supply.band_for(s, total)
        assert band is not None  # the relaxation's totals lie in their bands
        bands[s] = band
    usable_by_options: dict[tuple[tuple[int, int], ...], tuple[int, ...]] = {}
    groups: dict[tuple[int, ...], list[int]] = {}
    allowed: list[tuple[int, ...]] = []
    for i, options in enumerate(supply.options):
        usable = usable_by_options.get(options)
        if usable is None:
            usable = usable_by_options[options] = tuple(
                s for s, j in options if s in bands and j <= bands[s].tier_index
            )
        allowed.append(usable)
        if usable:
            groups.setdefault(usable, []).append(i)
    reach = sorted(groups, key=lambda key: len(groups[key]))
    flows = _route([sum(candidates[i].quantity for i in groups[key]) for key in reach], reach, choice.totals)
    assignment = [-1] * len(candidates)
    totals = dict.fromkeys(choice.totals, 0)
    for key, shares in zip(reach, flows):
        remaining = sorted(groups[key], key=lambda i: -candidates[i].quantity)
        for s, share in sorted(shares.items(), key=lambda item: item[1]):
            chosen = set(_subset_within(remaining, [candidates[i].quantity for i in remaining], share))
            for i in chosen:
                assignment[i] = s
                totals[s] += candidates[i].quantity
            remaining = [i for i in remaining if i not in chosen]
    for s, target in sorted(choice.totals.items(), key=lambda item: totals[item[0]] >= bands[item[0]].low):
        if totals[s] < target:
            pool = [i for i, usable in enumerate(allowed) if assignment[i] < 0 and s in usable]
            sizes = [candidates[i].quantity for i in pool]
            for i in _subset_covering(pool, sizes, target - totals[s], bands[s].high - totals[s]):
                assignment[i] = s
                totals[s] += candidates[i].quantity
    return assignment


def _subset_covering(items: list[int], sizes: list[int], need: int, most: int) -> list[int]:
    """Items with the smallest size sum in ``[need, most]``; else the largest sum below ``need``."""
    most = min(most, need + max(sizes, default=0))
    table = _subset_sums(sizes, most)
    if table is None:
        return _subset_within(items, sizes, need)
    history, reachable = table
    above = reachable >> need
    if above:
        total = need + (above & -above).bit_length() - 1
    else:
        total = (reachable & ((1 << need) - 1)).bit_length() - 1
    return _pick(items, sizes, history, total)


def _subset_within(items: list[int], sizes: list[int], target: int) -> list[int]:
    """Items with the largest size sum not above ``target``, preferring large items so small ones stay
    available: greedy largest-first when it is exact, else an exact subset-sum within budget."""
    order = sorted(zip(items, sizes), key=lambda pair: -pair[1])
    greedy, left = [], target
    for item, size in order:
        if size <= left:
            greedy.append(item)
            left -= size
    if left == 0:
        return greedy
    ordered_items, ordered_sizes = [item for item, _ in order], [size for _, size in order]
    table = _subset_sums(ordered_sizes, target)
    if table is None or table[1].bit_length() - 1 <= target - left:
        return greedy
    history, reachable = table
    return _pick(ordered_items, ordered_sizes, history, reachable.bit_length() - 1)


_SUBSET_SUM_BITS = 1 << 26


def _subset_sums(sizes: list[int], limit: int) -> tuple[list[int], int] | None:
    """Bitsets of the sums up to ``limit`` reachable before each size and after all of them; None
    when the table would exceed ``_SUBSET_SUM_BITS`` (items x sum range) of work and memory."""
    if len(sizes) * (limit + 1) > _SUBSET_SUM_BITS:
        return None
    mask = (1 << (limit + 1)) - 1
    reachable, history = 1, []
    for size in sizes:
        history.append(reachable)
        reachable = (reachable | reachable << size) & mask
    return history, reachable


def _pick(items: list[int], sizes: list[int], history: list[int], total: int) -> list[int]:
    """Items reaching the reachable sum ``total``; later items are dropped whenever earlier ones suffice."""
    chosen = []
    for item, size, before in zip(reversed(items), reversed(sizes), reversed(history)):
        if not before >> total & 1:
            chosen.append(item)
            total -= size
    return chosen


# --------------------------------------------------------------------------------------------------
# Heuristics: greedy construction with repair, local search


def greedy_assignment(instance: Instance, supply: Supply) -> list[int]:
    """Largest requests first to the supplier with the cheapest reachable price and room left, then
    drop what breaks a minimum order or a price bound and re-insert where it fits."""
    candidates = instance.candidates
    assignment = [-1] * len(candidates)
    room = list(supply.caps)
    best_units = [bs[-1].price_units if bs else 0 for bs in supply.bands]
    order = sorted(range(len(candidates)), key=lambda i: -candidates[i].quantity)
    for i in order:
        quantity = candidates[i].quantity
        fitting = [(best_units[s], s) for s, _ in supply.options[i] if room[s] >= quantity]
        if fitting:
            s = min(fitting)[1]
            assignment[i] = s
            room[s] -= quantity
    repair(instance, supply, assignment, order)
    return assignment


def repair(instance: Instance, supply: Supply, assignment: list[int], order: list[int]) -> None:
    """Drop requests until every minimum order and price bound holds, then re-insert where they fit."""
    candidates = instance.candidates
    members: dict[int, list[int]] = {}
    for i, s in enumerate(assignment):
        if s >= 0:
            members.setdefault(s, []).append(i)
    closed: set[int] = set()
    changed = True
    while changed:
        changed = False
        for s, assigned in members.items():
            if not assigned:
                continue
            band = supply.band_for(s, sum(candidates[i].quantity for i in assigned))
            if band is None:
                closed.add(s)
            keep = [] if band is None else [i for i in assigned if candidates[i].options[s] <= band.tier_index]
            if len(keep) < len(assigned):
                for i in set(assigned) - set(keep):
                    assignment[i] = -1
                members[s] = keep
                changed = True
    totals = [0] * len(instance.offers)
    for s, assigned in members.items():
        totals[s] = sum(candidates[i].quantity for i in assigned)
    for i in order:
        if assignment[i] >= 0:
            continue
        quantity = candidates[i].quantity
        fitting = []
        for s, j in supply.options[i]:
            band = None if s in closed else supply.band_for(s, totals[s] + quantity)
            if band is not None and band.tier_index >= j:
                fitting.append((band.price_units, s))
        if fitting:
            s = min(fitting)[1]
            assignment[i] = s
            totals[s] += quantity


def improve(instance: Instance, supply: Supply, assignment: list[int], deadline: float) -> None:
    """First-improvement local search: insert unplaced requests, move placed ones to cut cost."""
    candidates = instance.candidates
    totals = [0] * len(instance.offers)
    needs: list[dict[int, int]] = [{} for _ in instance.offers]
    for i, s in enumerate(assignment):
        if s >= 0:
            totals[s] += candidates[i].quantity
            j = candidates[i].options[s]
            needs[s][j] = needs[s].get(j, 0) + 1

    def need_without(s: int, j: int) -> int:
        return max((t for t, n in needs[s].items() if n - (t == j) > 0), default=-1)

    improved = True
    while improved:
        improved = False
        for i, candidate in enumerate(candidates):
            if i % 512 == 0 and time.perf_counter() >= deadline:
                return
            quantity, current = candidate.quantity, assignment[i]
            base = 0
            if current >= 0:
                after = totals[current] - quantity
                band = supply.band_for(current, after) if after else None
                if after and (band is None or band.tier_index < need_without(current, candidate.options[current])):
                    continue
                base = supply.cost_units(current, after) - supply.cost_units(current, totals[current])
            best: tuple[int, int] | None = None
            for s, j in supply.options[i]:
                if s == current:
                    continue
                band = supply.band_for(s, totals[s] + quantity)
                if band is None or band.tier_index < j:
                    continue
                delta = base + (totals[s] + quantity) * band.price_units - supply.cost_units(s, totals[s])
                if best is None or delta < best[0]:
                    best = (delta, s)
            if best is None or (current >= 0 and best[0] >= 0):
                continue
            target = best[1]
            if current >= 0:
                totals[current] -= quantity
                j = candidate.options[current]
                needs[current][j] -= 1
                if not needs[current][j]:
                    del needs[current][j]
            totals[target] += quantity
            j = candidate.options[target]
            needs[target][j] = needs[target].get(j, 0) + 1
            assignment[i] = target
            improved = True
