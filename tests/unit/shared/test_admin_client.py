"""The CLI prints the admin API's problems readably: the detail, or each invalid field."""

import httpx

from shared.cli.admin_client import _problem_text


def _answer(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_a_problem_prints_its_detail():
    assert _problem_text(_answer(404, {"title": "Not Found", "status": 404, "detail": "no member 'm-x'"})) == (
        "no member 'm-x'"
    )


def test_a_validation_problem_prints_a_line_per_field():
    problem = {"status": 422, "detail": "the request is invalid: ...", "errors": [
        {"field": "body.region", "message": "String should match pattern '^[A-Z]{2}$'"},
        {"field": "body.nmae", "message": "Extra inputs are not permitted"},
    ]}
    assert _problem_text(_answer(422, problem)).splitlines() == [
        "invalid input:",
        "  body.region: String should match pattern '^[A-Z]{2}$'",
        "  body.nmae: Extra inputs are not permitted",
    ]


def test_an_answer_that_is_no_problem_prints_as_it_came():
    assert _problem_text(httpx.Response(502, text="Bad Gateway")) == "Bad Gateway"
