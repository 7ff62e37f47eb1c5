"""The HTTP surface every service shares: /health, /metrics, and the admin API's guard."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import metrics

MAX_BODY_BYTES = 1024 * 1024
HealthCheck = Callable[[], Awaitable[dict[str, bool]]]

_bearer = HTTPBearer(auto_error=False, description="ALLIANCE_ADMIN_TOKEN")


def admin_guard(token: SecretStr | None) -> Callable[..., Awaitable[None]]:
    """A dependency that admits only the configured bearer token (constant-time compare)."""

    async def require_admin(
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> None:
        if token is None:
            raise HTTPException(503, "the admin API is disabled: ALLIANCE_ADMIN_TOKEN is not set")
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


class _BodyLimit:
    """Refuse bodies over MAX_BODY_BYTES, whether announced by Content-Length or sent in chunks:
    the body is read (up to the limit) before the app sees it, so nothing larger gets in. A NUL
    character in the body, path or query is refused too, before any route could store it."""

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
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse_nul(scope: Scope, receive: Receive, send: Send) -> None:
        metrics.HTTP_REFUSED.labels("nul_character").inc()
        response = JSONResponse({"detail": "a NUL character is not allowed in any value"}, 422)
        await response(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        metrics.HTTP_REFUSED.labels("too_large").inc()
        response = JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"}, 413)
        await response(scope, receive, send)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's default answer echoes the input, which may be a secret: say where and why only."""
    details = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in error.errors()]
    return JSONResponse({"detail": details}, 422)


def create_app(
    service: str,
    health: HealthCheck,
    admin_token: SecretStr | None,
    admin_routers: Sequence[APIRouter] = (),
    description: str = "",
) -> FastAPI:
    app = FastAPI(title=f"alliance {service}", description=description, version="1")
    app.add_middleware(_BodyLimit)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]

    @app.get(
        "/health", tags=["ops"], summary="200 when connected to broker and database and consuming"
    )
    async def get_health() -> JSONResponse:
        checks = await health()
        healthy = all(checks.values())
        return JSONResponse(
            {"service": service, "status": "ok" if healthy else "unavailable", "checks": checks},
            status_code=200 if healthy else 503,
        )

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def get_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    guard = admin_guard(admin_token)
    for router in admin_routers:
        app.include_router(router, prefix="/admin", dependencies=[Depends(guard)])
    return app
