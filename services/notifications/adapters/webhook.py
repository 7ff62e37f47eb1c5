"""Webhook POSTs to members' receivers, signed as the contract says, over aiohttp.

One client session for the service, with connections kept alive per receiver, so a busy
receiver costs no handshake per notice (aiohttp's pool is cheap per request under
concurrency, which httpx's was not here). Isolation between endpoints is the dispatcher's
(per-endpoint semaphores), and every POST ends by `timeout_s` whatever the receiver does.
A short answer body is read so its connection can carry the next notice; a long one is not
downloaded: the connection is closed instead.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import aiohttp
from yarl import URL

from services.notifications.domain.notices import AttemptResult
from services.notifications.domain.retry import parse_retry_after
from shared.signing import DELIVERY_ID_HEADER, SIGNATURE_HEADER, sign

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
"""CloudEvents HTTP binding, structured mode."""
USER_AGENT = "alliance-notifications/1"
KEEPALIVE_S = 4.0
"""An idle connection is closed after this long: below the 5 s idle timeout common in HTTP
servers, so we seldom write to a connection the receiver is closing."""
REQUEST_TIMEOUT = 408
MAX_DRAINED_BODY_BYTES = 64 * 1024
"""A longer (or unannounced) answer body is not read: its connection is closed instead."""


def _usable(url: str) -> URL | None:
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return None
    if not url.isascii() or any(c <= " " for c in url):
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host or parsed.port is None:
        return None
    return parsed


class WebhookClient:
    def __init__(
        self,
        timeout_s: float,
        max_idle_connections: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._timeout_s = timeout_s
        self._max_connections = max_idle_connections
        self._ssl: ssl.SSLContext | bool = ssl_context or True
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, keepalive_timeout=KEEPALIVE_S, ssl=self._ssl
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                auto_decompress=False,
                trust_env=False,
                # Receivers' cookies are not kept: one member's answer must not shape what the
                # next POST carries, and a cookie jar costs a fifth of each request's CPU.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def post(self, url: str, body: bytes, secret: str, delivery_id: str) -> AttemptResult:
        target = _usable(url)
        if target is None:
            return AttemptResult(False, error="invalid webhook URL", endpoint_fault=False)
        headers = {
            "content-type": CONTENT_TYPE,
            "user-agent": USER_AGENT,
            SIGNATURE_HEADER: sign(secret, body),
            DELIVERY_ID_HEADER: delivery_id,
        }
        try:
            try:
                status, retry_after = await self._exchange(target, body, headers)
            except aiohttp.ServerDisconnectedError:
                status, retry_after = REQUEST_TIMEOUT, None
            if status == REQUEST_TIMEOUT:
                # A kept-alive connection the receiver had closed while idle (a 408 or a hang-up
                # before any answer): the POST goes once more, on a fresh connection. At worst a
                # duplicate, which the stable delivery id lets the receiver drop.
                status, retry_after = await self._exchange(target, body, headers)
        except TimeoutError:
            return AttemptResult(False, error=f"no answer within {self._timeout_s:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            # The type only: messages can quote the address, and a URL may carry a token.
            cause = getattr(exc, "certificate_error", None) or getattr(exc, "os_error", None) or exc
            return AttemptResult(False, error=type(cause).__name__)
        if 200 <= status < 300:
            return AttemptResult(True, status_code=status)
        return AttemptResult(
            False,
            status_code=status,
            error=f"HTTP {status}",
            retry_after_s=parse_retry_after(retry_after, datetime.now(UTC)),
        )

    async def _exchange(self, target: URL, body: bytes, headers: dict[str, str]) -> tuple[int, str | None]:
        async with self._client().post(target, data=body, headers=headers, allow_redirects=False) as answer:
            length = answer.content_length
            if length is not None and length <= MAX_DRAINED_BODY_BYTES:
                await answer.read()
            else:
                answer.close()
            return answer.status, answer.headers.get("retry-after")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
