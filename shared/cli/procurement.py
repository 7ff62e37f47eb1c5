"""`alliance suppliers ...` and `alliance cycle ...`: the procurement admin API from a terminal.

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

@suppliers_app.command("list")
def list_suppliers() -> None:
    """One line per supplier: id, name, regions, lead time, SKUs."""
    for supplier in call("procurement", "GET", "/suppliers"):
        skus = ", ".join(item["sku"] for item in supplier["catalog"]) or "-"
        typer.echo(
            f"{supplier['supplier_id']}\t{supplier['name']}\t{','.join(supplier['regions'])}\t"
            f"{supplier['lead_time_days']} d\t{skus}"
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
