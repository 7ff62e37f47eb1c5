"""The final tables, and the same figures as JSON for machines (the quick test reads them)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import Console, Group
from rich.table import Table

from chaos.checks import Check
from chaos.run import Profile, RunResult


def tables(profile: Profile, reference: RunResult, chaos: RunResult, comparison: Check) -> Group:
    faults = Table(
        title=f"Faults injected: {len(chaos.faults)} ({profile.name} mode); in flight = sent, not yet settled",
        title_justify="left",
    )
    for column in ("#", "fault", "while", "at (s)", "requests in flight", "recovered after (s)", "also restarted"):
        faults.add_column(column, justify="right" if column in ("#", "at (s)", "requests in flight") else "left")
    for number, record in enumerate(chaos.faults, 1):
        recovered = "NOT RECOVERED" if record.recovered_s is None else f"{record.recovered_s:.1f}"
        faults.add_row(str(number), record.fault, record.phase, f"{record.at_s:.1f}", str(record.in_flight),
                       recovered, ", ".join(record.also_restarted) or "-")

    outcome = Table(title="Requests", title_justify="left")
    outcome.add_column("")
    for column in ("fault-free run", "run with faults"):
        outcome.add_column(column, justify="right")
    for name, label in FIGURES.items():
        outcome.add_row(label, *("n/a" if run[name] is None else str(run[name]) for run in (figures(reference), figures(chaos))))

    checks = Table(title="Checks (run with faults)", title_justify="left")
    for column in ("check", "result", "detail"):
        checks.add_column(column)
    for check in [*chaos.checks, comparison]:
        checks.add_row(check.name, "[green]PASS[/]" if check.passed else "[bold red]FAIL[/]", check.detail)
    failed_reference = [c.name for c in reference.checks if not c.passed]
    checks.add_row("fault-free run passes its own checks", "[green]PASS[/]" if not failed_reference else
                   "[bold red]FAIL[/]", ", ".join(failed_reference) or "all")
    return Group(faults, outcome, checks)


FIGURES = {
    "sent": "requests sent",
    "accepted": "accepted",
    "ordered": "on an order line",
    "unfulfillable": "told unfulfillable",
    "cancelled": "cancelled by their ERP",
    "lost": "lost (must be 0)",
    "duplicated": "duplicated (must be 0)",
    "orders": "joint orders",
    "notices": "notices delivered (distinct)",
    "redeliveries": "redeliveries (same delivery id)",
    "seconds": "run time (s)",
}


def figures(result: RunResult) -> dict[str, int | None]:
    """None for all but the run time when the run stopped early."""
    books, evidence = result.books, result.evidence
    if books is None or evidence is None:
        return {name: None for name in FIGURES} | {"seconds": round(result.seconds)}
    return {
        "sent": books.sent,
        "accepted": books.accepted,
        "ordered": books.ordered,
        "unfulfillable": books.unfulfillable,
        "cancelled": books.cancelled,
        "lost": len(books.lost),
        "duplicated": len(books.duplicated) + books.unmatched_deliveries,
        "orders": len(evidence.orders),
        "notices": len(result.seen.delivery_ids),
        "redeliveries": result.seen.duplicate_deliveries,
        "seconds": round(result.seconds),
    }


def passed(reference: RunResult, chaos: RunResult, comparison: Check) -> bool:
    return all(c.passed for c in [*reference.checks, *chaos.checks, comparison])


def summary(profile: Profile, reference: RunResult, chaos: RunResult, comparison: Check) -> dict[str, Any]:
    return {
        "profile": profile.name,
        "passed": passed(reference, chaos, comparison),
        "faults": [asdict(record) for record in chaos.faults],
        "runs": {"reference": figures(reference), "chaos": figures(chaos)},
        "checks": {
            "reference": [asdict(c) for c in reference.checks],
            "chaos": [asdict(c) for c in [*chaos.checks, comparison]],
        },
    }


def show(console: Console, profile: Profile, reference: RunResult, chaos: RunResult, comparison: Check) -> None:
    console.print(tables(profile, reference, chaos, comparison))
    verdict = "[green]all checks passed[/]" if passed(reference, chaos, comparison) else "[bold red]checks failed[/]"
    console.print(verdict)
