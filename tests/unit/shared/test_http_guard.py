"""The HTTP guard every service shares refuses a NUL character wherever it comes (PostgreSQL's
text cannot hold one: a stored NUL answered 500), and lets everything else through."""

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared.http import create_app


async def _healthy() -> dict[str, bool]:
    return {"ok": True}


@pytest.fixture
def client():
    router = APIRouter()

    @router.post("/echo/{name}")
    async def echo(name: str, body: dict) -> dict:
        return {"name": name, **body}

    app = create_app("test", _healthy, SecretStr("t0ken"), [router])
    return TestClient(app, headers={"Authorization": "Bearer t0ken"})


@pytest.mark.parametrize("path, body", [
    ("/admin/echo/a", '{"name": "Huber\\u0000GmbH"}'),
    ("/admin/echo/a%00b", "{}"),
    ("/admin/echo/a?x=%00", "{}"),
])
def test_a_nul_character_is_refused_with_422(client, path, body):
    answer = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and "NUL" in answer.json()["detail"]


def test_other_values_pass(client):
    answer = client.post("/admin/echo/a", json={"note": "Hüber GmbH, u0000"})
    assert answer.status_code == 200 and answer.json() == {"name": "a", "note": "Hüber GmbH, u0000"}
