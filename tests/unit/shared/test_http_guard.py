"""The HTTP surface every service shares answers every error as an RFC 9457 problem, refuses
what no route could store (a NUL character, a key twice, a body that is not JSON, one too large)
before a route runs, and documents each answer it can give."""

import pytest
from fastapi import APIRouter, HTTPException
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared.http import MAX_BODY_BYTES, NO_NUL, PROBLEM_JSON, RequestBody, create_app, problems


async def _healthy() -> dict[str, bool]:
    return {"ok": True}


class Echoed(RequestBody):
    note: str = ""
    secret: SecretStr | None = None


def _app():
    router = APIRouter()

    @router.post("/echo/{name}", responses=problems(404))
    async def echo(name: str, body: Echoed) -> dict:
        if name == "missing":
            raise HTTPException(404, "no echo 'missing'")
        return {"name": name, "note": body.note}

    @router.get("/echo/{name}")
    async def show(name: str) -> dict:
        return {"name": name}

    @router.get("/broken")
    async def broken() -> dict:
        raise RuntimeError("internal state: password=hunter2")

    return create_app("members", _healthy, SecretStr("t0ken"), [router])


@pytest.fixture
def client():
    return TestClient(_app(), headers={"Authorization": "Bearer t0ken"}, raise_server_exceptions=False)


def _problem(answer, status):
    assert answer.status_code == status
    assert answer.headers["content-type"] == PROBLEM_JSON
    body = answer.json()
    assert body["type"] == "about:blank" and body["status"] == status and body["title"] and body["detail"]
    return body


@pytest.mark.parametrize("path, body", [
    ("/admin/echo/a", '{"note": "Huber\\u0000GmbH"}'),
    ("/admin/echo/a%00b", "{}"),
    ("/admin/echo/a?x=%00", "{}"),
])
def test_a_nul_character_is_refused_with_422(client, path, body):
    answer = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert "NUL" in _problem(answer, 422)["detail"]


def test_other_values_pass(client):
    answer = client.post("/admin/echo/a", json={"note": "Hüber GmbH, u0000"})
    assert answer.status_code == 200 and answer.json() == {"name": "a", "note": "Hüber GmbH, u0000"}


def test_a_key_given_twice_is_refused_rather_than_guessed(client):
    answer = client.post("/admin/echo/a", content='{"note": "a", "note": "b"}',
                         headers={"Content-Type": "application/json"})
    assert "'note' appears twice" in _problem(answer, 422)["detail"]


@pytest.mark.parametrize("body", [b"\xff\xfe", b"{not json", b'{"note": "a"'])
def test_a_body_that_is_not_json_is_a_400(client, body):
    answer = client.post("/admin/echo/a", content=body, headers={"Content-Type": "application/json"})
    assert _problem(answer, 400)["detail"] == "the body is not JSON (UTF-8)"


def test_a_body_nested_too_deep_is_a_400_and_the_service_keeps_answering(client):
    answer = client.post("/admin/echo/a", content=b"[" * 100_000 + b"]" * 100_000,
                         headers={"Content-Type": "application/json"})
    assert _problem(answer, 400)["detail"] == "the body is nested too deep"
    assert client.post("/admin/echo/a", json={"note": "still here"}).status_code == 200


def test_an_unknown_key_is_refused_and_named(client):
    body = _problem(client.post("/admin/echo/a", json={"nte": "typo"}), 422)
    assert body["errors"] == [{"field": "body.nte", "message": "Extra inputs are not permitted"}]


def test_a_validation_problem_names_fields_never_values(client):
    body = _problem(client.post("/admin/echo/a", json={"note": {"secret": "s3cr3t-value"}}), 422)
    assert body["errors"][0]["field"] == "body.note" and "s3cr3t-value" not in str(body)


def test_a_body_over_the_limit_is_a_413(client):
    answer = client.post("/admin/echo/a", content=b"x" * (MAX_BODY_BYTES + 1))
    _problem(answer, 413)


def test_a_missing_or_wrong_token_is_a_401_that_says_how_to_authenticate(client):
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
        answer = client.get("/admin/echo/a", headers=headers)
        _problem(answer, 401)
        assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_routes_own_refusal_and_an_unknown_path_are_problems(client):
    assert _problem(client.post("/admin/echo/missing", json={}), 404)["detail"] == "no echo 'missing'"
    _problem(client.get("/admin/nothing-here"), 404)


def test_a_method_the_path_does_not_take_is_a_405_naming_all_it_takes(client):
    answer = client.delete("/admin/echo/a")
    _problem(answer, 405)
    assert answer.headers["allow"] == "GET, POST"


def test_a_server_error_is_a_problem_without_internals(client):
    body = _problem(client.get("/admin/broken"), 500)
    assert "hunter2" not in str(body) and "RuntimeError" not in str(body)


def test_the_document_states_every_answer_with_its_problem_body():
    document = _app().openapi()
    post = document["paths"]["/admin/echo/{name}"]["post"]["responses"]
    assert sorted(post) == ["200", "400", "401", "404", "413", "422", "503"]
    for status in ("400", "401", "404", "413", "422", "503"):
        assert post[status]["content"] == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    get = document["paths"]["/admin/echo/{name}"]["get"]["responses"]
    assert "400" not in get  # no body, nothing to parse
    assert document["paths"]["/admin/echo/{name}"]["get"]["parameters"][0]["schema"]["pattern"] == NO_NUL
    schemas = document["components"]["schemas"]
    assert "Problem" in schemas and "HTTPValidationError" not in schemas
    assert schemas["Echoed"]["additionalProperties"] is False
    secret = schemas["Echoed"]["properties"]["secret"]["anyOf"][0]
    assert secret["format"] == "password" and secret["pattern"] == NO_NUL  # a password is free text too
