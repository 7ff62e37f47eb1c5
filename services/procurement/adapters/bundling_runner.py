"""Running the optimizer over a cycle's SKUs off the event loop.

A close over 1k SKUs is seconds of CPU: on the event loop it would stall health checks,
consumers and the outbox relay. A small close solves in a worker thread. A large one solves in
a child process (`services.procurement.adapters.bundling_worker`): the optimizer is pure Python
and HiGHS, both holding the GIL, so in a thread it would compete with everything the close does
meanwhile (rendering, writing); in a process it has a core of its own. Requests go to the child
as plain tuples and decisions come back as index lists (a few MB of marshal each way, tens of
milliseconds): sending the domain objects themselves (pickled) was measured slower than the core won.

Either way the caller gets the decisions in batches while the rest are still being solved, in
the order of the problems given, so it can write them meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import marshal
import os
import queue
import struct
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import astuple, dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.procurement.adapters.highs import HIGHS
from services.procurement.domain.bundling import (
    Decision,
    Demand,
    Offer,
    Placement,
    RiskLevel,
    SolveMethod,
    SolveStats,
    SupplierOrder,
    Tier,
    UnplacedReason,
    optimize_bundle,
)
from services.procurement.domain.demand import OpenRequest

log = logging.getLogger(__name__)

PROCESS_MIN_REQUESTS = 20_000
"""From this many requests a close solves in a child process (starting one costs ~0.3 s)."""


@dataclass(frozen=True, slots=True)
class SolveLimits:
    """How long solving may take; a child process gets them with its job, so it solves as a thread would."""

    sku_seconds: float = 1.0
    """At most this per SKU; past it the optimizer answers with its documented heuristic fallback."""
    cycle_seconds: float = 60.0
    """The whole close's solving: a few hard SKUs must not hold the decision lock for minutes, so
    each SKU gets at most an even share of what is left of the budget (never under the floor)."""
    sku_floor_seconds: float = 0.05


@dataclass(frozen=True, slots=True)
class SkuProblem:
    sku: str
    offers: tuple[Offer, ...]
    demands: tuple[Demand, ...]


@dataclass(frozen=True, slots=True)
class SkuRequests:
    """One SKU of a close: its offers and its open requests, in the order the decision keeps."""

    sku: str
    offers: tuple[Offer, ...]
    requests: Sequence[OpenRequest]


def solve_problems(
    problems: Iterable[SkuProblem],
    order_date: date,
    max_supplier_share: float,
    on_decided: Callable[[str, Decision], None] = lambda sku, decision: None,
    count: int | None = None,
    limits: SolveLimits = SolveLimits(),
) -> dict[str, Decision]:
    """Solve each SKU's problem on its own, within the cycle's time budget; `on_decided` hears
    of each decision as soon as it is made. `count` is how many problems an iterator yields."""
    total = len(problems) if count is None else count  # type: ignore[arg-type]
    deadline = time.perf_counter() + limits.cycle_seconds
    decisions = {}
    for index, problem in enumerate(problems):
        share_left = (deadline - time.perf_counter()) / max(1, total - index)
        decision = decisions[problem.sku] = optimize_bundle(
            problem.offers,
            problem.demands,
            order_date=order_date,
            max_supplier_share=max_supplier_share,
            milp_solver=HIGHS,
            time_limit_seconds=min(limits.sku_seconds, max(limits.sku_floor_seconds, share_left)),
        )
        on_decided(problem.sku, decision)
    return decisions


async def solve_in_thread(
    problems: Sequence[SkuProblem], order_date: date, max_supplier_share: float
) -> dict[str, Decision]:
    return await asyncio.to_thread(solve_problems, problems, order_date, max_supplier_share)


async def decisions_as_solved(
    problems: Sequence[SkuProblem], order_date: date, max_supplier_share: float, limits: SolveLimits = SolveLimits()
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
                limits=limits,
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


class CloseSolver:
    """Solves one close's SKUs: in a child process for a large close, else in a worker thread
    (and in a thread for whatever the child had not decided if it cannot start or fails).

    `start` is called with the number of open requests before the close loads them: the child
    then imports while the demand loads (each takes ~0.3 s for 100k requests)."""

    def __init__(self, child: asyncio.subprocess.Process | None) -> None:
        self._child = child

    @classmethod
    async def start(cls, requests: int, process_min_requests: int | None = None) -> CloseSolver:
        threshold = PROCESS_MIN_REQUESTS if process_min_requests is None else process_min_requests
        if requests < threshold:
            return cls(None)
        try:
            return cls(await _spawn_child())
        except _WorkerFailed as failure:
            log.warning("solver process failed (%s); solving in a thread", failure)
            return cls(None)

    async def decide(
        self,
        skus: Sequence[SkuRequests],
        order_date: date,
        max_supplier_share: float,
        limits: SolveLimits = SolveLimits(),
    ) -> AsyncIterator[dict[str, Decision]]:
        """Every SKU's decision, in batches as they are made, SKUs in the order given."""
        decided: set[str] = set()
        if self._child is not None:
            try:
                async for batch in _decide_in_child(self._child, skus, order_date, max_supplier_share, limits):
                    decided.update(batch)
                    yield batch
                return
            except _WorkerFailed as failure:
                log.warning("solver process failed (%s); solving the %d SKUs left in a thread",
                            failure, len(skus) - len(decided))
        problems = [
            SkuProblem(s.sku, s.offers, tuple(r.demand() for r in s.requests)) for s in skus if s.sku not in decided
        ]
        async for batch in decisions_as_solved(problems, order_date, max_supplier_share, limits):
            yield batch

    async def stop(self) -> None:
        """End the child, whatever it is doing: it exits when its stdin closes."""
        child, self._child = self._child, None
        if child is None or child.returncode is not None:
            return
        assert child.stdin is not None
        child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), 5)
        except TimeoutError:
            child.kill()
            await child.wait()


# --------------------------------------------------------------------------------------------------
# The child process: framed marshal data over its stdin and stdout


class _WorkerFailed(Exception):
    """The solver process could not be started, died, or reported an error."""


_FRAME = struct.Struct(">Q")

CompactDemand = tuple[str, str, int, int, str, str | None]
"""(request key, member id, quantity, needed_by as an ordinal, country, max_unit_price as text):
dates and Decimals do not marshal, their ordinals and texts do, fast and exactly."""
CompactDecision = tuple[Any, ...]


def compact_demand(request: OpenRequest) -> CompactDemand:
    ceiling = request.max_unit_price
    return (request.key, request.member_id, request.quantity, request.needed_by.toordinal(), request.country,
            None if ceiling is None else str(ceiling))


def demand_of(compact: CompactDemand) -> Demand:
    key, member_id, quantity, needed_by, country, ceiling = compact
    return Demand(key, member_id, quantity, date.fromordinal(needed_by), country,
                  None if ceiling is None else Decimal(ceiling))


def compact_offer(offer: Offer) -> tuple[Any, ...]:
    return (offer.supplier_id, tuple(offer.regions), offer.lead_time_days, offer.capacity_per_cycle,
            offer.min_order_quantity, tuple((t.min_quantity, str(t.unit_price)) for t in offer.tiers),
            offer.risk.value, tuple((country, level.value) for country, level in offer.regional_risk))


def offer_of(compact: tuple[Any, ...]) -> Offer:
    supplier_id, regions, lead_time, capacity, minimum, tiers, risk, regional = compact
    return Offer(supplier_id, frozenset(regions), lead_time, capacity, minimum,
                 tuple(Tier(q, Decimal(price)) for q, price in tiers), RiskLevel(risk),
                 tuple((country, RiskLevel(level)) for country, level in regional))


def encode_decision(decision: Decision, demands: Sequence[Demand]) -> CompactDecision:
    """A decision as plain lists indexed by the demands' positions, prices as indexes into a
    table of their texts (see `decode_decision`)."""
    orders = decision.supplier_orders
    order_of = {order.supplier_id: k for k, order in enumerate(orders)}
    # Keyed by identity: a decision's prices are a few tier prices shared by all its placements,
    # and equal prices with other digits (9.0, 9.00) must keep their own text.
    prices: dict[int, int] = {id(None): 0}
    texts: list[str | None] = [None]
    placements, unplaced = decision.placements, decision.unplaced
    placed_at: list[int] = []
    placed_order: list[int] = []
    unit_prices: list[int] = []
    standalone: list[int] = []
    unplaced_at: list[int] = []
    reasons: list[str] = []
    for i, demand in enumerate(demands):
        placement = placements.get(demand.request_id)
        if placement is not None:
            placed_at.append(i)
            placed_order.append(order_of[placement.supplier_id])
            for price, column in ((placement.unit_price, unit_prices), (placement.standalone_unit_price, standalone)):
                index = prices.get(id(price))
                if index is None:
                    index = prices[id(price)] = len(texts)
                    texts.append(str(price))
                column.append(index)
        else:
            unplaced_at.append(i)
            reasons.append(unplaced[demand.request_id].value)
    if len(placed_at) != len(placements) or len(unplaced_at) != len(unplaced):
        raise ValueError("a decision must place or leave out each of its demands exactly once")
    return (tuple((o.supplier_id, o.quantity, str(o.unit_price)) for o in orders), placed_at, placed_order,
            texts, unit_prices, standalone, unplaced_at, reasons, decision.placed_quantity,
            str(decision.total_cost), decision.share_cap_relaxed,
            (decision.stats.method.value, decision.stats.wall_seconds, decision.stats.gap,
             decision.stats.quantity_bound))


def decode_decision(compact: CompactDecision, keys: Sequence[str], quantities: Sequence[int]) -> Decision:
    """The Decision `encode_decision` was made from, given the demands' request ids and quantities."""
    (orders, placed_at, placed_order, texts, unit_prices, standalone, unplaced_at, reasons, placed_quantity,
     total_cost, share_cap_relaxed, (method, wall_seconds, gap, quantity_bound)) = compact
    supplier_orders = tuple(SupplierOrder(s, q, Decimal(price)) for s, q, price in orders)
    suppliers = [order.supplier_id for order in supplier_orders]
    values = [None if text is None else Decimal(text) for text in texts]
    placements = {
        keys[i]: Placement(keys[i], suppliers[k], quantities[i], values[price], values[alone])
        for i, k, price, alone in zip(placed_at, placed_order, unit_prices, standalone, strict=True)
    }
    unplaced = {keys[i]: _REASONS[reason] for i, reason in zip(unplaced_at, reasons, strict=True)}
    stats = SolveStats(SolveMethod(method), wall_seconds, gap, quantity_bound)
    return Decision(placements, unplaced, supplier_orders, placed_quantity, Decimal(total_cost), share_cap_relaxed,
                    stats)


_REASONS = {reason.value: reason for reason in UnplacedReason}


def _frame(payload: object) -> bytes:
    data = marshal.dumps(payload)  # plain tuples and lists: ~6x faster to write than pickle
    return _FRAME.pack(len(data)) + data


def _package_root() -> str:
    """The directory `services` is imported from, so the child runs this very code."""
    return str(Path(__file__).resolve().parents[3])


JOB_CHUNK_REQUESTS = 5_000
"""The job goes to the child in chunks of about this many requests: it starts solving the first
SKUs while the rest are still being sent."""


async def _spawn_child() -> asyncio.subprocess.Process:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH")) if p)
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.procurement.adapters.bundling_worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
            limit=1 << 28,  # buffer what the child sends while the close is busy, never pause it
        )
    except OSError as error:
        raise _WorkerFailed(f"cannot start: {error}") from error


async def _decide_in_child(
    child: asyncio.subprocess.Process,
    skus: Sequence[SkuRequests],
    order_date: date,
    max_supplier_share: float,
    limits: SolveLimits,
) -> AsyncIterator[dict[str, Decision]]:
    assert child.stdin is not None and child.stdout is not None
    stdin, stdout = child.stdin, child.stdout

    async def send() -> None:
        stdin.write(_frame((order_date.toordinal(), max_supplier_share, astuple(limits), len(skus))))
        chunk: list[tuple[str, tuple[Any, ...], list[CompactDemand]]] = []
        size = 0
        for s in skus:
            chunk.append((s.sku, tuple(compact_offer(o) for o in s.offers), [compact_demand(r) for r in s.requests]))
            size += len(s.requests)
            if size >= JOB_CHUNK_REQUESTS:
                stdin.write(_frame(chunk))
                chunk, size = [], 0
                await stdin.drain()
        stdin.write(_frame(chunk) + _frame(None))
        await stdin.drain()

    sending = asyncio.ensure_future(send())
    try:
        by_sku = {s.sku: s.requests for s in skus}
        while True:
            try:
                size = _FRAME.unpack(await stdout.readexactly(_FRAME.size))[0]
                kind, payload = marshal.loads(await stdout.readexactly(size))
            except asyncio.IncompleteReadError as error:
                if sending.done() and not sending.cancelled() and sending.exception() is not None:
                    raise _WorkerFailed(f"it did not take the problems: {sending.exception()}") from error
                raise _WorkerFailed(f"it exited with code {await child.wait()}") from error
            if kind == "error":
                raise _WorkerFailed(payload)
            if kind == "done":
                await sending
                return
            batch = {}
            for sku, compact in payload:
                requests = by_sku[sku]
                batch[sku] = decode_decision(compact, [r.key for r in requests], [r.quantity for r in requests])
            yield batch
    finally:
        if not sending.done():
            sending.cancel()


def serve(source: Any, sink: Any, flush_seconds: float = 0.02, loaded: Callable[[], None] = lambda: None) -> None:
    """The child's side: read the job from `source` (a thread reads it while the first SKUs are
    solved, then calls `loaded`), write batches of compact decisions to `sink` as they are
    made (at most every `flush_seconds`), then ("done", None)."""

    def write(kind: str, payload: object) -> None:
        sink.write(_frame((kind, payload)))
        sink.flush()

    def read() -> Any:
        header = source.read(_FRAME.size)
        if len(header) < _FRAME.size:
            raise EOFError("the job ended early")
        size = _FRAME.unpack(header)[0]
        data = source.read(size)
        if len(data) < size:
            raise EOFError("the job ended early")
        return marshal.loads(data)

    chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def reader() -> None:
        try:
            while (chunk := read()) is not None:
                chunks.put(chunk)
        except BaseException as error:
            chunks.put(error)
            return
        chunks.put(None)
        loaded()

    try:
        ordinal, share, limits, count = read()
        order_date = date.fromordinal(ordinal)
    except EOFError:
        return  # the parent gave up before sending the job
    threading.Thread(target=reader, name="solver-job-reader", daemon=True).start()
    demands_of: dict[str, tuple[Demand, ...]] = {}

    def problems() -> Iterator[SkuProblem]:
        while (chunk := chunks.get()) is not None:
            if isinstance(chunk, BaseException):
                raise chunk
            for sku, offers, demands in chunk:
                problem = SkuProblem(sku, tuple(offer_of(o) for o in offers), tuple(demand_of(d) for d in demands))
                demands_of[sku] = problem.demands
                yield problem

    pending: list[tuple[str, CompactDecision]] = []
    flushed = time.perf_counter()

    def decided(sku: str, decision: Decision) -> None:
        nonlocal flushed
        pending.append((sku, encode_decision(decision, demands_of.pop(sku))))
        if time.perf_counter() - flushed >= flush_seconds:
            write("batch", pending[:])
            pending.clear()
            flushed = time.perf_counter()

    try:
        solve_problems(problems(), order_date, share, decided, count=count, limits=SolveLimits(*limits))
        if pending:
            write("batch", pending)
        write("done", None)
    except (EOFError, BrokenPipeError):
        return  # the parent gave up before sending everything, or before reading it
    except Exception as error:  # reported to the parent, which fails or falls back
        try:
            write("error", f"{type(error).__name__}: {error}")
        except BrokenPipeError:
            return
        raise
