"""The exact MILP over request classes, and the MilpSolver port it is solved through.

The model is built here as plain lists; solving it is an adapter's job (HiGHS in production,
``services/procurement/adapters/highs.py``), so this package imports no solver.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from services.procurement.domain.bundling.pricing import Band, Instance
from services.procurement.domain.bundling.supply import Supply


class MilpModel:
    """An all-integer minimisation, built column by column: minimise ``cost . x`` over integers
    ``0 <= x <= col_upper`` with ``row_lower <= A x <= row_upper``. ``A`` is stored by column:
    column ``c`` has ``values[starts[c]:starts[c + 1]]`` in rows ``indices[starts[c]:starts[c + 1]]``."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.col_upper: list[float] = []
        self.starts: list[int] = [0]
        self.indices: list[int] = []
        self.values: list[float] = []
        self.row_lower: list[float] = []
        self.row_upper: list[float] = []

    def row(self, lower: float, upper: float) -> int:
        self.row_lower.append(lower)
        self.row_upper.append(upper)
        return len(self.row_lower) - 1

    def column(self, cost: float, upper: float, entries: list[tuple[int, float]]) -> int:
        self.cost.append(cost)
        self.col_upper.append(upper)
        for row, value in entries:
            self.indices.append(row)
            self.values.append(value)
        self.starts.append(len(self.indices))
        return len(self.cost) - 1


@dataclass(frozen=True, slots=True)
class MilpResult:
    """What a MILP solver found: ``values`` of a feasible solution (None if it found none in time),
    whether the model is proven ``infeasible``, and the proven lower ``bound`` on the objective."""

    values: Sequence[float] | None
    infeasible: bool
    bound: float


class MilpSolver(Protocol):
    """Solves a MilpModel exactly; the optimizer answers without one when none is given."""

    def solve(
        self, model: MilpModel, *, seconds: float, gap_tolerance: float, start: Sequence[float] | None
    ) -> MilpResult:
        """Best solution within ``seconds`` (stopping at relative gap ``gap_tolerance``), warm-started
        from ``start`` when given."""


@dataclass(frozen=True, slots=True)
class MilpOutcome:
    assignment: list[int] | None
    infeasible: bool
    bound: float


def solve_milp(
    milp_solver: MilpSolver,
    instance: Instance,
    supply: Supply,
    *,
    target: int | None,
    proven: float,
    start: list[int] | None,
    seconds: float,
    gap_tolerance: float,
) -> MilpOutcome:
    """Maximise placed quantity (``target`` None) or minimise cost placing exactly ``target`` units with
    ``milp_solver``.
    ``proven`` is a known bound on that objective (quantity ceiling, cost floor), added as a cut.

    Columns: n[class, supplier] requests of a class sent to a supplier; per supplier and band the
    integer total Q and the binary y choosing that band. Rows: Q = sum(q * n) per supplier, low*y <=
    Q <= high*y, one band per supplier, class counts, and for each tier threshold t the quantity of
    requests needing tier >= t at a supplier is at most its total in bands of tier >= t.
    """
    classes: dict[tuple[int, tuple[tuple[int, int], ...]], list[int]] = {}
    for i, (candidate, options) in enumerate(zip(instance.candidates, supply.options)):
        if options:
            classes.setdefault((candidate.quantity, options), []).append(i)
    suppliers = sorted({s for _, options in classes for s, _ in options})
    thresholds: dict[int, set[int]] = {s: set() for s in suppliers}
    for _, options in classes:
        for s, j in options:
            if j > supply.bands[s][0].tier_index:
                thresholds[s].add(j)

    model = MilpModel()
    balance = {s: model.row(0.0, 0.0) for s in suppliers}
    price_rows = {(s, t): model.row(-math.inf, 0.0) for s in suppliers for t in sorted(thresholds[s])}
    total_row = None if target is None else model.row(target, target)
    bound_row = model.row(-math.inf, proven) if target is None else model.row(proven, math.inf)

    class_columns: list[tuple[list[int], tuple[tuple[int, int], ...], int]] = []
    for (quantity, options), members in classes.items():
        count_row = model.row(-math.inf, len(members)) if len(options) > 1 else None
        first = len(model.cost)
        for s, j in options:
            entries = [(balance[s], float(quantity))]
            entries += [(price_rows[s, t], float(quantity)) for t in thresholds[s] if t <= j]
            if count_row is not None:
                entries.append((count_row, 1.0))
            model.column(0.0, len(members), entries)
        class_columns.append((members, options, first))

    band_columns: dict[int, list[tuple[Band, int, int]]] = {}
    for s in suppliers:
        bands = supply.bands[s]
        choice_row = model.row(-math.inf, 1.0) if len(bands) > 1 else None
        band_columns[s] = []
        for band in bands:
            upper_row, lower_row = model.row(-math.inf, 0.0), model.row(0.0, math.inf)
            entries = [(balance[s], -1.0), (upper_row, 1.0), (lower_row, 1.0)]
            entries += [(price_rows[s, t], -1.0) for t in thresholds[s] if t <= band.tier_index]
            if total_row is None:
                entries.append((bound_row, 1.0))
            else:
                entries += [(total_row, 1.0), (bound_row, float(band.price_units))]
            total_column = model.column(-1.0 if target is None else band.price_units, band.high, entries)
            choice = [(upper_row, -float(band.high)), (lower_row, -float(band.low))]
            if choice_row is not None:
                choice.append((choice_row, 1.0))
            band_columns[s].append((band, total_column, model.column(0.0, 1.0, choice)))

    warm: list[float] | None = None
    if start is not None:
        warm = [0.0] * len(model.cost)
        totals = dict.fromkeys(suppliers, 0)
        for members, options, first in class_columns:
            for offset, (s, _) in enumerate(options):
                sent = sum(1 for i in members if start[i] == s)
                warm[first + offset] = sent
                totals[s] += sent * instance.candidates[members[0]].quantity
        for s, columns in band_columns.items():
            reached = supply.band_for(s, totals[s]) if totals[s] else None
            for band, total_column, choice_column in columns:
                if band is reached:
                    warm[total_column], warm[choice_column] = totals[s], 1.0

    result = milp_solver.solve(
        model, seconds=seconds, gap_tolerance=0.0 if target is None else gap_tolerance, start=warm
    )
    values, bound = result.values, result.bound
    if values is None:
        return MilpOutcome(None, result.infeasible, bound)
    assignment = [-1] * len(instance.candidates)
    for members, options, first in class_columns:
        position = 0
        for offset, (s, _) in enumerate(options):
            count = round(values[first + offset])
            for i in members[position : position + count]:
                assignment[i] = s
            position += count
    return MilpOutcome(assignment, False, bound)
