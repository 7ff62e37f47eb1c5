"""The `alliance` command: run the platform, serve one service, and (from sibling modules) the
operators' command groups, registered below with `app.add_typer(group, name=...)`."""

from __future__ import annotations

import asyncio
import enum
import importlib
import logging
import signal
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from shared.seed import Seed, SeedError, load_seed
from shared.settings import SERVICES, Settings

app = typer.Typer(
    name="alliance",
    help="Purchasing alliance platform: run it, serve one of its services, administer it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # rich tracebacks show local variables, secrets included
)

Service = enum.Enum("Service", {name: name for name in SERVICES}, type=str)  # type: ignore[misc]

EXIT_USAGE = 2
"""Exit code of a run refused before anything started: a bad seed, a port in use."""


def main() -> None:
    app()


def configure_logging(level: str, process: str) -> None:
    """One line per event, tagged with the process, since all of them share the terminal."""
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s %(levelname)-7s [{process}] %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    # aiokafka's DEBUG lines carry record values, and internal events can carry webhook secrets
    logging.getLogger("aiokafka").setLevel(max(logging.INFO, logging.getLevelName(level.upper())))


def _settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors(include_input=False):
            field = ".".join(str(part) for part in error["loc"])
            typer.echo(f"ALLIANCE_{field.upper()}: {error['msg']}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _load_seed_or_exit(path: Path) -> Seed:
    try:
        return load_seed(path)
    except SeedError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None


SeedOption = Annotated[
    Path | None, typer.Option("--seed", help="Seed file (YAML or JSON): members, suppliers, cycle.")
]


@app.command()
def run(
    seed: SeedOption = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Wipe the embedded database's data first.")
    ] = False,
) -> None:
    """Run the whole platform: embedded broker and database unless ALLIANCE_KAFKA_BOOTSTRAP /
    ALLIANCE_DATABASE_URL name real ones, then the three services. Ctrl-C stops everything."""
    from shared.runtime.ports import PortUnavailable, check_ports_free
    from shared.runtime.supervisor import Supervisor
    from shared.topics import all_topics

    loaded = _load_seed_or_exit(seed) if seed else None
    settings = _settings_or_exit()
    configure_logging(settings.log_level, "supervisor")
    supplier_ids = [supplier.id for supplier in loaded.suppliers] if loaded else []
    supervisor = Supervisor(settings, seed, all_topics(settings.topic_prefix, supplier_ids), fresh)
    try:
        check_ports_free(supervisor.port_claims())
    except PortUnavailable as exc:
        typer.echo(f"cannot start: {exc}; nothing was started", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    raise typer.Exit(asyncio.run(supervisor.run()))


@app.command()
def serve(
    service: Annotated[Service, typer.Argument(help="The service to run.")],
    seed: SeedOption = None,
) -> None:
    """Run one service in this process until SIGTERM or Ctrl-C (`alliance run` starts these)."""
    settings = _settings_or_exit()
    if service.value in ("members", "notifications") and settings.sealing_keys is None:
        typer.echo(
            f"ALLIANCE_SEALING_KEYS: {service.value} needs the key(s) that seal members' webhook secrets,"
            " the same for members and notifications (`alliance sealing-key` makes one)",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    configure_logging(settings.log_level, service.value)
    loaded = _load_seed_or_exit(seed) if seed else None
    module = importlib.import_module(f"services.{service.value}.main")
    try:
        asyncio.run(_until_signalled(module.serve(settings, loaded)))
    except Exception:
        logging.getLogger(__name__).exception("%s failed", service.value)
        raise typer.Exit(1) from None
    logging.getLogger(__name__).info("%s stopped", service.value)


@app.command("sealing-key")
def sealing_key() -> None:
    """Print a new key for ALLIANCE_SEALING_KEYS (give members and notifications the same)."""
    from shared.sealing import new_sealing_key

    typer.echo(new_sealing_key())


async def _until_signalled(work: Awaitable[None]) -> None:
    """Await `work`, cancelling it on SIGTERM or SIGINT so it can shut down cleanly."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise


def _register_operator_groups() -> None:
    from shared.cli.buffers import buffers_app
    from shared.cli.kafka import kafka_app
    from shared.cli.members import members_app
    from shared.cli.notifications import notifications_app
    from shared.cli.procurement import cycle_app, orders_app, suppliers_app
    from shared.cli.risk import alert_app

    app.add_typer(members_app, name="members")
    app.add_typer(suppliers_app, name="suppliers")
    app.add_typer(cycle_app, name="cycle")
    app.add_typer(orders_app, name="orders")
    app.add_typer(notifications_app, name="notifications")
    app.add_typer(alert_app, name="alert")
    app.add_typer(buffers_app, name="buffers")
    app.add_typer(kafka_app, name="kafka")


_register_operator_groups()
