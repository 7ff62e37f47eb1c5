"""What the procurement service consumes and publishes. Every instance joins the service's one
consumer group, which covers all of these topics."""

from __future__ import annotations

from functools import partial

from services.procurement.service_layer import demand, responses, risk_intake
from services.procurement.service_layer.demand import take_demand
from services.procurement.service_layer.documents import read_document, standards_kit
from services.procurement.service_layer.resourcing import DecisionOptions
from services.procurement.service_layer.responses import take_responses
from services.procurement.service_layer.risk_intake import learn_members, take_member_reports, take_supplier_alerts
from shared import topics
from shared.contract import (
    EventType,
    JointOrderAnswered,
    JointOrderCancelled,
    JointOrderConfirmed,
    JointOrderDiscrepancy,
    JointOrderDispatched,
    JointOrderPlaced,
    JointOrderRejected,
    PurchaseRequestReceived,
    RiskAlertRaised,
    RiskAlertResolved,
)
from shared.documents.schemas import SchemaKit
from shared.events.members import (
    MEMBER_REGISTERED,
    MEMBER_UPDATED,
    PURCHASE_REQUEST_ADMITTED,
    PURCHASE_REQUEST_RECEIVED,
    RISK_ALERT_REPORTED,
    RISK_ALERT_WITHDRAWN,
    WITHDRAW_PURCHASE_REQUEST,
    MemberProfile,
    PurchaseRequestAdmitted,
    RiskAlertReported,
    RiskAlertWithdrawn,
    WithdrawPurchaseRequest,
)
from shared.events.notices import MemberNoticeRequested
from shared.events.procurement import JointOrderStatus, RiskExposureAssessed
from shared.messaging.consumer import Publication, Subscription
from shared.messaging.intake import Accept, Intake, OtherTypes
from shared.seed import Cycle
from shared.settings import Settings

SEED_DEFAULT_SHARE: float = Cycle.model_fields["max_supplier_share"].default


def subscriptions(
    settings: Settings, max_supplier_share: float = SEED_DEFAULT_SHARE, standards: SchemaKit | None = None
) -> list[Subscription]:
    """`max_supplier_share` is the seed's; re-sourcing an order applies it too. `standards`: the
    schemas XML suppliers' documents are validated against (by default from `standards_dir`)."""
    options = DecisionOptions(max_supplier_share, settings.risk_corroboration_members, settings.supplier_otif_floor)
    kit = standards or standards_kit(settings.standards_dir)
    intakes = [
        Intake(
            topic=settings.topic(topics.ADMITTED_REQUESTS),
            description="Admitted purchase requests, withdrawals and members' goods receipts from the "
            "members service",
            accepts={
                PURCHASE_REQUEST_ADMITTED: Accept(PurchaseRequestAdmitted, once=False),
                WITHDRAW_PURCHASE_REQUEST: Accept(WithdrawPurchaseRequest),
                PURCHASE_REQUEST_RECEIVED: Accept(PurchaseRequestReceived),
            },
            handler=take_demand,
            inbox=demand.INBOX,
        ),
        Intake(
            topic=settings.topic(topics.SUPPLIER_RESPONSES),
            description="Suppliers' signed answers to joint orders (confirmed, rejected: contract v1; answered "
            "per line: v1.1) and despatch advice (dispatched: v1.1), as JSON or, from suppliers in their own "
            "standards, as PEPPOL Order Responses and Despatch Advices or openTRANS ORDERRESPONSEs and "
            "DISPATCHNOTIFICATIONs (contract v1.1, docs/suppliers.md)",
            accepts={
                EventType.JOINT_ORDER_CONFIRMED: Accept(JointOrderConfirmed),
                EventType.JOINT_ORDER_REJECTED: Accept(JointOrderRejected),
                EventType.JOINT_ORDER_ANSWERED: Accept(JointOrderAnswered),
                EventType.JOINT_ORDER_DISPATCHED: Accept(JointOrderDispatched),
            },
            handler=partial(take_responses, options=options),
            inbox=responses.INBOX,
            signed=responses.SIGNED_BY_SUPPLIERS,
            documents=partial(read_document, kit),
        ),
        Intake(
            topic=settings.topic(topics.RISK_ALERTS),
            description="Suppliers' signed risk_alert.raised / .resolved (contract v1); records keyed by "
            "a member are the members service's, others are quarantined as unknown_reporter",
            accepts={
                EventType.RISK_ALERT_RAISED: Accept(RiskAlertRaised),
                EventType.RISK_ALERT_RESOLVED: Accept(RiskAlertResolved),
            },
            handler=partial(take_supplier_alerts, options=options),
            inbox=risk_intake.SUPPLIER_INBOX,
            signed=risk_intake.SIGNED_BY_REPORTING_SUPPLIERS,
        ),
        Intake(
            topic=settings.topic(topics.RISK_REPORTS),
            description="Members' authenticated risk alerts (alliance.risk_alert.reported / .withdrawn)",
            accepts={RISK_ALERT_REPORTED: Accept(RiskAlertReported), RISK_ALERT_WITHDRAWN: Accept(RiskAlertWithdrawn)},
            handler=partial(take_member_reports, options=options),
            inbox=risk_intake.MEMBER_INBOX,
        ),
        Intake(
            topic=settings.topic(topics.MEMBER_EVENTS),
            description="The members' ids (alliance.member.registered / .updated), to tell reporters apart",
            accepts={
                MEMBER_REGISTERED: Accept(MemberProfile, once=False),
                MEMBER_UPDATED: Accept(MemberProfile, once=False),
            },
            handler=learn_members,
            other_types=OtherTypes.SKIP,
        ),
    ]
    return [intake.subscription() for intake in intakes]


def publications(settings: Settings) -> list[Publication]:
    return [
        Publication(
            settings.topic(topics.supplier_orders("{supplier_id}")),
            "joint_order.placed to one supplier, joint_order.cancelled when a critical risk alert "
            "covers an order it has not confirmed (contract v1), and joint_order.discrepancy for goods a "
            "member rejected or still misses after the grace (v1.1), keyed by supplier_id, signed with the "
            "supplier's secret in the alliance-signature header (extension)",
            JointOrderPlaced | JointOrderCancelled | JointOrderDiscrepancy,  # type: ignore[arg-type]
        ),
        Publication(
            settings.topic(topics.MEMBER_NOTICES),
            "What to tell a member about its own request (ordered, confirmed, resourced, "
            "unfulfillable, cancelled, rejected, dispatched, completed), keyed by member",
            MemberNoticeRequested,
        ),
        Publication(
            settings.topic(topics.PROCUREMENT_EVENTS),
            "alliance.joint_order.placed|confirmed|answered|rejected|escalated|cancelled and "
            "alliance.delivery.escalated (keyed by supplier_id), "
            "alliance.risk_alert.exposure_assessed (keyed by the alert's key: the members exposed to a "
            "risk alert when it is raised and when it ends, never who raised it), "
            "alliance.catalog_item.listed (keyed by sku) and alliance.cycle.closed (keyed by cycle_id); "
            "models in shared/events/procurement.py",
            JointOrderStatus | RiskExposureAssessed,  # type: ignore[arg-type]
        ),
    ]
