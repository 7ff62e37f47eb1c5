"""`alliance alert ...`: risk alerts as ops, through the procurement admin API.

An alert raised here is trusted (it acts at once); members and suppliers raise theirs on
`risk.alerts`. Nothing printed here contains a secret.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from shared.cli.admin_client import call, show
from shared.contract import RiskKind, Severity

alert_app = typer.Typer(help="Risk alerts: raise and resolve them as ops, list them.", no_args_is_help=True)


class AlertState(StrEnum):
    ACTIVE = "active"
    RESOLVED = "resolved"
    EXPIRED = "expired"


def _line(alert: dict[str, Any]) -> str:
    scope = " ".join(f"{name}={alert[name]}" for name in ("supplier_id", "sku", "region") if alert[name])
    acting = "effective" if alert["effective"] else "warning"
    return (
        f"{alert['alert_key']}\t{alert['status']}\t{acting}\t{alert['severity']}\t{alert['kind']}\t{scope}\t"
        f"{alert['source']}:{alert['alert_id']}\t{alert['exposed_members']} exposed\t{alert['summary']}"
    )


@alert_app.command("raise")
def raise_alert(
    kind: Annotated[RiskKind, typer.Option(help="What kind of risk.")],
    severity: Annotated[
        Severity, typer.Option(help="critical excludes the scope, high makes it a last resort, else information.")
    ],
    summary: Annotated[str, typer.Option(help="What is going on (at most 500 characters); members read it.")],
    supplier: Annotated[str | None, typer.Option(help="Scope: a supplier id.")] = None,
    sku: Annotated[str | None, typer.Option(help="Scope: a SKU.")] = None,
    region: Annotated[str | None, typer.Option(help="Scope: where deliveries go, ISO country code (DE).")] = None,
    valid_until: Annotated[
        datetime | None,
        typer.Option(help="When it expires by itself, e.g. 2026-12-01T00:00:00+00:00 (UTC if no zone).",
                     formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    ] = None,
    alert_id: Annotated[str | None, typer.Option("--id", help="Your own id for it (default: generated).")] = None,
) -> None:
    """Raise an alert about a supplier, a SKU and/or a region; it acts at once."""
    if not (supplier or sku or region):
        typer.echo("name the scope: at least one of --supplier, --sku, --region", err=True)
        raise typer.Exit(2)
    body: dict[str, Any] = {"kind": kind.value, "severity": severity.value, "summary": summary}
    for name, value in (("alert_id", alert_id), ("supplier_id", supplier), ("sku", sku), ("region", region)):
        if value is not None:
            body[name] = value
    if valid_until is not None:
        body["valid_until"] = (valid_until if valid_until.tzinfo else valid_until.replace(tzinfo=UTC)).isoformat()
    alert = call("procurement", "POST", "/alerts", body)
    typer.echo(
        f"alert {alert['alert_id']} ({alert['alert_key']}) raised: {alert['severity']} {alert['kind']}, "
        f"{alert['exposed_members']} member(s) exposed"
    )


@alert_app.command("resolve")
def resolve_alert(
    reference: Annotated[str, typer.Argument(help="An ops alert id, or any alert's key (ra-...).")],
) -> None:
    """Resolve an alert: it stops acting, and the members told of it hear that it is over."""
    alert = call("procurement", "POST", f"/alerts/{reference}/resolve")
    typer.echo(f"alert {alert['alert_key']} is {alert['status']}")


@alert_app.command("list")
def list_alerts(
    state: Annotated[AlertState | None, typer.Option(help="Only alerts in this state.")] = None,
    history: Annotated[bool, typer.Option("--history", help="Print each alert with its history, as JSON.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """One line per alert, newest first: key, state, effective or warning, severity, kind, scope."""
    params: dict[str, Any] = {"limit": limit}
    if state is not None:
        params["state"] = state.value
    alerts = call("procurement", "GET", "/alerts", params=params)
    if history:
        show(alerts)
        return
    for alert in alerts:
        typer.echo(_line(alert))
