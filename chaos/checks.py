"""What a run left behind, and whether it is right.

Evidence comes from the outside wherever the outside can see it: the suppliers' topics (every
`joint_order.placed` record), the notices the members' receivers got (with their delivery ids),
the services' /metrics and admin APIs, and the broker (committed offsets, set-aside records).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from chaos.broker import read_topic
from chaos.platform import ChaosPlatform
from chaos.scenario import CANARY_PREFIX, FINAL, Observations, Workload
from demo.scenario import ALLIANCE
from demo.scoreboard import RequestKey
from demo.supplier_documents import OrderReader
from shared import topics
from shared.contract import ALLIANCE_MEMBER_ID
from shared.messaging.unit_of_work import REASON_HEADER
from shared.settings import SERVICES, ServiceName, Settings

CanonicalLine = tuple[str, str, str, frozenset[tuple[str, str, int]]]
"""An order line without the ids a run happens to allocate: (supplier, sku, unit price,
{(member, request_id, quantity)})."""


@dataclass
class Evidence:
    orders: dict[str, dict[str, Any]]
    """`joint_order.placed` data by order id, as the suppliers received them."""
    conflicting_orders: list[str]
    """Order ids received twice with different content."""
    set_aside: Counter[tuple[str, str]]
    """(topic, reason) of the records on the dead-letter and quarantine topics."""
    outbox_backlog: dict[ServiceName, float]
    metric_lag: dict[ServiceName, float]
    """Largest `alliance_consumer_lag` series of each service."""
    committed_lag: dict[tuple[ServiceName, str], int | None]
    notices_pending: float
    notices_dead: float
    stored: dict[str, dict[str, str]]
    """member -> {notice id: delivery status} as notifications stored them (webhooks)."""
    cycles: int
    received: dict[RequestKey, tuple[int, int, int, int]]
    """(member, request) -> (confirmed, dispatched, accepted, rejected) summed over its deliveries,
    as procurement shows them (`GET /admin/orders/{id}`)."""
    discrepancies: Counter[str]
    """Event id -> distinct `joint_order.discrepancy` records with it on the suppliers' topics."""
    discrepancy_reports: frozenset[tuple[str, str, int, int, str]]
    """(member, request, rejected, missing, reason) of every report: without the order and
    delivery ids a run happens to allocate (a close killed before its commit used some)."""


async def gather(platform: ChaosPlatform, load: Workload) -> Evidence:
    placed: dict[str, dict[str, Any]] = {}
    documents = OrderReader(Settings().standards_dir)
    member_of = {m.peppol_id: m.id for m in load.cast.members if m.peppol_id} | {
        ALLIANCE["peppol_id"]: ALLIANCE_MEMBER_ID
    }
    conflicting = []
    reports: dict[str, set[bytes]] = defaultdict(set)
    contents: set[tuple[str, str, int, int, str]] = set()
    for supplier in load.cast.suppliers:
        for record in await read_topic(platform.bootstrap, topics.supplier_orders(supplier.id)):
            event = json.loads(record.value)
            if event["type"] == "joint_order.discrepancy":
                reports[event["id"]].add(json.dumps(event["data"], sort_keys=True).encode())
                d = event["data"]
                contents.add((d["order_id"], d["delivery_id"], d["quantity_rejected"], d["quantity_missing"],
                              d["reason"]))
                continue
            if event["type"] != "joint_order.placed":
                continue
            data = event["data"]
            if event.get("datacontenttype") == "application/xml":  # read as the supplier's ERP reads it
                data = documents.read(supplier.documents, data).placed(member_of)
            order_id = data["order_id"]
            if order_id in placed and placed[order_id] != data:
                conflicting.append(order_id)
            placed[order_id] = data
    set_aside: Counter[tuple[str, str]] = Counter()
    for topic in (topics.DEAD_LETTERS, topics.QUARANTINE):
        for record in await read_topic(platform.bootstrap, topic):
            set_aside[(topic, dict(record.headers).get(REASON_HEADER, b"?").decode())] += 1
    samples = {service: await platform.metrics(service) for service in SERVICES}

    def largest(service: ServiceName, name: str) -> float:
        return max((value for n, _, value in samples[service] if n == name), default=0.0)

    stored: dict[str, dict[str, str]] = {}
    async with platform.admin("notifications") as admin:
        for member in load.cast.members:
            response = await admin.get("/deliveries", params={"member_id": member.id, "limit": 1000})
            response.raise_for_status()
            stored[member.id] = {d["notice_id"]: d["status"] for d in response.json() if d["channel"] == "webhook"}
    received: dict[RequestKey, tuple[int, int, int, int]] = {}
    requests_of: dict[tuple[str, str], RequestKey] = {}
    async with platform.admin("procurement") as admin:
        cycles = (await admin.get("/cycles", params={"limit": 1000})).json()
        for order_id in sorted(placed):
            detail = (await admin.get(f"/orders/{order_id}")).json()
            for line in detail["lines"]:
                for d in line["deliveries"]:
                    key = (d["member_id"], d["request_id"])
                    requests_of[(order_id, d["delivery_id"])] = key
                    known = received.get(key, (0, 0, 0, 0))
                    step = (d["confirmed"] or 0, d["dispatched"], d["accepted"], d["rejected"])
                    received[key] = tuple(a + b for a, b in zip(known, step, strict=True))  # type: ignore[assignment]
    return Evidence(
        orders=placed,
        conflicting_orders=conflicting,
        set_aside=set_aside,
        outbox_backlog={s: largest(s, "alliance_outbox_backlog") for s in SERVICES},
        metric_lag={s: largest(s, "alliance_consumer_lag") for s in SERVICES},
        committed_lag=await platform.committed_lag(),
        notices_pending=largest("notifications", "alliance_notices_pending"),
        notices_dead=largest("notifications", "alliance_notices_dead"),
        stored=stored,
        cycles=len(cycles),
        received=received,
        discrepancies=Counter({event_id: len(bodies) for event_id, bodies in reports.items()}),
        discrepancy_reports=frozenset(
            (*requests_of.get((order_id, delivery_id), ("?", delivery_id)), rejected, missing, reason)
            for order_id, delivery_id, rejected, missing, reason in contents
        ),
    )


@dataclass
class Accounting:
    """Every request of the workload, by what became of it."""

    sent: int
    accepted: int = 0
    ordered: int = 0
    unfulfillable: int = 0
    cancelled: int = 0
    lost: set[RequestKey] = field(default_factory=set)
    duplicated: set[RequestKey] = field(default_factory=set)
    unmatched_deliveries: int = 0
    """Deliveries on supplier orders that no member was told of: placed twice, or by mistake."""
    lines: Counter[CanonicalLine] = field(default_factory=Counter)
    unfulfillable_reasons: dict[RequestKey, str] = field(default_factory=dict)


def account(load: Workload, seen: Observations, evidence: Evidence) -> Accounting:
    """Each request must be on exactly one order line, or told unfulfillable, or (when its ERP
    withdrew it) told cancelled; and the suppliers' orders must hold exactly the placed ones."""
    result = Accounting(sent=len(load.requests))
    told_on_order: dict[str, Counter[tuple[str, str, int, str]]] = defaultdict(Counter)
    line_members: dict[tuple[str, str], set[tuple[str, str, int]]] = defaultdict(set)
    line_heads: dict[tuple[str, str], tuple[str, str]] = {}
    for (member, data) in load.requests:
        key = (member.id, data["request_id"])
        types = seen.types_told(key)
        final = [(notice_key, notice) for notice_key, notice in seen.told.get(key, {}).items() if notice_key[1] in FINAL]
        result.accepted += "purchase_request.accepted" in types
        if "purchase_request.accepted" not in types or not final:
            result.lost.add(key)
            continue
        if len(final) > 1:
            result.duplicated.add(key)
            continue
        (_, final_type, _, order_id), notice = final[0]
        if (final_type == "purchase_request.cancelled") != (key in load.cancelled):
            result.lost.add(key)  # a withdrawal that did not take effect, or one nobody asked for
        elif final_type == "purchase_request.cancelled":
            result.cancelled += 1
        elif final_type == "purchase_request.unfulfillable":
            result.unfulfillable += 1
            result.unfulfillable_reasons[key] = notice["reason"]
        else:
            assert order_id is not None
            result.ordered += 1
            told_on_order[order_id][(member.id, data["sku"], data["quantity"], data["needed_by"])] += 1
            line = (order_id, data["sku"])
            line_members[line].add((member.id, data["request_id"], data["quantity"]))
            line_heads[line] = (notice["supplier_id"], notice["unit_price"])

    received: dict[str, Counter[tuple[str, str, int, str]]] = defaultdict(Counter)
    for order_id, order in evidence.orders.items():
        for line in order["lines"]:
            for delivery in line["deliveries"]:
                if delivery["member_id"] == ALLIANCE_MEMBER_ID:
                    continue  # a risk buffer's replenishment: the alliance's own, no member's request
                received[order_id][(delivery["member_id"], line["sku"], delivery["quantity"], delivery["needed_by"])] += 1
    for order_id in told_on_order.keys() | received.keys():
        missing = told_on_order[order_id] - received[order_id]
        result.unmatched_deliveries += (received[order_id] - told_on_order[order_id]).total()
        for member_id, sku, quantity, needed_by in missing.elements():
            result.lost.add(next(
                (m.id, d["request_id"]) for m, d in load.requests
                if (m.id, d["sku"], d["quantity"], d["needed_by"]) == (member_id, sku, quantity, needed_by)
            ))
    for (order_id, sku), members in line_members.items():
        supplier, unit_price = line_heads[(order_id, sku)]
        result.lines[(supplier, sku, unit_price, frozenset(members))] += 1
    return result


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str = ""


def verdicts(load: Workload, seen: Observations, evidence: Evidence, books: Accounting, overdue: str) -> list[Check]:
    """Every check of one run (the comparison with the reference run is `same_orders`)."""
    ids_per_notice = Counter(len(ids) for ids in seen.delivery_ids.values())
    unstable = sum(count for size, count in ids_per_notice.items() if size != 1)
    several = sorted(f"{m} {t} {r}" for (m, t, r, _), ids in seen.delivery_ids.items() if len(ids) > 1)[:3]
    received_ids: dict[str, set[str]] = defaultdict(set)
    for (member, _, _, _), ids in seen.delivery_ids.items():
        received_ids[member] |= ids
    stored_apart = sum(len(set(evidence.stored.get(m, {})) ^ received_ids[m]) for m in evidence.stored)
    undelivered = sum(status != "delivered" for stored in evidence.stored.values() for status in stored.values())
    expected_confirmations = books.ordered
    confirmations = sum(
        1 for key in load.keys for t in seen.types_told(key) if t == "purchase_request.confirmed"
    )
    behind = {f"{s}/{t}": lag for (s, t), lag in evidence.committed_lag.items() if lag}
    canaries = sum(1 for (_, request_id) in seen.told if request_id.startswith(CANARY_PREFIX))
    short_received = sum(dispatched != confirmed or accepted + rejected > dispatched
                         for confirmed, dispatched, accepted, rejected in evidence.received.values())
    xml = {s.documents for s in load.cast.suppliers if s.documents != "cloudevents"}
    return [
        Check("every phase done in time", not overdue, overdue or "admitted, closed, settled and drained"),
        Check("0 lost", not books.lost, f"requests without their outcome: {_examples(books.lost)}"),
        Check(
            "0 duplicated",
            not books.duplicated and not books.unmatched_deliveries and not evidence.conflicting_orders,
            f"requests told two outcomes: {_examples(books.duplicated)}; deliveries nobody was told of:"
            f" {books.unmatched_deliveries}; order ids sent with two contents: {len(evidence.conflicting_orders)}",
        ),
        Check("one cycle closed", evidence.cycles == 1, f"{evidence.cycles} cycles"),
        Check(
            "every notice delivered, one stable delivery id each",
            unstable == 0 and confirmations == expected_confirmations,
            f"{len(seen.delivery_ids)} notices ({canaries} probes), {unstable} with several ids"
            + (f" (e.g. {', '.join(several)})" if several else "") + ";"
            f" {confirmations} of {expected_confirmations} confirmations;"
            f" {seen.duplicate_deliveries} redeliveries of a delivered notice",
        ),
        Check(
            "every notice stored once, delivered",
            stored_apart == 0 and undelivered == 0,
            f"{sum(map(len, evidence.stored.values()))} stored, {stored_apart} stored ≠ received,"
            f" {undelivered} not delivered",
        ),
        Check(
            "outbox drained to 0",
            not any(evidence.outbox_backlog.values()),
            ", ".join(f"{s} {v:g}" for s, v in evidence.outbox_backlog.items()),
        ),
        Check(
            "consumer lag back to 0",
            not any(evidence.metric_lag.values()) and not behind,
            "metric: " + ", ".join(f"{s} {v:g}" for s, v in evidence.metric_lag.items())
            + f"; committed offsets behind: {behind or 'none'}",
        ),
        Check(
            "nothing dead-lettered or quarantined",
            not evidence.set_aside,
            ", ".join(f"{t} {r}: {n}" for (t, r), n in evidence.set_aside.items()) or "none",
        ),
        Check(
            "no dead or pending deliveries",
            evidence.notices_dead == 0 and evidence.notices_pending == 0,
            f"dead {evidence.notices_dead:g}, pending {evidence.notices_pending:g}",
        ),
        Check(
            "everything confirmed shipped and received at most once, no discrepancy sent twice",
            not short_received and all(n == 1 for n in evidence.discrepancies.values()),
            f"{len(evidence.received)} requests, {short_received} shipped short or received beyond it;"
            f" {len(evidence.discrepancies)} discrepancies, "
            f"{sum(n > 1 for n in evidence.discrepancies.values())} sent with two contents",
        ),
        Check(
            "XML suppliers ordered, answering and shipping in their own standards",
            seen.orders_in_wrong_format == 0 and all(
                seen.order_documents[s] and seen.answer_documents[s] and seen.despatch_documents[s] for s in xml
            ),
            "; ".join(f"{s}: {seen.order_documents[s]} orders read, {seen.answer_documents[s]} answers and"
                      f" {seen.despatch_documents[s]} despatch advices sent" for s in sorted(xml))
            + f"; {seen.orders_in_wrong_format} orders in the wrong format",
        ),
        Check(
            "signatures and confidentiality at the edges",
            seen.bad_signatures == 0 and seen.foreign_notices == 0 and seen.unsigned_orders == 0,
            f"bad webhook signatures {seen.bad_signatures}, notices about others' requests"
            f" {seen.foreign_notices}, unsigned supplier orders {seen.unsigned_orders}",
        ),
    ]


def same_orders(reference: Accounting | None, chaos: Accounting | None) -> Check:
    """The same cycle contents must give the same orders: the same lines, each holding the same
    requests at the same price, and the same requests told unfulfillable for the same reason."""
    if reference is None or chaos is None:
        return Check("same orders as the fault-free run", False, "a run stopped before its orders were known")
    if reference.lines == chaos.lines and reference.unfulfillable_reasons == chaos.unfulfillable_reasons:
        return Check("same orders as the fault-free run", True, f"{reference.lines.total()} order lines identical")
    differing = (reference.lines - chaos.lines).total() + (chaos.lines - reference.lines).total()

    def totals(books: Accounting) -> Counter[tuple[str, str, str, int]]:
        return Counter({(s, sku, p, sum(q for _, _, q in held)): n for (s, sku, p, held), n in books.lines.items()})

    moved = len(reference.unfulfillable_reasons.keys() ^ chaos.unfulfillable_reasons.keys())
    return Check(
        "same orders as the fault-free run",
        False,
        f"{differing} of {reference.lines.total() + chaos.lines.total()} order lines differ"
        f" (supplier totals and prices {'equal' if totals(reference) == totals(chaos) else 'differ too'});"
        f" {moved} requests unfulfillable in one run only",
    )


def same_receipts(reference: Evidence | None, chaos: Evidence | None) -> Check:
    """The same goods must arrive: every delivery's received quantities equal the fault-free
    run's, and the same discrepancies reported (each once)."""
    name = "same receipts and discrepancies as the fault-free run"
    if reference is None or chaos is None:
        return Check(name, False, "a run stopped before its receipts were known")
    differing = {key for key in reference.received.keys() | chaos.received.keys()
                 if reference.received.get(key) != chaos.received.get(key)}
    reports = reference.discrepancy_reports == chaos.discrepancy_reports
    return Check(name, not differing and reports,
                 f"{len(reference.received)} requests, {len(differing)} received differently"
                 f" ({_examples(differing)}); discrepancies {'equal' if reports else 'differ'}:"
                 f" {len(reference.discrepancy_reports)} vs {len(chaos.discrepancy_reports)}")


def _examples(keys: set[RequestKey]) -> str:
    shown = ", ".join(f"{m}/{r}" for m, r in sorted(keys)[:5])
    return f"{len(keys)}" + (f" (e.g. {shown})" if keys else "")
