"""Composition root of the notifications service: wires its handlers and workers to the runtime."""

from __future__ import annotations

import logging
from pathlib import Path

from services.notifications.adapters.smtp import SmtpMailer
from services.notifications.adapters.webhook import WebhookClient
from services.notifications.config import NotificationSettings
from services.notifications.domain.notices import MemberChannels
from services.notifications.domain.preferences import DigestSchedule
from services.notifications.domain.retry import RetryPolicy
from services.notifications.entrypoints.http import admin_router
from services.notifications.entrypoints.messaging import subscriptions
from services.notifications.service_layer.delivery import DeliveryPolicy, Dispatcher
from services.notifications.service_layer.maintenance import maintain
from services.notifications.service_layer.routing import RoutingPolicy
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from shared.http import create_app
from shared.seed import Seed
from shared.service import ServiceRuntime
from shared.settings import Settings

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"
MAINTENANCE_INTERVAL_S = 1.0


def members_from_seed(seed: Seed) -> list[MemberChannels]:
    """The seed's members, as a fallback until their profile events arrive."""
    return [
        MemberChannels(
            member_id=m.id,
            name=m.name,
            locale="en" if m.locale.startswith("en") else "de",
            email=m.email,
            webhook_url=str(m.webhook.url) if m.webhook else None,
            webhook_secret=m.webhook.secret.get_secret_value()
            if m.webhook and m.webhook.secret
            else None,
            declared_min_risk_severity=m.interests.min_risk_severity,
            interest_categories=frozenset(m.interests.categories),
            active=m.status == "active",
        )
        for m in seed.members
    ]


async def serve(settings: Settings, seed: Seed | None) -> None:
    config = NotificationSettings()
    runtime = ServiceRuntime("notifications", settings, MIGRATIONS, NotificationsUnitOfWork)
    pool = await runtime.open()
    if seed is not None:
        async with runtime.unit_of_work() as uow:
            added = await uow.channels.add_missing(members_from_seed(seed))
        log.info("seed: %d member(s) known before their profile events", added)
    if not config.email_enabled:
        log.warning("ALLIANCE_SMTP_HOST is not set: no e-mail will be sent, webhooks only")

    routing = RoutingPolicy(
        horizon_s=config.notifications_retry_horizon_s,
        email_enabled=config.email_enabled,
        digest=DigestSchedule(
            config.notifications_digest_interval_s, config.notifications_digest_offset_s
        ),
    )
    policy = DeliveryPolicy(
        retry=RetryPolicy(
            base_s=config.notifications_backoff_base_s,
            cap_s=config.notifications_backoff_cap_s,
        ),
        endpoint_concurrency=config.notifications_endpoint_concurrency,
        smtp_concurrency=config.smtp_concurrency,
        max_in_flight=config.notifications_max_in_flight,
        poll_interval_s=config.notifications_poll_interval_s,
        # An attempt may first wait for a slot behind a full endpoint's in-flight ones: 3 attempt
        # times, beyond which the dispatcher gives a delivery back rather than start it late.
        webhook_lease_s=3 * config.notifications_attempt_timeout_s + 10,
        email_lease_s=3 * 2 * config.smtp_timeout_s + 10,
        webhook_attempt_s=config.notifications_attempt_timeout_s,
        email_attempt_s=2 * config.smtp_timeout_s,
        breaker_failures=config.notifications_breaker_failures,
        breaker_cooldown_s=config.notifications_breaker_cooldown_s,
        breaker_max_cooldown_s=config.notifications_breaker_max_cooldown_s,
    )
    webhooks = WebhookClient(
        config.notifications_attempt_timeout_s, config.notifications_max_in_flight
    )
    mailer = SmtpMailer(config) if config.email_enabled else None
    dispatcher = Dispatcher(pool, policy, webhooks, mailer)

    runtime.subscribe(subscriptions(settings, routing, dispatcher.offer, settings.secret_box()))

    async def deliver() -> None:
        try:
            await dispatcher.run()
        finally:
            await webhooks.close()
            if mailer is not None:
                mailer.close()

    async def maintenance() -> None:
        await maintain(
            runtime.unit_of_work,
            routing,
            dispatcher.offer,
            dispatcher.wake,
            dispatcher.export_circuits,
            MAINTENANCE_INTERVAL_S,
        )

    runtime.add_background(deliver)
    runtime.add_background(maintenance)
    app = create_app(
        "notifications",
        runtime.health,
        settings.admin_token,
        [admin_router(runtime.unit_of_work, config.notifications_retry_horizon_s, dispatcher.wake)],
    )
    await runtime.run(app)
