"""The live terminal view while the demo runs, and the summary it ends with."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from demo.scoreboard import Scoreboard

MOMENTS_SHOWN = 6


def dashboard(board: Scoreboard, duration: float, title: str) -> Panel:
    elapsed = time.monotonic() - board.started
    phase = "trading" if elapsed < duration else "no more requests: the last cycle and its answers"
    s = board.summary()
    figures = _grid(
        "bold cyan",
        ("time", f"{_clock(min(elapsed, duration))} of {_clock(duration)}, {phase}"),
        (
            "requests/s",
            f"{board.requests_per_second():.1f}   sent {s['requests_sent']:,} · accepted "
            f"{s['requests_accepted']:,} · rejected {sum(s['requests_rejected'].values()):,} · "
            f"cancelled {s['requests_cancelled']:,}",
        ),
        ("open demand", f"{s['open_demand']:,} requests waiting for a cycle"),
        ("cycles", f"{s['cycles_closed']} closed"),
        (
            "orders",
            f"{s['orders_received_by_suppliers']:,} placed with suppliers · "
            f"{s['orders_confirmed']:,} confirmed · {s['orders_rejected']:,} rejected",
        ),
        (
            "requests",
            f"{s['requests_placed']:,} placed for {_eur(s['spend_eur'])} · "
            f"{s['requests_resourced']:,} re-sourced · "
            f"{sum(s['requests_unfulfillable'].values()):,} unfulfillable",
        ),
        ("savings", f"{_eur(s['savings_eur'])} ({_percent(s['savings_percent'])})"),
        (
            "rational",
            f"{_share(s['individually_rational_share'])} of "
            f"{s['ordered_notices_with_standalone_price']:,} ordered lines at or below the member's "
            "standalone price",
        ),
        ("after the order", _after_the_order(s)),
        ("alerts", f"{s['alerts_raised']} raised · {s['alerts_routed']} routed to members"),
    )
    story = Text()
    for at, text in board.moments[-MOMENTS_SHOWN:]:
        story.append(f"{_clock(at)}  ", style="dim")
        story.append(f"{text}\n")
    return Panel(Group(figures, Text(), story), title=title, border_style="blue")


def summary_panel(s: dict[str, Any]) -> Panel:
    table = _grid(
        "bold",
        (
            "requests placed",
            f"{s['requests_placed']:,} of {s['requests_sent']:,} sent ({s['requests_resourced']:,} "
            f"re-sourced); {sum(s['requests_unfulfillable'].values()):,} unfulfillable, "
            f"{s['requests_cancelled']:,} cancelled, {s['open_demand']:,} still open",
        ),
        (
            "savings",
            f"{_eur(s['savings_eur'])}, {_percent(s['savings_percent'])} of what the members would have "
            "paid alone",
        ),
        (
            "individually rational",
            f"{_share(s['individually_rational_share'])} of the "
            f"{s['ordered_notices_with_standalone_price']:,} ordered lines with a standalone price "
            "(unit_price <= standalone_unit_price); after re-sourcing, "
            f"{s['lines_above_standalone_after_resourcing']} above their original standalone price",
        ),
        ("risk buffers", _buffers(s["risk_buffers"])),
        (
            "alerts routed",
            f"{s['alerts_routed']} risk_alert.notice webhooks for the {s['alerts_raised']} alerts raised",
        ),
        (
            "orders",
            f"{s['orders_received_by_suppliers']:,} received by suppliers, {s['orders_confirmed']:,} "
            f"confirmed, {s['orders_rejected']:,} rejected, in {s['cycles_closed']} cycles",
        ),
        ("after the order", _after_the_order(s)),
        ("supplier OTIF", _otif(s["supplier_otif"])),
        (
            "own standards",
            "orders read as documents: " + _by_standard(s["order_documents_received"])
            + "; answers written: " + _by_standard(s["answer_documents_sent"])
            + "; despatch advices: " + _by_standard(s["despatch_documents_sent"])
            + f"; {s['supplier_orders_in_wrong_format']} not in the supplier's standard",
        ),
        (
            "webhooks",
            f"{sum(s['notices'].values()):,} notices, {s['webhook_duplicate_deliveries']} redelivered, "
            f"{s['webhook_bad_signatures']} with a bad signature, "
            f"{s['foreign_notices']} about another's request",
        ),
        ("metrics", "\n".join([*s["metrics_urls"], f"what they mean: {s['ops_guide']}"])),
        ("files", f"seed {s['seed_file']}\nplatform log {s['platform_log']}"),
    )
    ending = "interrupted" if s["interrupted"] else "done"
    title = f"Summary ({ending} after {_clock(s['elapsed_seconds'])})"
    return Panel(table, title=title, border_style="green")


def _buffers(b: dict[str, Any]) -> str:
    """Pooled against summed standalone stock per buffer, draws, and each subscriber's savings."""
    lines = [
        f"{x['sku']}: target {x['target']} (pooled {Decimal(x['pooled_safety_stock']):.1f} units against "
        f"{Decimal(x['standalone_stock_summed']):.1f} for {len(x['subscribers'])} subscribers alone), "
        f"{x['on_hand']} on hand; {x['subscriber_requests_served']} subscriber requests served from it, "
        f"{x['non_subscriber_requests_unfulfillable']} of non-subscribers unfulfillable"
        for x in b["buffers"]
    ]
    lines.append(
        f"{b['units_served']:,} units served to {b['requests_served']} subscriber requests; "
        f"{b['statements']} statements"
    )
    lines += [f"  {member} saved {_eur(amount)}" for member, amount in b["subscriber_savings_eur"].items()]
    return "\n".join(lines)


def _grid(label_style: str, *rows: tuple[str, str]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style=label_style, justify="right")
    table.add_column()
    for label, text in rows:
        table.add_row(label, text)
    return table


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def _eur(amount: str) -> str:
    return f"{Decimal(amount):,.2f} EUR"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


def _share(fraction: float | None) -> str:
    return _percent(None if fraction is None else fraction * 100)


def _after_the_order(s: dict[str, Any]) -> str:
    discrepancies = " · ".join(f"{n} {reason}" for reason, n in sorted(s["discrepancies"].items())) or "none"
    return (
        f"{s['orders_answered_per_line']:,} orders answered per line · {s['dispatches_sent']:,} dispatches "
        f"({s['requests_dispatched']:,} requests) · {s['receipts_sent']:,} receipts ({s['receipts_short']} short, "
        f"{s['receipts_damaged']} damaged) · {s['requests_completed']:,} completed · discrepancies: {discrepancies}"
    )


def _otif(otif: dict[str, float | None]) -> str:
    measured = {supplier: value for supplier, value in otif.items() if value is not None}
    if not measured:
        return "no delivery measured yet"
    return "\n".join(f"{supplier}: {value:.0%} on time in full" for supplier, value in sorted(measured.items()))


def _by_standard(counts: dict[str, int]) -> str:
    return ", ".join(f"{count:,} {standard}" for standard, count in sorted(counts.items())) or "none"
