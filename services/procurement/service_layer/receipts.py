"""Goods receipts from members' ERPs (`alliance.purchase_request.received`, forwarded by the members
service after its admission checks) and the watch over what has not arrived.

A receipt is judged against what was dispatched for the member's request (`domain/fulfilment.py`):
refused ones are answered with `purchase_request.rejected`; rejected goods are reported to their
supplier at once, goods still missing `ALLIANCE_RECEIPT_GRACE_DAYS` after their dispatch's
expected arrival by the watch; a request whose confirmed units are all accepted is completed.
Every report has an id naming what it reports, and is recorded with it, so none is sent twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import date

from services.procurement.adapters import metrics
from services.procurement.domain.answers import Refusal
from services.procurement.domain.fulfilment import (
    Escalation,
    Receipt,
    RequestLedger,
    judge_receipt,
    merge_escalations,
)
from services.procurement.domain.orders import AnswerOutcome
from services.procurement.service_layer.publishing import discrepancy_message
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared import topics
from shared.contract import EventType, JointOrderDiscrepancy, PurchaseRequestRejected
from shared.events.procurement import DELIVERY_ESCALATED, SOURCE, DeliveryEscalated
from shared.messaging.envelope import event_record
from shared.messaging.intake import Command
from shared.messaging.notices import member_notice

log = logging.getLogger(__name__)

WATCH_BATCH = 1_000
"""Requests with something overdue (and open escalations) the watch looks at per round."""


async def take_receipts(uow: ProcurementUnitOfWork, commands: Sequence[Command]) -> None:
    """A batch of receipts in partition order (a request's receipts share its SKU's partition):
    the requests they name are read at once, then each receipt is judged against its request as
    the receipts before it left it."""
    fulfilment = uow.fulfilment
    receipts = [Receipt.of(command.data) for command in commands]
    keys = list(dict.fromkeys((r.member_id, r.request_id) for r in receipts))
    known = await uow.requests.quantities(keys)
    ledgers = {(ledger.member_id, ledger.request_id): ledger
               for ledger in await fulfilment.ledgers([key for key in keys if key in known])}
    by_id = await fulfilment.receipts_named((r.member_id, r.receipt_id) for r in receipts)
    taken: list[Receipt] = []
    reports: list[tuple[RequestLedger, str, JointOrderDiscrepancy]] = []
    outcomes: Counter[str] = Counter()
    for command, receipt in zip(commands, receipts, strict=True):
        key = (receipt.member_id, receipt.request_id)
        ledger = ledgers.get(key)
        verdict = judge_receipt(ledger, receipt, by_id.get((receipt.member_id, receipt.receipt_id)))
        if isinstance(verdict, Refusal):
            rejection = PurchaseRequestRejected(request_id=receipt.request_id, reason=verdict.reason,
                                                detail=verdict.detail)
            uow.publish(member_notice(SOURCE, receipt.member_id, EventType.PURCHASE_REQUEST_REJECTED, rejection,
                                      command.cause))
            outcomes["rejected"] += 1
            continue
        if verdict is AnswerOutcome.REPEATED:
            outcomes["duplicate"] += 1
            continue
        assert ledger is not None
        ledger = ledgers[key] = RequestLedger(ledger.member_id, ledger.request_id, ledger.commitments,
                                              ledger.dispatches, (*ledger.receipts, receipt), ledger.awaiting_answer)
        taken.append(receipt)
        by_id[(receipt.member_id, receipt.receipt_id)] = receipt
        reports += [
            (ledger, f"{r.order_id}.{r.delivery_id}.rejected.{receipt.member_id}.{receipt.receipt_id}", r)
            for r in ledger.rejected_discrepancies(receipt.receipt_id)
        ]
        outcomes["processed"] += 1
    await fulfilment.add_receipts(taken)
    await report_discrepancies(uow, reports)
    await _complete(uow, [ledgers[key] for key in dict.fromkeys((r.member_id, r.request_id) for r in taken)])
    topic = commands[0].record.topic
    for outcome, count in outcomes.items():
        uow.count_consumed(topic, outcome, count)
    accepted, rejected_units = sum(r.accepted for r in taken), sum(r.rejected for r in taken)

    def record() -> None:
        metrics.RECEIVED_QUANTITY.labels("accepted").inc(accepted)
        metrics.RECEIVED_QUANTITY.labels("rejected").inc(rejected_units)

    uow.after_commit(record)


async def report_discrepancies(
    uow: ProcurementUnitOfWork, reports: Sequence[tuple[RequestLedger, str, JointOrderDiscrepancy]]
) -> int:
    """Send the reports (each with its request's ledger and event id) not made before to their
    suppliers, signed; returns how many were sent."""
    if not reports:
        return 0
    new = await uow.fulfilment.add_discrepancies(
        [(event_id, ledger.member_id, ledger.request_id, report) for ledger, event_id, report in reports]
    )
    suppliers = await uow.suppliers.get_many({report.supplier_id for _, _, report in reports}, with_catalog=False)
    kinds = []
    for _, event_id, report in reports:
        if event_id in new:
            uow.publish(discrepancy_message(report, event_id, suppliers[report.supplier_id].secret))
            kinds.append("missing" if report.quantity_missing else "rejected")

    def record() -> None:
        for kind in kinds:
            metrics.DISCREPANCIES.labels(kind).inc()

    uow.after_commit(record)
    return len(kinds)


async def complete_answered(uow: ProcurementUnitOfWork, order_id: str) -> None:
    """After `order_id` is answered: a request with goods received on another order (a part
    re-sourced before) may now have everything confirmed accepted, e.g. when this answer
    rejects the rest."""
    received = await uow.fulfilment.received_on_order(order_id)
    if received:
        await _complete(uow, await uow.fulfilment.ledgers(received))


async def _complete(uow: ProcurementUnitOfWork, ledgers: Sequence[RequestLedger]) -> None:
    """Tell each request completed now (everything confirmed accepted), once."""
    done = {(ledger.member_id, ledger.request_id): completed for ledger in ledgers
            if (completed := ledger.completion()) is not None}
    new = await uow.fulfilment.complete([(m, r, c.quantity) for (m, r), c in done.items()])
    for (member_id, request_id), completed in done.items():
        if (member_id, request_id) in new:
            uow.publish(member_notice(SOURCE, member_id, EventType.PURCHASE_REQUEST_COMPLETED, completed,
                                      f"{request_id}:completed"))
    count = len(new)
    uow.after_commit(lambda: metrics.REQUESTS_COMPLETED.inc(count))


async def watch_deliveries(uow: ProcurementUnitOfWork, grace_days: int, today: date) -> tuple[int, list[Escalation]]:
    """One round of the watch: report goods newly missing past the grace, escalate what is overdue
    (each once; resolved once it is not). Returns (reports sent, new escalations).

    It reads the requests with something overdue not yet accounted for, and those behind the
    escalations open now; an escalation's quantity is summed over every request in its subject
    (a dispatch carries several), so those requests are read too."""
    fulfilment = uow.fulfilment
    open_now = await fulfilment.open_escalations(limit=WATCH_BATCH)
    keys = set(await fulfilment.to_watch(today, grace_days, WATCH_BATCH))
    keys |= set(await fulfilment.requests_behind(open_now))
    ledgers = await fulfilment.ledgers(sorted(keys))
    found = [e for ledger in ledgers for e in ledger.escalations(today, grace_days)]
    more = sorted(set(await fulfilment.requests_behind(found)) - keys)
    if more:
        ledgers += await fulfilment.ledgers(more)
        found += [e for ledger in ledgers[-len(more):] for e in ledger.escalations(today, grace_days)]
    reports: list[tuple[RequestLedger, str, JointOrderDiscrepancy]] = []
    for ledger in ledgers:
        reported = await fulfilment.reported_missing(ledger.member_id, ledger.request_id)
        for report in ledger.missing_discrepancies(today, grace_days, reported):
            total = reported.get(report.delivery_id, 0) + report.quantity_missing
            reports.append((ledger, f"{report.order_id}.{report.delivery_id}.missing.{total}", report))
    sent = await report_discrepancies(uow, reports)
    still_open = merge_escalations(found)
    new = await fulfilment.escalate(still_open)
    current = {(e.kind, e.order_id, e.subject) for e in still_open}
    await fulfilment.resolve_escalations([e for e in open_now if (e.kind, e.order_id, e.subject) not in current])
    for escalation in new:
        log.warning("order %s of supplier %s: %d unit(s) %s since %s (%s)", escalation.order_id,
                    escalation.supplier_id, escalation.quantity, escalation.kind.value.replace("_", " "),
                    escalation.due_on.isoformat(), escalation.subject)
        uow.publish(event_record(
            topics.PROCUREMENT_EVENTS, escalation.supplier_id, DELIVERY_ESCALATED, SOURCE,
            DeliveryEscalated(kind=escalation.kind.value, order_id=escalation.order_id,
                              supplier_id=escalation.supplier_id, subject=escalation.subject,
                              quantity=escalation.quantity, due_on=escalation.due_on),
            event_id=f"{escalation.order_id}.{escalation.kind.value}.{escalation.subject}.{escalation.due_on}",
        ))
    return sent, new
