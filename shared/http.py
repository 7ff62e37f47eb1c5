"""The HTTP surface every service shares: /health, /metrics, and the admin API's guard."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr
from starlette.middleware.base import BaseHTTPMiddleware

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
            raise HTTPException(401, "bearer token required", {"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(
            credentials.credentials.encode(), token.get_secret_value().encode()
        ):
            raise HTTPException(403, "invalid token")

    return require_admin


class _BodyLimit(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"}, 413)
        return await call_next(request)


def create_app(
    service: str,
    health: HealthCheck,
    admin_token: SecretStr | None,
    admin_routers: Sequence[APIRouter] = (),
    description: str = "",
) -> FastAPI:
    app = FastAPI(title=f"alliance {service}", description=description, version="1")
    app.add_middleware(_BodyLimit)

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
