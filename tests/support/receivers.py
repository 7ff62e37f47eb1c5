"""Members' receiving systems for tests: a real HTTP webhook receiver and a real SMTP server.

The webhook receiver is a small asyncio HTTP/1.1 server, so a test decides per path what each
attempt gets: a status code (with an optional Retry-After), or no answer at all (a hang).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from shared.runtime.ports import free_port

HANG = -1
"""A behaviour's answer meaning: read the request, never respond."""

Behaviour = Callable[[int], int | tuple[int, dict[str, str]]]
"""attempt number at this path (1-based) -> status code, or (status, extra headers), or HANG."""


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    """time.time() when the whole request had arrived."""
    answered: int


@dataclass
class WebhookReceiver:
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    received: list[ReceivedRequest] = field(default_factory=list)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    _server: asyncio.Server | None = None
    _connections: set[asyncio.Task[None]] = field(default_factory=set)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def at(self, path: str) -> list[ReceivedRequest]:
        return [r for r in self.received if r.path == path]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            path = request_line.split(" ")[1]
            headers = {}
            for line in header_lines:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            attempt = len(self.at(path)) + 1
            answer = self.behaviours.get(path, lambda _: 200)(attempt)
            status, extra = answer if isinstance(answer, tuple) else (answer, {})
            self.received.append(ReceivedRequest(path, headers, body, time.time(), status))
            if status == HANG:
                await asyncio.Event().wait()
            lines = [f"HTTP/1.1 {status} X", "content-length: 0", "connection: close"]
            lines += [f"{name}: {value}" for name, value in extra.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self._connections.discard(task)


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"


class SmtpSink:
    """An aiosmtpd server on a free port that keeps every message it accepts.

    With `credentials`, it requires SMTP AUTH with exactly those (over plain text: a test).
    """

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self._mailbox = _Mailbox()
        self.logins: list[str] = []
        options: dict[str, Any] = {}
        if credentials is not None:
            options = {
                "authenticator": self._authenticator(credentials),
                "auth_required": True,
                "auth_require_tls": False,
            }
        self._controller = Controller(
            self._mailbox, hostname="127.0.0.1", port=self.port, **options
        )

    def _authenticator(self, credentials: tuple[str, str]) -> Callable[..., AuthResult]:
        def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:  # type: ignore[no-untyped-def]
            login = auth_data.login.decode()
            valid = (login, auth_data.password.decode()) == credentials
            if valid:
                self.logins.append(login)
            return AuthResult(success=valid)

        return authenticate

    @property
    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        return self._mailbox.messages

    def to(self, address: str) -> list[EmailMessage]:
        return [message for recipients, message in self.messages if address in recipients]

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


async def eventually(
    check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Wait until `check()` holds; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(interval)
