"""`alliance members ...`: the member registry from a terminal, through the members admin API.

Secrets are read from an environment variable or a prompt, never from the command line
(where `ps` and shell history would keep them), and are never printed.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from shared.cli.admin_client import call, show

members_app = typer.Typer(help="The alliance's member firms.", no_args_is_help=True)

MemberId = Annotated[str, typer.Argument(help="The member's id, e.g. m-huber.")]


def _secret(env_name: str | None, prompt: str) -> str:
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            typer.echo(f"environment variable {env_name} is not set or empty", err=True)
            raise typer.Exit(2)
        return value
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)


@members_app.command("list")
def list_members() -> None:
    """One line per member: id, status, region, name."""
    for member in call("members", "GET", "/members"):
        typer.echo(f"{member['member_id']}\t{member['status']}\t{member['region']}\t{member['name']}")


@members_app.command("show")
def show_member(member_id: MemberId) -> None:
    """A member as JSON (whether secrets are set, never their values)."""
    show(call("members", "GET", f"/members/{member_id}"))


@members_app.command("add")
def add_member(
    member_id: MemberId,
    name: Annotated[str, typer.Option(help="The firm's name.")],
    region: Annotated[str, typer.Option(help="ISO country code, e.g. DE.")],
    erp_secret_env: Annotated[str | None, typer.Option(help="Env var holding the ERP secret (else a prompt).")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    locale: Annotated[str, typer.Option(help="de or en")] = "de",
    webhook_url: Annotated[str | None, typer.Option()] = None,
    webhook_secret_env: Annotated[str | None, typer.Option(help="Env var holding the webhook secret.")] = None,
) -> None:
    """Register a new member (active at once)."""
    body = {"member_id": member_id, "name": name, "region": region, "locale": locale,
            "erp_secret": _secret(erp_secret_env, "ERP secret")}
    if email:
        body["email"] = email
    if webhook_url:
        body["webhook_url"] = webhook_url
        body["webhook_secret"] = _secret(webhook_secret_env, "webhook secret")
    show(call("members", "POST", "/members", body))


@members_app.command("update")
def update_member(
    member_id: MemberId,
    name: Annotated[str | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    locale: Annotated[str | None, typer.Option()] = None,
    webhook_url: Annotated[str | None, typer.Option()] = None,
    webhook_secret_env: Annotated[str | None, typer.Option(help="Env var holding a new webhook secret.")] = None,
    category: Annotated[list[str] | None, typer.Option(help="Interest category (repeatable).")] = None,
    min_risk_severity: Annotated[str | None, typer.Option(help="low, medium, high or critical")] = None,
) -> None:
    """Change the given fields; the others stay."""
    body: dict[str, object] = {k: v for k, v in {
        "name": name, "region": region, "email": email, "locale": locale, "webhook_url": webhook_url,
        "interest_categories": category, "min_risk_severity": min_risk_severity}.items() if v is not None}
    if webhook_secret_env:
        body["webhook_secret"] = _secret(webhook_secret_env, "webhook secret")
    show(call("members", "PATCH", f"/members/{member_id}", body))


@members_app.command("suspend")
def suspend_member(member_id: MemberId) -> None:
    """Refuse the member's requests from now on (`member_suspended`)."""
    show(call("members", "POST", f"/members/{member_id}/suspend"))


@members_app.command("reactivate")
def reactivate_member(member_id: MemberId) -> None:
    show(call("members", "POST", f"/members/{member_id}/reactivate"))


@members_app.command("rotate-secret")
def rotate_secret(
    member_id: MemberId,
    secret_env: Annotated[str | None, typer.Option(help="Env var holding the new ERP secret (else a prompt).")] = None,
    grace_seconds: Annotated[int | None, typer.Option(help="How long the old secret still works.")] = None,
) -> None:
    """Give the member a new ERP secret; the old one keeps working for the grace period."""
    body: dict[str, object] = {"new_secret": _secret(secret_env, "new ERP secret")}
    if grace_seconds is not None:
        body["grace_seconds"] = grace_seconds
    show(call("members", "POST", f"/members/{member_id}/rotate-secret", body))
