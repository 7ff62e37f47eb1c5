"""Members' receiving systems for tests: a real SMTP server, and waiting for what it (or the
webhook receiver, tools/webhook_receiver.py) received."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from shared.runtime.ports import free_port


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
