"""The members' receiving systems, one aiohttp.web server on 127.0.0.1 for all of them: what the
tests, bench's latency stage, the demo and chaos post the platform's webhooks to.

It lives in `tools/` because each of those four needs it and none may import another for it: the
tests do not import the demo, the demo and chaos do not import the test suite, and the product
(`services/`, `shared/`) imports none of them.

Every POST is recorded (`received`). What it is answered is scripted per path (`behaviours`,
`default` for the rest): a status code, with extra headers, or no answer at all (HANG); and
`answer_delay_s` makes every answer late. With a `board`, a notice answered 2xx is taken as the
contract asks of a receiving system: its `alliance-signature` verified with the member's webhook
secret when `webhook_secrets` are given (401 otherwise, so the platform retries), and a
redelivered `alliance-delivery-id` acknowledged without telling the board twice. The member is
the last segment of the path.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from shared.runtime.ports import free_port
from shared.signing import DELIVERY_ID_HEADER, SIGNATURE_HEADER, verify

HANG = -1
"""A behaviour's answer meaning: read the request, never respond."""

Answer = int | tuple[int, dict[str, str]]
"""A status code, or (status, extra headers), or HANG."""

Behaviour = Callable[[int], Answer]
"""attempt number at this path (1-based) -> the answer."""

STOP_GRACE_S = 0.5
"""How long `stop` lets answers in flight finish before it cuts them off (hung ones never do)."""


def no_content(attempt: int) -> Answer:
    """The default behaviour: every notice taken, 204."""
    return 204


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes
    received_at: float
    """time.time() when the whole request had arrived."""
    answered: int


class NoticeBoard(Protocol):
    """Where the receiver tells what the members' systems took."""

    bad_signatures: int
    duplicate_deliveries: int

    def notice(self, member_id: str, event: dict[str, Any]) -> None:
        """One webhook notice (a CloudEvent), already authenticated and deduplicated."""


class WebhookReceiver:
    """Every member's endpoint, at `url(path)`."""

    host = "127.0.0.1"

    def __init__(self, board: NoticeBoard | None = None, webhook_secrets: Mapping[str, str] | None = None) -> None:
        """On a port free now, the same across `stop` and `start`, so the URLs handed out stay valid."""
        self.port = free_port(self.host)
        self.board = board
        self.webhook_secrets = webhook_secrets
        self.received: list[ReceivedRequest] = []
        self._received_at_path: dict[str, list[ReceivedRequest]] = {}
        """`received` by path: a behaviour's attempt number without a scan (bench's thousands)."""
        self.behaviours: dict[str, Behaviour] = {}
        self.default: Behaviour = no_content
        self.answer_delay_s = 0.0
        self._seen_deliveries: set[tuple[str, str]] = set()
        """(member_id, delivery id): each member's system dedupes its own deliveries."""
        self._runner: web.AppRunner | None = None

    def url(self, path: str = "") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def at(self, path: str) -> list[ReceivedRequest]:
        return list(self._received_at_path.get(path, ()))

    @property
    def up(self) -> bool:
        return self._runner is not None

    async def start(self) -> str:
        """Listen (again, after `stop`) and return the base URL."""
        app = web.Application()
        app.router.add_post("/{path:.*}", self._receive)
        # A sender that gives up (hangs up) cancels its answer, as it would at a real system.
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=STOP_GRACE_S)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port, reuse_address=True).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        return self.url()

    async def stop(self) -> None:
        """Down: connections to the port are refused until `start`."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        received_at = time.time()
        path = request.path_qs
        headers = {name.lower(): value for name, value in request.headers.items()}
        at_path = self._received_at_path.setdefault(path, [])
        answer = self.behaviours.get(path, self.default)(len(at_path) + 1)
        status, extra = answer if isinstance(answer, tuple) else (answer, {})
        if self.board is not None and 200 <= status < 300:
            status = self._take(self.board, request.path.rpartition("/")[2], headers, body) or status
        record = ReceivedRequest(path, headers, body, received_at, status)
        self.received.append(record)
        at_path.append(record)
        if status == HANG:
            await asyncio.get_running_loop().create_future()  # until the sender hangs up or `stop`
        if self.answer_delay_s:
            await asyncio.sleep(self.answer_delay_s)
        return web.Response(status=status, headers=extra)

    def _take(self, board: NoticeBoard, member_id: str, headers: dict[str, str], body: bytes) -> int | None:
        """Hand the notice to the board once; the error status when the contract refuses it."""
        if self.webhook_secrets is not None:
            secret = self.webhook_secrets.get(member_id)
            if secret is None:
                return 404
            if verify(headers.get(SIGNATURE_HEADER), body, [secret]) is not None:
                board.bad_signatures += 1
                return 401
        delivery_id = headers.get(DELIVERY_ID_HEADER)
        if not delivery_id:
            return 400
        if (member_id, delivery_id) in self._seen_deliveries:
            board.duplicate_deliveries += 1
            return None
        self._seen_deliveries.add((member_id, delivery_id))
        board.notice(member_id, json.loads(body))
        return None
