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
"""Orders the watch looks at per round."""


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
    reports: list[tuple[RequestLedger, list[tuple[str, JointOrderDiscrepancy]]]] = []
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
        rejected = [
            (f"{report.order_id}.{report.delivery_id}.rejected.{receipt.member_id}.{receipt.receipt_id}", report)
            for report in ledger.rejected_discrepancies(receipt.receipt_id)
        ]
        if rejected:
            reports.append((ledger, rejected))
        outcomes["processed"] += 1
    await fulfilment.add_receipts(taken)
    for ledger, found in reports:
        await report_discrepancies(uow, ledger, found)
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
    uow: ProcurementUnitOfWork, ledger: RequestLedger, reports: Sequence[tuple[str, JointOrderDiscrepancy]]
) -> int:
    """Send the reports not made before (by event id) to their suppliers, signed; returns how many."""
    if not reports:
        return 0
    new = await uow.fulfilment.add_discrepancies(
        [(event_id, ledger.member_id, ledger.request_id, report) for event_id, report in reports]
    )
    suppliers = await uow.suppliers.get_many({report.supplier_id for _, report in reports}, with_catalog=False)
    kinds = []
    for event_id, report in reports:
        if event_id in new:
            uow.publish(discrepancy_message(report, event_id, suppliers[report.supplier_id].secret))
            kinds.append("missing" if report.quantity_missing else "rejected")

    def record() -> None:
        for kind in kinds:
            metrics.DISCREPANCIES.labels(kind).inc()

    uow.after_commit(record)
    return len(kinds)


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
    (each once; resolved once it is not). Returns (reports sent, new escalations)."""
    fulfilment = uow.fulfilment
    order_ids = await fulfilment.to_watch(today, grace_days, WATCH_BATCH)
    order_ids += [e.order_id for e in await fulfilment.open_escalations(limit=WATCH_BATCH)
                  if e.order_id not in order_ids]
    keys = await fulfilment.requests_on(order_ids)
    sent = 0
    found: list[Escalation] = []
    for ledger in await fulfilment.ledgers(keys):
        reported = await fulfilment.reported_missing(ledger.member_id, ledger.request_id)
        reports = []
        for report in ledger.missing_discrepancies(today, grace_days, reported):
            total = reported.get(report.delivery_id, 0) + report.quantity_missing
            reports.append((f"{report.order_id}.{report.delivery_id}.missing.{total}", report))
        sent += await report_discrepancies(uow, ledger, reports)
        found += ledger.escalations(today, grace_days)
    watched = set(order_ids)
    still_open = [e for e in merge_escalations(found) if e.order_id in watched]
    new = await fulfilment.escalate(still_open)
    await fulfilment.resolve_escalations(watched, still_open)
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
