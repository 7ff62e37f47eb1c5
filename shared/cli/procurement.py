"""`alliance suppliers ...`, `alliance cycle ...` and `alliance orders ...`: the procurement admin
API from a terminal.

They call http://<ALLIANCE_HTTP_HOST>:<ALLIANCE_PROCUREMENT_PORT>/admin with the bearer token
from ALLIANCE_ADMIN_TOKEN, print what the API answers, and exit 1 when it refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from shared.cli.admin_client import call, show

suppliers_app = typer.Typer(help="The alliance's suppliers and their catalogs.", no_args_is_help=True)
cycle_app = typer.Typer(help="Order cycles: close the current one now.", no_args_is_help=True)
orders_app = typer.Typer(help="Joint orders after they are placed: answers, dispatches, receipts.",
                         no_args_is_help=True)

@suppliers_app.command("list")
def list_suppliers() -> None:
    """One line per supplier: id, name, regions, lead time, the standard its documents are in, SKUs."""
    for supplier in call("procurement", "GET", "/suppliers"):
        skus = ", ".join(item["sku"] for item in supplier["catalog"]) or "-"
        typer.echo(
            f"{supplier['supplier_id']}\t{supplier['name']}\t{','.join(supplier['regions'])}\t"
            f"{supplier['lead_time_days']} d\t{supplier.get('documents', 'cloudevents')}\t{skus}"
        )


@suppliers_app.command("show")
def show_supplier(supplier_id: Annotated[str, typer.Argument(help="The supplier's id.")]) -> None:
    """A supplier with its catalog and tiers (never its secret), as JSON."""
    show(call("procurement", "GET", f"/suppliers/{supplier_id}"))


@suppliers_app.command("upsert")
def upsert_supplier(
    file: Annotated[
        Path, typer.Argument(help="YAML or JSON file with one supplier in the seed's format.", exists=True)
    ],
) -> None:
    """Create or update a supplier; a new secret rotates in with the grace period."""
    try:
        entry = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        typer.echo(f"{file}: not valid YAML or JSON ({getattr(error, 'problem', 'syntax error')})", err=True)
        raise typer.Exit(1) from None
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        typer.echo(f"{file}: expected one supplier (a mapping with an id), as in the seed", err=True)
        raise typer.Exit(1)
    result = call("procurement", "PUT", f"/suppliers/{entry['id']}", entry)
    typer.echo(f"supplier {entry['id']} {'saved' if result['changed'] else 'unchanged'}")


@cycle_app.command("close")
def close_cycle() -> None:
    """Close the current order cycle now and print what it decided."""
    report = call("procurement", "POST", "/cycles/close")
    typer.echo(
        f"{report['cycle_id']}: {report['requests_placed']} of {report['requests_considered']} requests "
        f"placed on {report['orders']} order(s) ({report['quantity_placed']} units, savings "
        f"{report['savings']} EUR); {report['unfulfillable']} unfulfillable, {report['waiting']} waiting"
    )


@suppliers_app.command("performance")
def supplier_performance(supplier_id: Annotated[str, typer.Argument(help="The supplier's id.")]) -> None:
    """On-time, in-full, OTIF, line rejection rate and answer time per category (rolling window)."""

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    for p in call("procurement", "GET", f"/suppliers/{supplier_id}/performance"):
        hours = "-" if p["mean_answer_hours"] is None else f"{p['mean_answer_hours']:.1f} h"
        last = f"\tLAST RESORT (below {p['otif_floor']:.0%})" if p["below_floor"] else ""
        typer.echo(
            f"{p['supplier_id']}\t{p['category']}\t{p['deliveries']} deliveries\ton time {rate(p['on_time'])}\t"
            f"in full {rate(p['in_full'])}\tOTIF {rate(p['otif'])}\tlines rejected "
            f"{rate(p['line_rejection_rate'])}\tanswer {hours}{last}"
        )


@orders_app.command("show")
def show_order(order_id: Annotated[str, typer.Argument(help="The order's id.")]) -> None:
    """The order, each line's answer and each delivery's stage: placed → answered → dispatched →
    received → completed (or cancelled), with its units at every step."""
    order = call("procurement", "GET", f"/orders/{order_id}")
    typer.echo(
        f"{order['order_id']}\t{order['supplier_id']}\t{order['cycle_id']}\t{order['status']}\t"
        f"stage {order['stage']}\t{order['quantity']} units\t{order['total']} EUR"
    )
    for line in order["lines"]:
        answer = line["answer"] or "unanswered"
        if line["answer"] == "partial":
            answer += f" {line['confirmed']}"
        expected = f" by {line['expected_delivery']}" if line["expected_delivery"] else ""
        typer.echo(f"  {line['line_id']}\t{line['sku']}\t{line['quantity']} @ {line['unit_price']}\t"
                   f"{answer}{expected}\tstage {line['stage']}")
        for d in line["deliveries"]:
            confirmed = "-" if d["confirmed"] is None else d["confirmed"]
            typer.echo(
                f"    {d['delivery_id']}\t{d['member_id']}/{d['request_id']}\tordered {d['ordered']}\t"
                f"confirmed {confirmed}\tdispatched {d['dispatched']}\taccepted {d['accepted']}\t"
                f"rejected {d['rejected']}\tmissing {d['missing']}\t{d['stage']}"
            )


@orders_app.command("escalations")
def list_escalations() -> None:
    """Goods overdue after the order: not dispatched by the expected delivery, or not received by
    the expected arrival plus the grace."""
    for e in call("procurement", "GET", "/escalations"):
        typer.echo(f"{e['due_on']}\t{e['kind']}\t{e['order_id']}\t{e['supplier_id']}\t{e['subject']}\t"
                   f"{e['quantity']} units")
