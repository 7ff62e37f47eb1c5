"""HiGHS (``highspy``) as the bundling optimizer's MILP solver: the only module importing highspy and numpy,
so the domain stays free of solver code."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.procurement.domain.bundling import MilpModel, MilpResult

try:
    import highspy
except ImportError:  # pragma: no cover - the optimizer answers without a MILP solver
    highspy = None  # type: ignore[assignment]


class HighsSolver:
    """Solves a bundling MILP with a fresh, silent HiGHS instance per call."""

    def solve(
        self, model: MilpModel, *, seconds: float, gap_tolerance: float, start: Sequence[float] | None
    ) -> MilpResult:
        columns, rows = len(model.cost), len(model.row_lower)
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("time_limit", max(seconds, 1e-3))
        highs.setOptionValue("mip_rel_gap", gap_tolerance)
        highs.passModel(
            columns,
            rows,
            len(model.indices),
            int(highspy.MatrixFormat.kColwise),
            int(highspy.ObjSense.kMinimize),
            0.0,
            np.asarray(model.cost, dtype=np.float64),
            np.zeros(columns),
            np.asarray(model.col_upper, dtype=np.float64),
            np.asarray(model.row_lower, dtype=np.float64),
            np.asarray(model.row_upper, dtype=np.float64),
            np.asarray(model.starts[:-1], dtype=np.int32),
            np.asarray(model.indices, dtype=np.int32),
            np.asarray(model.values, dtype=np.float64),
            np.full(columns, int(highspy.HighsVarType.kInteger), dtype=np.int32),
        )
        if start is not None:
            highs.setSolution(columns, np.arange(columns, dtype=np.int32), np.asarray(start, dtype=np.float64))
        highs.run()
        info = highs.getInfo()
        values = None
        if info.primal_solution_status == int(highspy.SolutionStatus.kSolutionStatusFeasible):
            values = highs.getSolution().col_value
        infeasible = highs.getModelStatus() == highspy.HighsModelStatus.kInfeasible
        return MilpResult(values, infeasible, info.mip_dual_bound)


HIGHS = None if highspy is None else HighsSolver()
"""The MILP solver optimize_bundle is given; None when HiGHS is not installed (the heuristic answers)."""
