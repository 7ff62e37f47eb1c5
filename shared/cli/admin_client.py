"""The operators' commands talk to the services' admin APIs through this one client."""

from __future__ import annotations

import json
from typing import Any

import httpx
import typer

from shared.admin_token import admin_token, token_path
from shared.settings import ServiceName, Settings

TIMEOUT_S = 120.0
"""A cycle close over a large open demand takes seconds; the API answers once it committed."""


def call(service: ServiceName, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
    """Call `<service>`'s admin API with ALLIANCE_ADMIN_TOKEN, or the token `alliance run` made for
    ALLIANCE_DATA_DIR; a refusal prints why and exits 1."""
    settings = Settings()
    token = admin_token(settings)
    if token is None:
        typer.echo(
            f"ALLIANCE_ADMIN_TOKEN is not set and {token_path(settings.data_dir)} does not exist: set the"
            " variable, or run this where `make run` runs (or with its ALLIANCE_DATA_DIR)",
            err=True,
        )
        raise typer.Exit(2)
    base = f"http://{settings.http_host}:{settings.http_port(service)}/admin"
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    try:
        response = httpx.request(method, base + path, json=body, params=params, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as error:
        typer.echo(f"{service} is not reachable at {base} ({type(error).__name__}); is it running?", err=True)
        raise typer.Exit(1) from None
    if response.is_error:
        typer.echo(f"{service} refused ({response.status_code}): {_problem_text(response)}", err=True)
        raise typer.Exit(1)
    return response.json()


def _problem_text(response: httpx.Response) -> str:
    """An RFC 9457 problem as a line, and a line per invalid field."""
    try:
        problem = response.json()
    except ValueError:
        return response.text
    if not isinstance(problem, dict) or "detail" not in problem:
        return response.text
    errors = problem.get("errors") or []
    if not errors:
        return str(problem["detail"])
    return "\n".join(["invalid input:", *(f"  {error['field']}: {error['message']}" for error in errors)])


def show(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
