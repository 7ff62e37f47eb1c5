"""The HTTP surface every service shares: /health, /metrics, the admin API's guard, and errors
as RFC 9457 problem details, the same in every service and in every OpenAPI document."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import metrics
from shared.settings import ServiceName, service_description

MAX_BODY_BYTES = 1024 * 1024
HealthCheck = Callable[[], Awaitable[dict[str, bool]]]
PROBLEM_JSON = "application/problem+json"

_bearer = HTTPBearer(auto_error=False, description="ALLIANCE_ADMIN_TOKEN")


class FieldError(BaseModel):
    """One invalid input: where (`body.name`, `query.limit`, `path.member_id`) and why, never the value."""

    field: str
    message: str


class Problem(BaseModel):
    """An error as RFC 9457 problem details (`application/problem+json`)."""

    type: str = Field(default="about:blank", description="about:blank: the status says what kind")
    title: str = Field(description="the HTTP status phrase")
    status: int
    detail: str = Field(description="what is wrong with this request, for a human")
    errors: list[FieldError] | None = Field(default=None, description="each invalid input (422 only)")


class RequestBody(BaseModel):
    """An admin API body: an unknown key is refused, since a typo must not pass as a change that
    never happens. Integer and boolean fields are declared strict: `true` is not 1."""

    model_config = ConfigDict(extra="forbid")


class Unprocessable(HTTPException):
    """A 422 a route decides itself (the input is well-formed but refers to nothing, or contradicts
    itself), with the fields it concerns."""

    def __init__(self, detail: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(422, detail)
        self.errors = list(errors)


def problem(
    status: int, detail: str, errors: Sequence[FieldError] = (), headers: dict[str, str] | None = None
) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, errors=list(errors) or None)
    return JSONResponse(
        body.model_dump(exclude_none=True), status, headers=headers, media_type=PROBLEM_JSON
    )


def field_errors(errors: Sequence[Any], prefix: tuple[str | int, ...] = ()) -> list[FieldError]:
    """pydantic's errors as FieldErrors: location and message only, since the input may be a secret."""
    return [
        FieldError(field=".".join(str(part) for part in (*prefix, *error["loc"])), message=error["msg"])
        for error in errors
    ]


def invalid_body(error: ValidationError) -> Unprocessable:
    """A body that passed the route's model but not the contract model it becomes."""
    errors = field_errors(error.errors(), ("body",))
    return Unprocessable(_invalid(errors), errors)


def _invalid(errors: Sequence[FieldError]) -> str:
    shown = "; ".join(f"{e.field}: {e.message}" for e in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return f"the request is invalid: {shown}{more}"


STATUS_MEANINGS = {
    400: "the body is not JSON, or nested too deep",
    401: "no bearer token, or not the admin token",
    404: "nothing by that id",
    405: "the path does not take this method",
    409: "conflicts with what is stored",
    413: f"the body is over {MAX_BODY_BYTES} bytes",
    422: "the input is invalid (each field in `errors`), has a key twice, or holds a NUL character",
    503: "the admin API is disabled: ALLIANCE_ADMIN_TOKEN is not set",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's own error answers for its OpenAPI `responses=`; their body is always a Problem."""
    return {status: {"description": STATUS_MEANINGS[status]} for status in statuses}


def admin_guard(token: SecretStr | None) -> Callable[..., Awaitable[None]]:
    """A dependency that admits only the configured bearer token (constant-time compare)."""

    async def require_admin(
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> None:
        if token is None:
            raise HTTPException(503, STATUS_MEANINGS[503])
        if credentials is None or credentials.scheme.lower() != "bearer":
            metrics.HTTP_REFUSED.labels("missing_token").inc()
            raise HTTPException(401, "bearer token required", {"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(
            credentials.credentials.encode(), token.get_secret_value().encode()
        ):
            metrics.HTTP_REFUSED.labels("invalid_token").inc()
            raise HTTPException(401, "invalid token", {"WWW-Authenticate": 'Bearer error="invalid_token"'})

    return require_admin


NUL_IN_BODY = (b"\x00", b"\\u0000")
NUL_IN_URL = (*NUL_IN_BODY, b"%00")
"""A NUL character, raw, JSON-escaped or URL-encoded: PostgreSQL's text cannot hold it."""
NO_NUL = "^[^\\u0000]*$"
"""The pattern the documents give every free-text string, so clients know NUL is refused."""


class DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON allows a key twice and keeps the last: which one a client meant is a guess."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen[key] = value
    return seen


def _is_json(headers: Headers) -> bool:
    """Whether FastAPI will read the body as JSON: no content type, or application/json or /*+json."""
    media_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


class _InputGuard:
    """Refuse bodies over MAX_BODY_BYTES, whether announced by Content-Length or sent in chunks:
    the body is read (up to the limit) before the app sees it, so nothing larger gets in. A NUL
    character in the body, path or query is refused too, before any route could store it, and so
    is a JSON body that does not parse or names a key twice."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
        if any(nul in target for nul in NUL_IN_URL):
            await self._refuse_nul(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > MAX_BODY_BYTES:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        if any(nul in chunk for chunk in chunks for nul in NUL_IN_BODY):
            await self._refuse_nul(scope, receive, send)
            return
        body = b"".join(chunks)
        if body and _is_json(Headers(scope=scope)):
            try:
                json.loads(body, object_pairs_hook=_unique_keys)
            except DuplicateKey as duplicate:
                metrics.HTTP_REFUSED.labels("duplicate_key").inc()
                await problem(422, f"the key {str(duplicate)!r} appears twice in one object")(scope, receive, send)
                return
            except ValueError:
                metrics.HTTP_REFUSED.labels("not_json").inc()
                await problem(400, "the body is not JSON (UTF-8)")(scope, receive, send)
                return
            except RecursionError:
                metrics.HTTP_REFUSED.labels("too_deep").inc()
                await problem(400, "the body is nested too deep")(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse_nul(scope: Scope, receive: Receive, send: Send) -> None:
        metrics.HTTP_REFUSED.labels("nul_character").inc()
        await problem(422, "a NUL character is not allowed in any value")(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        metrics.HTTP_REFUSED.labels("too_large").inc()
        await problem(413, f"request body over {MAX_BODY_BYTES} bytes")(scope, receive, send)


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    headers = error.headers
    if error.status_code == 405 and (methods := _documented_methods(request)):
        headers = {"Allow": ", ".join(methods)}
    return problem(error.status_code, str(error.detail), getattr(error, "errors", ()), headers)


def _documented_methods(request: Request) -> list[str]:
    """Every method the path takes, as the OpenAPI document lists them: Starlette's Allow names
    only the methods of the first route that matched the path, and here each method is a route."""
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.url.path):
            return sorted(method.upper() for method in operations)
    return []


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's default answer echoes the input, which may be a secret: say where and why only."""
    errors = field_errors(error.errors())
    return problem(422, _invalid(errors), errors)


async def _server_error(request: Request, error: Exception) -> JSONResponse:
    """Our bug: the log has the traceback, the caller a problem without internals."""
    return problem(500, "internal error: the service logged it")


class HealthView(BaseModel):
    service: str
    status: str = Field(description="ok, or unavailable")
    checks: dict[str, bool]


def _document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Every operation documents the errors it can answer, each a Problem: its own (declared with
    `problems()`), the guard's on admin paths, and the middleware's (413, 422) everywhere."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, FieldError):
        schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in document["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            statuses = [
                413,
                422,
                *((400,) if "requestBody" in operation else ()),
                *((401, 503) if path.startswith("/admin/") else ()),
            ]
            for status in statuses:
                responses.setdefault(str(status), {"description": STATUS_MEANINGS[status]})
            responses["422"]["description"] = STATUS_MEANINGS[422]
            for status, response in responses.items():
                if int(status) >= 400 and not (path == "/health" and status == "503"):
                    response["content"] = content
            operation["responses"] = dict(sorted(responses.items()))
    _refuse_nul_in_strings(document)
    return document


def _refuse_nul_in_strings(node: Any) -> None:
    """Give every free-text string schema the NO_NUL pattern (an enum, its own pattern or a
    format other than `password` excludes NUL already; a password is free text)."""
    if isinstance(node, dict):
        free_text = node.get("format", "password") == "password"
        if node.get("type") == "string" and free_text and not {"pattern", "enum", "const"} & node.keys():
            node["pattern"] = NO_NUL
        for value in node.values():
            _refuse_nul_in_strings(value)
    elif isinstance(node, list):
        for value in node:
            _refuse_nul_in_strings(value)


def create_app(
    service: ServiceName,
    health: HealthCheck,
    admin_token: SecretStr | None,
    admin_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    description = service_description(service)
    app = FastAPI(title=f"alliance {service}", description=description, version="1")
    app.add_middleware(_InputGuard)
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _server_error)

    @app.get(
        "/health",
        tags=["ops"],
        summary="200 when connected to broker and database and consuming",
        response_model=HealthView,
        responses={503: {"model": HealthView, "description": "not connected, or not consuming"}},
    )
    async def get_health() -> JSONResponse:
        checks = await health()
        healthy = all(checks.values())
        return JSONResponse(
            {"service": service, "status": "ok" if healthy else "unavailable", "checks": checks},
            status_code=200 if healthy else 503,
        )

    @app.get(
        "/metrics",
        tags=["ops"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def get_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    guard = admin_guard(admin_token)
    for router in admin_routers:
        app.include_router(router, prefix="/admin", dependencies=[Depends(guard)])

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document_problems(
                get_openapi(title=app.title, version=app.version, description=description, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
