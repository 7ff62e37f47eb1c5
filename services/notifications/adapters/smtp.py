"""E-mail through the configured SMTP server (stdlib smtplib in a dedicated thread pool).

The pool is sized to the SMTP concurrency, so a hanging mail server occupies its own threads
only, never the event loop's default executor (which resolves host names for webhooks).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from services.notifications.config import NotificationSettings
from services.notifications.domain.messages import EmailContent
from services.notifications.domain.notices import AttemptResult
from shared.signing import DELIVERY_ID_HEADER


def compose(content: EmailContent, sender: str, recipient: str, delivery_id: str) -> EmailMessage:
    """A plain-text message whose Message-ID is the delivery id, so a resend is recognisably the same."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    # A request id from an invalid submission can hold anything: one line, or a header injected.
    message["Subject"] = " ".join(content.subject.split())
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "alliance.invalid"
    message["Message-ID"] = f"<{delivery_id}@{domain}>"
    message[DELIVERY_ID_HEADER] = delivery_id
    message.set_content(content.body)
    return message


class SmtpMailer:
    def __init__(self, settings: NotificationSettings) -> None:
        assert settings.smtp_host, "SMTP is not configured"
        self._settings = settings
        self._executor = ThreadPoolExecutor(
            max_workers=settings.smtp_concurrency, thread_name_prefix="smtp"
        )

    @property
    def sender(self) -> str:
        return self._settings.smtp_from

    async def send(self, message: EmailMessage) -> AttemptResult:
        loop = asyncio.get_running_loop()
        # smtplib's timeout is per socket operation; this bounds the whole conversation.
        limit = self._settings.smtp_timeout_s * 2
        try:
            async with asyncio.timeout(limit):
                await loop.run_in_executor(self._executor, self._send_blocking, message)
        except TimeoutError:
            return AttemptResult(False, error=f"SMTP server did not finish within {limit:g} s")
        except smtplib.SMTPRecipientsRefused as exc:
            # One member's address, not the server's health: the SMTP circuit must not open.
            codes = sorted({code for code, _ in exc.recipients.values()})
            return AttemptResult(
                False,
                status_code=codes[0] if codes else None,
                error="recipient refused",
                endpoint_fault=False,
            )
        except smtplib.SMTPResponseException as exc:
            return AttemptResult(
                False, status_code=exc.smtp_code, error=f"{type(exc).__name__} {exc.smtp_code}"
            )
        except (smtplib.SMTPException, OSError) as exc:
            return AttemptResult(False, error=type(exc).__name__)
        return AttemptResult(True, status_code=250)

    def _send_blocking(self, message: EmailMessage) -> None:
        settings = self._settings
        host, port, timeout = settings.smtp_host or "", settings.smtp_port, settings.smtp_timeout_s
        client: smtplib.SMTP
        if settings.smtp_security == "ssl":
            client = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                client.login(settings.smtp_username, password)
            client.send_message(message)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
