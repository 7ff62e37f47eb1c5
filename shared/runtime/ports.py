"""Checking, before anything starts, that every port the platform will bind is free.

A clash found after the database and broker are up would leave the operator with half a
platform and a traceback; found first, it is one line naming the port and who wanted it.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class PortClaim:
    host: str
    port: int
    purpose: str
    """What wants the port, as the operator knows it: "members HTTP", "embedded Kafka broker"."""


class PortUnavailable(Exception):
    """A port the platform needs is taken or claimed twice; nothing has been started."""


def check_ports_free(claims: list[PortClaim]) -> None:
    """Raise `PortUnavailable` naming the first port that is claimed twice or already bound."""
    seen: dict[int, PortClaim] = {}
    for claim in claims:
        if claim.port in seen:
            raise PortUnavailable(
                f"port {claim.port} is configured for both {seen[claim.port].purpose} "
                f"and {claim.purpose}"
            )
        seen[claim.port] = claim
    for claim in claims:
        if not port_is_free(claim.host, claim.port):
            raise PortUnavailable(f"port {claim.port} ({claim.purpose}) is already in use")


def port_is_free(host: str, port: int) -> bool:
    """Whether a listener could bind host:port now (SO_REUSEADDR, as servers bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


_HANDED_OUT: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now and this process has not handed out before,
    for tests and throwaway servers: the kernel may offer a port again as long as nobody binds
    it, and a harness allocates many (three Kafka nodes, two platforms) before any starts."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
