"""The members' webhook receivers, one real HTTP server on 127.0.0.1 for all of them.

Each member's endpoint does what the contract asks of a receiving system: it verifies the
`alliance-signature` with that member's webhook secret (401 otherwise, so the alliance retries),
and acknowledges a redelivered `alliance-delivery-id` without counting it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from demo.scoreboard import Scoreboard
from shared.signing import DELIVERY_ID_HEADER, SIGNATURE_HEADER, verify


class WebhookReceiver:
    def __init__(self, webhook_secrets: dict[str, str], board: Scoreboard) -> None:
        self._secrets = webhook_secrets
        self._board = board
        self._seen_deliveries: set[tuple[str, str]] = set()
        """(member_id, delivery id): each member's system dedupes its own deliveries."""
        app = Starlette(routes=[Route("/members/{member_id}", self._receive, methods=["POST"])])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        # Ctrl-C and SIGTERM are the demo's to handle, not the receiver's.
        self._server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        self._task: asyncio.Task[None] | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen (on a free port by default) and return the base URL."""
        sock = socket.socket()
        sock.bind((host, port))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                await self._task  # raises why it could not start
            await asyncio.sleep(0.05)
        return f"http://{host}:{sock.getsockname()[1]}"

    async def stop(self) -> None:
        if self._task is not None:
            self._server.should_exit = True
            await self._task

    async def _receive(self, request: Request) -> Response:
        member_id = request.path_params["member_id"]
        secret = self._secrets.get(member_id)
        if secret is None:
            return Response(status_code=404)
        body = await request.body()
        if verify(request.headers.get(SIGNATURE_HEADER), body, [secret]) is not None:
            self._board.bad_signatures += 1
            return Response(status_code=401)
        delivery_id = request.headers.get(DELIVERY_ID_HEADER)
        if not delivery_id:
            return Response(status_code=400)
        if (member_id, delivery_id) in self._seen_deliveries:
            self._board.duplicate_deliveries += 1
            return Response(status_code=204)
        self._seen_deliveries.add((member_id, delivery_id))
        self._board.notice(member_id, json.loads(body))
        return Response(status_code=204)
