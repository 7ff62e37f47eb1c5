"""Risk alerts as procurement's consumer takes them: suppliers' signed alerts on `risk.alerts`
and members' reports forwarded on `alliance.members.risk-reports`, through the declared intakes
over a unit of work in memory. Who is told (never the reporter), what is cancelled and re-sourced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.procurement.domain.bundling import Tier
from services.procurement.domain.catalog import CatalogItem, Supplier
from services.procurement.domain.orders import JointOrder, OrderStatus
from services.procurement.entrypoints.messaging import subscriptions
from shared import topics
from shared.contract import EventType
from shared.events.members import RISK_ALERT_REPORTED, RISK_ALERT_WITHDRAWN, PurchaseRequestAdmitted
from shared.events.procurement import RISK_EXPOSURE_ASSESSED
from shared.messaging.records import InboundRecord
from shared.reasons import DeadLetterReason, QuarantineReason
from shared.settings import Settings
from tests.support.erp import cloud_event, signed
from tests.support.fake_procurement import FakeProcurementUnitOfWork, place_order
from tests.support.intake import intake_of

SETTINGS = Settings(topic_prefix="test.", risk_corroboration_members=2)
ALERTS = SETTINGS.topic(topics.RISK_ALERTS)
REPORTS = SETTINGS.topic(topics.RISK_REPORTS)
supplier_alerts = intake_of(subscriptions(SETTINGS), ALERTS)
member_reports = intake_of(subscriptions(SETTINGS), REPORTS)

BOARD = CatalogItem("BOARD-18MM", "Board 18 mm", "wood", "piece", 1000, 1,
                    (Tier(1, Decimal("10.00")), Tier(100, Decimal("9.00"))))
HOLZ = Supplier("s-holz", "Holz AG", ("DE",), 3, "holz-secret", catalog=(BOARD,))
WALD = Supplier("s-wald", "Wald GmbH", ("DE",), 3, "wald-secret", catalog=(BOARD,))
NEEDED_BY = (datetime.now(UTC) + timedelta(days=30)).date()


def request(member_id: str, request_id: str, quantity: int) -> PurchaseRequestAdmitted:
    return PurchaseRequestAdmitted(request_id=request_id, member_id=member_id, sku="BOARD-18MM", quantity=quantity,
                                   needed_by=NEEDED_BY, country="DE")


async def scene() -> tuple[FakeProcurementUnitOfWork, JointOrder]:
    """Huber's and Berg's requests on a placed order of Holz; Maier's still open."""
    uow = FakeProcurementUnitOfWork([HOLZ, WALD], known_members=["m-huber", "m-berg", "m-maier"],
                                    topic_prefix=SETTINGS.topic_prefix)
    order = await place_order(uow, "s-holz", [request("m-huber", "r-1", 60), request("m-berg", "r-2", 40)],
                              Decimal("9.00"))
    async with uow:
        await uow.requests.add([request("m-maier", "r-3", 30)])
    return uow, order


CRITICAL = {"alert_id": "a-1", "supplier_id": "s-holz", "kind": "insolvency", "severity": "critical",
            "summary": "insolvency filed"}


def supplier_alert(
    data: dict[str, Any], key: str = "s-holz", secret: str = "holz-secret", event_id: str = "e-1",
    event_type: str = EventType.RISK_ALERT_RAISED,
) -> InboundRecord:
    value = cloud_event(event_type, "supplier/test", data, event_id)
    return InboundRecord(ALERTS, 0, 0, key.encode(), value, tuple(signed(secret, value)))


def member_report(member_id: str, alert: dict[str, Any], event_id: str) -> InboundRecord:
    data = {"reporter_member_id": member_id, "alert": alert}
    return InboundRecord(REPORTS, 0, 0, member_id.encode(), cloud_event(RISK_ALERT_REPORTED, "members", data, event_id))


async def deliver(uow: FakeProcurementUnitOfWork, intake, *records: InboundRecord) -> None:
    async with uow:
        await intake(uow, list(records))


def exposed(uow: FakeProcurementUnitOfWork) -> list[tuple[str, dict[str, list[str]]]]:
    """(status, member -> request ids) of each exposure assessment published."""
    return [
        (e.data["status"], {m["member_id"]: m["affected_request_ids"] for m in e.data["exposed"]})
        for e in uow.events(topics.PROCUREMENT_EVENTS, RISK_EXPOSURE_ASSESSED)
    ]


async def test_a_suppliers_critical_alert_about_itself_cancels_and_re_sources_its_unconfirmed_order():
    uow, order = await scene()
    await deliver(uow, supplier_alerts, supplier_alert(CRITICAL))

    assert exposed(uow) == [("raised", {"m-berg": ["r-2"], "m-huber": ["r-1"], "m-maier": ["r-3"]})]
    [assessment] = uow.events(topics.PROCUREMENT_EVENTS, RISK_EXPOSURE_ASSESSED)
    assert assessment.key.startswith("ra-") and "s-holz" not in assessment.key, "keyed by the alert, not its reporter"
    assert (await uow.orders.get(order.order_id)).status is OrderStatus.CANCELLED
    [cancelled] = uow.events(topics.supplier_orders("s-holz"), EventType.JOINT_ORDER_CANCELLED)
    assert cancelled.data["order_id"] == order.order_id and "insolvency" not in cancelled.data["reason"]
    [replacement] = uow.events(topics.supplier_orders("s-wald"), EventType.JOINT_ORDER_PLACED)
    assert replacement.data["total"] == "900.00"
    assert uow.outcomes(ALERTS) == {"processed": 1}


async def test_a_warning_tells_the_exposed_members_and_cancels_nothing():
    uow, order = await scene()
    await deliver(uow, supplier_alerts, supplier_alert({**CRITICAL, "severity": "medium"}))

    assert [status for status, _ in exposed(uow)] == ["raised"]
    assert (await uow.orders.get(order.order_id)).status is OrderStatus.PLACED
    assert uow.events(topics.supplier_orders("s-holz")) == []


@pytest.mark.parametrize(
    ("key", "secret", "reason"),
    [("s-holz", "guessed", QuarantineReason.BAD_SIGNATURE), ("s-ghost", "holz-secret", QuarantineReason.UNKNOWN_REPORTER)],
)
async def test_an_alert_its_supplier_did_not_sign_is_quarantined(key, secret, reason):
    uow, _ = await scene()
    await deliver(uow, supplier_alerts, supplier_alert(CRITICAL, key=key, secret=secret))

    assert [q.reason for q in uow.quarantined] == [reason]
    assert exposed(uow) == [] and uow.tables.alerts == {}


async def test_a_record_keyed_by_a_member_is_the_members_services_and_skipped():
    uow, _ = await scene()
    await deliver(uow, supplier_alerts, supplier_alert(CRITICAL, key="m-huber", secret="anything"))

    assert uow.published == [] and uow.outcomes(ALERTS) == {"skipped": 1}


async def test_an_alert_again_is_a_duplicate_and_its_id_reused_for_another_report_dead_lettered():
    uow, _ = await scene()
    await deliver(uow, supplier_alerts, supplier_alert({**CRITICAL, "severity": "low"}, event_id="e-1"))
    await deliver(
        uow,
        supplier_alerts,
        supplier_alert({**CRITICAL, "severity": "low"}, event_id="e-1"),
        supplier_alert({**CRITICAL, "severity": "low"}, event_id="e-2"),
        supplier_alert({**CRITICAL, "severity": "high"}, event_id="e-3"),
    )

    assert len(exposed(uow)) == 1
    assert [d.reason for d in uow.dead_letters] == [DeadLetterReason.ALERT_ID_REUSED]
    assert uow.outcomes(ALERTS) == {"processed": 1, "duplicate": 2, "dead_lettered": 1}


async def test_a_resolution_tells_the_same_members_and_an_unknown_one_is_dead_lettered():
    uow, _ = await scene()
    await deliver(uow, supplier_alerts, supplier_alert({**CRITICAL, "severity": "low"}, event_id="e-1"))
    await deliver(
        uow,
        supplier_alerts,
        supplier_alert({"alert_id": "a-1"}, event_id="e-2", event_type=EventType.RISK_ALERT_RESOLVED),
        supplier_alert({"alert_id": "a-9"}, event_id="e-3", event_type=EventType.RISK_ALERT_RESOLVED),
    )

    [(_, raised_to), (status, resolved_to)] = exposed(uow)
    assert (status, resolved_to) == ("resolved", raised_to)
    assert [d.reason for d in uow.dead_letters] == [DeadLetterReason.UNKNOWN_ALERT]


async def test_a_members_report_warns_until_another_member_corroborates_it_and_never_exposes_its_reporter():
    uow, order = await scene()
    alert = {"alert_id": "m-a-1", "supplier_id": "s-holz", "kind": "insolvency", "severity": "critical",
             "summary": "heard it from the driver"}
    await deliver(uow, member_reports, member_report("m-huber", alert, "e-1"))

    assert exposed(uow) == [("raised", {"m-berg": ["r-2"], "m-maier": ["r-3"]})]
    assert (await uow.orders.get(order.order_id)).status is OrderStatus.PLACED, "one member only warns"

    await deliver(uow, member_reports, member_report("m-maier", alert, "e-2"))

    assert exposed(uow)[1] == ("raised", {"m-berg": ["r-2"], "m-huber": ["r-1"]})
    assert (await uow.orders.get(order.order_id)).status is OrderStatus.CANCELLED, "corroborated: it acts"
    assert uow.outcomes(REPORTS) == {"processed": 2}


async def test_a_members_withdrawn_report_ends_its_alert():
    uow, _ = await scene()
    alert = {**CRITICAL, "severity": "low"}
    await deliver(uow, member_reports, member_report("m-huber", alert, "e-1"))
    withdrawn = cloud_event(RISK_ALERT_WITHDRAWN, "members", {"reporter_member_id": "m-huber", "alert_id": "a-1"},
                            "e-2")
    await deliver(uow, member_reports, InboundRecord(REPORTS, 0, 1, b"m-huber", withdrawn))

    assert [status for status, _ in exposed(uow)] == ["raised", "resolved"]
    assert uow.tables.alerts and all(a.status.value == "resolved" for a in uow.tables.alerts.values())
