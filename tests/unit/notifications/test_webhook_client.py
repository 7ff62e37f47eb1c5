"""The webhook client against real sockets: what it sends, which answers count as delivered,
when it keeps a connection for the next notice and when it must not."""

from __future__ import annotations

import asyncio
import base64
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.notifications.adapters import webhook
from services.notifications.adapters.webhook import WebhookClient
from shared.signing import parse_header, signature_hex

SECRET = "s3cret"
BODY = b'{"specversion":"1.0","id":"d-1"}'
NO_CONTENT = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"


@dataclass
class Received:
    head: str
    body: bytes
    connection: int

    def header(self, name: str) -> str | None:
        for line in self.head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name:
                return value.strip()
        return None


@dataclass
class Receiver:
    """An HTTP/1.1 server whose answers a test scripts as raw bytes; None hangs up without one."""

    answer: Callable[[int], bytes | None] = lambda _: NO_CONTENT
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    ssl_context: ssl.SSLContext | None = None
    _server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", 0, ssl=self.ssl_context
        )
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        connection = self.connections
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                request = Received(head, b"", connection)
                request.body = await reader.readexactly(int(request.header("content-length") or 0))
                self.received.append(request)
                answer = self.answer(len(self.received))
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    yield server
    await server.stop()


async def post(client: WebhookClient, port: int, path: str = "/hook", scheme: str = "http"):
    return await client.post(f"{scheme}://127.0.0.1:{port}{path}", BODY, SECRET, "d-1")


async def test_a_post_carries_the_signed_body_and_reuses_its_connection(receiver: Receiver) -> None:
    port = await receiver.start()
    client = WebhookClient(timeout_s=5, max_idle_connections=10)
    results = [await post(client, port, "/hook?x=1") for _ in range(3)]
    await client.close()

    assert all(r.delivered and r.status_code == 204 for r in results)
    assert receiver.connections == 1, "one kept-alive connection for every notice"
    first = receiver.received[0]
    assert first.head.startswith("POST /hook?x=1 HTTP/1.1\r\n")
    assert first.header("host") == f"127.0.0.1:{port}"
    assert first.header("content-type") == "application/cloudevents+json; charset=utf-8"
    assert first.header("alliance-delivery-id") == "d-1"
    assert first.body == BODY
    parsed = parse_header(first.header("alliance-signature"))
    assert not isinstance(parsed, str)
    assert parsed.signatures == (signature_hex(SECRET, parsed.timestamp, BODY),)


async def test_answers_other_than_2xx_fail_and_retry_after_is_read(receiver: Receiver) -> None:
    answers = {
        1: b"HTTP/1.1 503 Busy\r\nretry-after: 7\r\ncontent-length: 4\r\n\r\nbusy",
        2: b"HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n",
        3: b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    }
    receiver.answer = answers.__getitem__
    port = await receiver.start()
    client = WebhookClient(timeout_s=5, max_idle_connections=10)
    busy, redirected, fine = [await post(client, port) for _ in range(3)]
    await client.close()

    assert (busy.delivered, busy.status_code, busy.error, busy.retry_after_s) == (
        False, 503, "HTTP 503", 7.0,
    )
    assert (redirected.delivered, redirected.status_code) == (False, 302), "redirects are not followed"
    assert fine.delivered and fine.status_code == 200
    assert receiver.connections == 1, "short bodies are read, so the connection stays usable"


@pytest.mark.parametrize(
    ("answer", "reused"),
    [
        (b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10000000\r\n\r\n" + b"x" * 10_000_000, False),
        (b"HTTP/1.1 200 OK\r\n\r\nbody until the connection closes", False),
        (b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n", False),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", True),
    ],
    ids=["close", "chunked", "long body", "unframed", "http/1.0", "interim"],
)
async def test_a_connection_is_reused_only_when_the_answer_is_framed_and_short(
    receiver: Receiver, answer: bytes, reused: bool
) -> None:
    receiver.answer = lambda _: answer
    port = await receiver.start()
    client = WebhookClient(timeout_s=5, max_idle_connections=10)
    first, second = await post(client, port), await post(client, port)
    await client.close()

    assert first.delivered and second.delivered
    assert receiver.connections == (1 if reused else 2)


async def test_an_answer_we_cannot_read_safely_is_a_failed_attempt(receiver: Receiver) -> None:
    receiver.answer = lambda _: b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\ncontent-length: 5\r\n\r\n"
    port = await receiver.start()
    client = WebhookClient(timeout_s=5, max_idle_connections=10)
    result = await post(client, port)
    await client.close()
    assert (result.delivered, result.endpoint_fault) == (False, True)


async def test_a_connection_the_receiver_closed_while_idle_is_replaced_unnoticed(
    receiver: Receiver,
) -> None:
    receiver.answer = lambda n: NO_CONTENT if n % 2 else None  # answers, then drops the next
    port = await receiver.start()
    client = WebhookClient(timeout_s=5, max_idle_connections=10)
    results = [await post(client, port) for _ in range(2)]
    await client.close()

    assert [r.delivered for r in results] == [True, True]
    assert receiver.connections == 2 and len(receiver.received) == 3


async def test_a_408_on_a_kept_connection_is_the_receivers_goodbye_not_the_answer(
    receiver: Receiver,
) -> None:
    timed_out = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    receiver.answer = lambda n: timed_out if n == 2 else NO_CONTENT
    port = await receiver.start()
    client = WebhookClient(timeout_s=5, max_idle_connections=10)
    results = [await post(client, port) for _ in range(2)]
    await client.close()

    assert [r.delivered for r in results] == [True, True]
    assert receiver.connections == 2


async def test_idle_connections_are_closed_after_the_keep_alive_time(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook, "KEEPALIVE_S", 0.05)
    port = await receiver.start()
    client = WebhookClient(timeout_s=5, max_idle_connections=10)
    await post(client, port)
    await asyncio.sleep(0.2)
    await post(client, port)
    await client.close()
    assert receiver.connections == 2


async def test_no_answer_in_time_and_no_receiver_are_failures_of_the_endpoint(
    receiver: Receiver,
) -> None:
    receiver.answer = lambda _: b""  # reads the request, never answers
    port = await receiver.start()
    client = WebhookClient(timeout_s=0.2, max_idle_connections=10)
    hung = await post(client, port)
    await receiver.stop()
    refused = await post(client, port)
    await client.close()

    assert (hung.delivered, hung.error, hung.endpoint_fault) == (False, "no answer within 0.2 s", True)
    assert (refused.delivered, refused.error, refused.endpoint_fault) == (
        False, "ConnectionRefusedError", True,
    )


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/hook", "http:///no-host", "http://example.org/a b",
     "http://example.org/a\r\nx-injected: 1", "http://exämple.org/", "http://example.org:99999/"],
)
async def test_an_unusable_url_fails_without_blaming_the_endpoint(url: str) -> None:
    client = WebhookClient(timeout_s=1, max_idle_connections=10)
    result = await client.post(url, BODY, SECRET, "d-1")
    assert (result.delivered, result.error, result.endpoint_fault) == (
        False, "invalid webhook URL", False,
    )


async def test_credentials_in_the_url_become_basic_authentication(receiver: Receiver) -> None:
    port = await receiver.start()
    client = WebhookClient(timeout_s=5, max_idle_connections=10)
    await client.post(f"http://hook:p%40ss@127.0.0.1:{port}/", BODY, SECRET, "d-1")
    await client.close()
    assert receiver.received[0].header("authorization") == "Basic " + base64.b64encode(
        b"hook:p@ss"
    ).decode()
    assert receiver.received[0].header("host") == f"127.0.0.1:{port}"


async def test_https_is_verified_and_kept_alive(receiver: Receiver, tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    receiver.ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    receiver.ssl_context.load_cert_chain(cert, key)
    port = await receiver.start()

    trusting = WebhookClient(5, 10, ssl_context=ssl.create_default_context(cafile=str(cert)))
    results = [await post(trusting, port, scheme="https") for _ in range(2)]
    await trusting.close()
    assert [r.delivered for r in results] == [True, True] and receiver.connections == 1

    untrusting = WebhookClient(timeout_s=5, max_idle_connections=10)
    refused = await post(untrusting, port, scheme="https")
    await untrusting.close()
    assert (refused.delivered, refused.error) == (False, "SSLCertVerificationError")
