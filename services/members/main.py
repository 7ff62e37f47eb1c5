"""Composition root of the members service: wires its handlers to the runtime."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from services.members.entrypoints.http import admin_router
from services.members.entrypoints.messaging import publications, subscriptions
from services.members.service_layer.registry import Announcements, sync_seed
from services.members.service_layer.unit_of_work import MembersUnitOfWork
from shared.http import create_app
from shared.seed import Seed
from shared.service import ServiceRuntime
from shared.settings import Settings

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


async def serve(settings: Settings, seed: Seed | None) -> None:
    runtime = ServiceRuntime("members", settings, MIGRATIONS, MembersUnitOfWork)
    await runtime.open()
    grace = timedelta(seconds=settings.secret_grace_s)
    announcements = Announcements(settings.secret_box())
    if seed is not None:
        async with runtime.unit_of_work() as uow:
            changed = await sync_seed(uow, announcements, seed, grace)
        log.info("seed loaded: %d member(s) registered or changed", changed)
    runtime.subscribe(subscriptions(settings))
    runtime.document(publications(settings))
    app = create_app(
        "members",
        runtime.health,
        settings.admin_token,
        [admin_router(runtime.unit_of_work, announcements, grace)],
    )
    await runtime.run(app)
