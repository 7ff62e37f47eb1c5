"""`alliance notifications ...`: the notifications admin API from the command line.

It talks to the service on http://127.0.0.1:$ALLIANCE_NOTIFICATIONS_PORT with the bearer token
$ALLIANCE_ADMIN_TOKEN. Output is one line per item with aligned columns; `--json` prints what the
API returned, for scripts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from shared.cli.admin_client import call

notifications_app = typer.Typer(
    help="Notices to members: deliveries, dead notices, sending them again, the delivery log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # rich tracebacks show local variables, the token included
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]
LimitOption = Annotated[
    int, typer.Option("--limit", min=1, max=1000, help="At most this many lines.")
]


def _table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> None:
    text = [[("-" if v is None else str(v)) for v in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in text) for i in range(len(header))]
    for row in text:
        typer.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _deliveries(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no deliveries")
        return
    _table(
        [
            (
                r["notice_id"],
                r["member_id"],
                r["notice_type"],
                r["channel"],
                r["status"],
                r["attempts"],
                r["last_status_code"],
                r["last_error"],
            )
            for r in rows
        ],
        ("NOTICE", "MEMBER", "TYPE", "CHANNEL", "STATUS", "ATTEMPTS", "LAST CODE", "LAST ERROR"),
    )


@notifications_app.command("list")
def list_deliveries(
    status: Annotated[
        str | None,
        typer.Option("--status", help="pending, held, digested, delivered, dead or discarded."),
    ] = None,
    member: Annotated[str | None, typer.Option("--member", help="Only this member's.")] = None,
    limit: LimitOption = 50,
    as_json: JsonOption = False,
) -> None:
    """Deliveries of the most recent notices, newest first."""
    params = {
        "limit": limit,
        **({"status": status} if status else {}),
        **({"member_id": member} if member else {}),
    }
    _deliveries(call("notifications", "GET", "/deliveries", params=params), as_json)


@notifications_app.command()
def dead(limit: LimitOption = 100, as_json: JsonOption = False) -> None:
    """Dead notices: every attempt failed within the retry horizon. `retry` sends one again."""
    _deliveries(call("notifications", "GET", "/deliveries", params={"status": "dead", "limit": limit}), as_json)


@notifications_app.command()
def retry(notice_id: Annotated[str, typer.Argument(help="The notice (= delivery) id.")]) -> None:
    """Send a dead notice again, with the same delivery id and a fresh retry horizon."""
    answer = call("notifications", "POST", f"/notices/{notice_id}/retry")
    typer.echo(f"notice {answer['notice_id']}: {answer['requeued']} dead delivery(ies) sent again")


@notifications_app.command()
def discard(notice_id: Annotated[str, typer.Argument(help="The notice (= delivery) id.")]) -> None:
    """Give up on a dead notice once the member was told another way; it stops counting as dead."""
    answer = call("notifications", "POST", f"/notices/{notice_id}/discard")
    typer.echo(f"notice {answer['notice_id']}: {answer['discarded']} dead delivery(ies) discarded")


@notifications_app.command()
def log(
    member_id: Annotated[str, typer.Argument(help="The member whose delivery log to show.")],
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """A member's delivery log, newest first: every attempt with its status code or error and latency."""
    rows = call("notifications", "GET", f"/members/{member_id}/log", params={"limit": limit})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo(f"no deliveries logged for {member_id}")
        return
    _table(
        [
            (
                r["logged_at"],
                r["notice_id"],
                r["notice_type"],
                r["channel"],
                r["attempt"],
                r["outcome"],
                r["status_code"],
                r["error"],
                None if r["latency_ms"] is None else f"{r['latency_ms']:.0f} ms",
            )
            for r in rows
        ],
        ("AT", "NOTICE", "TYPE", "CHANNEL", "ATTEMPT", "OUTCOME", "CODE", "ERROR", "LATENCY"),
    )
