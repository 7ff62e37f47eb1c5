"""Webhook POSTs to members' receivers, signed as the contract says.

One shared client for every endpoint; isolation between endpoints is the dispatcher's
(per-endpoint semaphores), and every POST ends by `timeout_s` whatever the receiver does.
The response body is never read: a receiver cannot make us download anything.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from services.notifications.domain.notices import AttemptResult
from services.notifications.domain.retry import parse_retry_after
from shared.signing import DELIVERY_ID_HEADER, SIGNATURE_HEADER, sign

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
"""CloudEvents HTTP binding, structured mode."""
USER_AGENT = "alliance-notifications/1"


class WebhookClient:
    def __init__(self, timeout_s: float, max_connections: int) -> None:
        self._timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": USER_AGENT},
        )

    async def post(self, url: str, body: bytes, secret: str, delivery_id: str) -> AttemptResult:
        headers = {
            "content-type": CONTENT_TYPE,
            SIGNATURE_HEADER: sign(secret, body),
            DELIVERY_ID_HEADER: delivery_id,
        }
        try:
            async with asyncio.timeout(self._timeout_s):
                async with self._client.stream(
                    "POST", url, content=body, headers=headers
                ) as response:
                    status, retry_after = response.status_code, response.headers.get("retry-after")
        except TimeoutError:
            return AttemptResult(False, error=f"no answer within {self._timeout_s:g} s")
        except httpx.InvalidURL:
            return AttemptResult(False, error="invalid webhook URL", endpoint_fault=False)
        except httpx.HTTPError as exc:
            # The type only: httpx messages can quote the URL, and a URL may carry a token.
            return AttemptResult(False, error=type(exc).__name__)
        if 200 <= status < 300:
            return AttemptResult(True, status_code=status)
        return AttemptResult(
            False,
            status_code=status,
            error=f"HTTP {status}",
            retry_after_s=parse_retry_after(retry_after, datetime.now(UTC)),
        )

    async def close(self) -> None:
        await self._client.aclose()
