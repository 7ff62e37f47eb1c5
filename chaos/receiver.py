"""The members' receiving systems: demo's webhook receiver, which a fault can make slow, failing
or unreachable for a while, always on the same address (the one in the seed)."""

from __future__ import annotations

import asyncio
import socket
from enum import StrEnum

from starlette.requests import Request
from starlette.responses import Response

from demo.receiver import WebhookReceiver
from demo.scoreboard import Scoreboard
from shared.runtime.ports import free_port


class Behaviour(StrEnum):
    WORKING = "working"
    SLOW = "slow"
    """Answers only after the platform's attempt timeout: it took the notice, the platform thinks
    it failed and sends it again (with the same delivery id)."""
    FAILING = "failing"
    """503 to everything."""


class MemberSystems:
    def __init__(self, webhook_secrets: dict[str, str], board: Scoreboard, slow_answer_s: float) -> None:
        self.webhook_secrets = webhook_secrets
        self.board = board
        self.slow_answer_s = slow_answer_s
        self.behaviour = Behaviour.WORKING
        self.port = free_port()
        self._receiver: _Receiver | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def up(self) -> bool:
        return self._receiver is not None

    async def start(self) -> None:
        """Listen (again) on the same port."""
        self._receiver = _Receiver(self)
        await self._receiver.listen(self.port)

    async def stop(self) -> None:
        """Down: connections to the port are refused until `start`."""
        if self._receiver is not None:
            receiver, self._receiver = self._receiver, None
            await receiver.stop()


class _Receiver(WebhookReceiver):
    def __init__(self, systems: MemberSystems) -> None:
        super().__init__(systems.webhook_secrets, systems.board)
        self._systems = systems

    async def listen(self, port: int) -> None:
        """demo's `start`, on a socket that may rebind a port recently closed (TIME_WAIT)."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                await self._task
            await asyncio.sleep(0.05)

    async def _receive(self, request: Request) -> Response:
        behaviour = self._systems.behaviour
        if behaviour is Behaviour.FAILING:
            return Response(status_code=503)
        response = await super()._receive(request)
        if behaviour is Behaviour.SLOW:
            await asyncio.sleep(self._systems.slow_answer_s)
        return response
