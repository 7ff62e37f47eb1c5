"""Running the optimizer over a cycle's SKUs off the event loop.

A close over 1k SKUs is seconds of CPU: on the event loop it would stall health checks,
consumers and the outbox relay, so it runs in a worker thread; a close writes each batch of
decisions while the thread solves the next SKUs. (A process pool was measured
slower: pickling 100k requests and placements both ways cost more than the second core won.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date

from services.procurement.domain.optimizer import Decision, Demand, Offer, optimize_bundle

SKU_TIME_LIMIT_S = 1.0
"""At most this per SKU; past it the optimizer answers with its documented heuristic fallback."""
CYCLE_TIME_BUDGET_S = 60.0
"""The whole close's solving: a few hard SKUs must not hold the decision lock for minutes, so
each SKU gets at most an even share of what is left of the budget (never under a floor)."""
SKU_TIME_FLOOR_S = 0.05


@dataclass(frozen=True, slots=True)
class SkuProblem:
    sku: str
    offers: tuple[Offer, ...]
    demands: tuple[Demand, ...]


def solve_problems(
    problems: Sequence[SkuProblem],
    order_date: date,
    max_supplier_share: float,
    on_decided: Callable[[str, Decision], None] = lambda sku, decision: None,
) -> dict[str, Decision]:
    """Solve each SKU's problem on its own, within the cycle's time budget; `on_decided` hears
    of each decision as soon as it is made."""
    deadline = time.perf_counter() + CYCLE_TIME_BUDGET_S
    decisions = {}
    for index, problem in enumerate(problems):
        share_left = (deadline - time.perf_counter()) / (len(problems) - index)
        decision = decisions[problem.sku] = optimize_bundle(
            problem.offers,
            problem.demands,
            order_date=order_date,
            max_supplier_share=max_supplier_share,
            time_limit_seconds=min(SKU_TIME_LIMIT_S, max(SKU_TIME_FLOOR_S, share_left)),
        )
        on_decided(problem.sku, decision)
    return decisions


async def solve_in_thread(
    problems: Sequence[SkuProblem], order_date: date, max_supplier_share: float
) -> dict[str, Decision]:
    return await asyncio.to_thread(solve_problems, problems, order_date, max_supplier_share)


async def decisions_as_solved(
    problems: Sequence[SkuProblem], order_date: date, max_supplier_share: float
) -> AsyncIterator[dict[str, Decision]]:
    """The decisions in batches while the worker thread is still solving: each batch is every
    decision made since the caller last asked, so the caller can write them to PostgreSQL
    while the next SKUs are solved (the writes cost the database, not this process's CPU)."""
    loop = asyncio.get_running_loop()
    decided: asyncio.Queue[tuple[str, Decision] | None] = asyncio.Queue()

    def solve() -> None:
        try:
            solve_problems(
                problems, order_date, max_supplier_share,
                lambda sku, decision: loop.call_soon_threadsafe(decided.put_nowait, (sku, decision)),
            )
        finally:
            loop.call_soon_threadsafe(decided.put_nowait, None)

    worker = asyncio.ensure_future(asyncio.to_thread(solve))
    try:
        finished = False
        while not finished:
            batch: dict[str, Decision] = {}
            item = await decided.get()
            while item is not None:
                batch[item[0]] = item[1]
                if decided.empty():
                    break
                item = decided.get_nowait()
            finished = item is None
            if batch:
                yield batch
        await worker  # a failure in the solver fails the close
    finally:
        if not worker.done():  # the caller gave up (its close failed): let the thread finish alone
            worker.add_done_callback(lambda done: done.cancelled() or done.exception())
