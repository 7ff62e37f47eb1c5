"""`alliance buffers ...`: the risk buffers' admin API from a terminal (docs/risk-buffers.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from shared.cli.admin_client import call, show

buffers_app = typer.Typer(
    help="Shared risk buffers: sizing, stock, subscribers, receipts and statements.", no_args_is_help=True
)

Sku = Annotated[str, typer.Argument(help="The buffer's SKU.")]
MemberId = Annotated[str, typer.Argument(help="The member's id.")]


@buffers_app.command("list")
def list_buffers() -> None:
    """One line per buffer: SKU, target, on hand, on order, pooled vs summed standalone stock, subscribers."""
    for buffer in call("procurement", "GET", "/buffers"):
        sizing = buffer["sizing"] or {}
        typer.echo(
            f"{buffer['sku']}\ttarget {sizing.get('target', 0)}\ton hand {buffer['on_hand']}\t"
            f"on order {buffer['on_order']}\tpooled {sizing.get('safety_stock', '0')} vs alone "
            f"{sizing.get('standalone_stock_summed', '0')}\t{','.join(buffer['subscribers']) or '-'}"
        )


@buffers_app.command("show")
def show_buffer(sku: Sku) -> None:
    """A buffer with its stock and the last close's sizing per subscriber, as JSON."""
    show(call("procurement", "GET", f"/buffers/{sku}"))


@buffers_app.command("subscribe")
def subscribe(sku: Sku, member_id: MemberId) -> None:
    """Subscribe a member, from the next close on."""
    result = call("procurement", "POST", f"/buffers/{sku}/subscribers", {"member_id": member_id})
    typer.echo(f"{member_id} {'subscribed to' if result['changed'] else 'was already subscribed to'} {sku}")


@buffers_app.command("unsubscribe")
def unsubscribe(sku: Sku, member_id: MemberId) -> None:
    """Unsubscribe a member, from the next close on; its past statements stay as they were."""
    result = call("procurement", "DELETE", f"/buffers/{sku}/subscribers/{member_id}")
    typer.echo(f"{member_id} {'unsubscribed from' if result['changed'] else 'was not subscribed to'} {sku}")


@buffers_app.command("receive")
def receive(
    sku: Sku, quantity: Annotated[int, typer.Argument(help="Units arrived at the warehouse.", min=1)]
) -> None:
    """Book units as arrived at the buffer's warehouse; only booked stock can be drawn."""
    buffer = call("procurement", "POST", f"/buffers/{sku}/receipts", {"quantity": quantity})
    typer.echo(
        f"{sku}: {buffer['on_hand']} on hand at {buffer['unit_cost']} EUR per unit, {buffer['on_order']} on order"
    )


@buffers_app.command("statement")
def statement(
    sku: Sku,
    member_id: MemberId,
    cycle_id: Annotated[str | None, typer.Option(help="The cycle that closed the period (default: the latest).")] = None,
) -> None:
    """A member's statement of a closed period, as it was told, as JSON."""
    show(call("procurement", "GET", f"/buffers/{sku}/statements/{member_id}",
              params={"cycle_id": cycle_id} if cycle_id else None))
