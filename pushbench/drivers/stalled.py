"""Stalled subscribers: WebSocket clients that connect, then never read another byte.

A client that stops reading (a phone gone to sleep, a stuck tab, a consumer blocked on its own
work) is what tells a broadcast design apart: one whose send to each socket is awaited in turn
stops delivering to *everyone* once that client's socket buffers fill; one that gives each
subscriber its own bounded queue only drops the stuck one. pushbench measures it by opening such
clients next to the measured subscribers (``compare --stalled-subscribers N``) and reporting what
the measured ones received.

Each socket asks for a 4 KiB receive buffer before it connects, so the kernel's window stays
small and the server's writes back up after a few tens of KiB rather than megabytes: the stall
shows within seconds at ordinary payload sizes. The handshake is read (the server must see an
open WebSocket); after it, nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from urllib.parse import urlsplit

from pushbench.drivers.wshandshake import (
    HandshakeError,
    handshake_request,
    new_key,
    parse_handshake,
)
from pushbench.harness.client_auth import auth_headers

__all__ = ["RECEIVE_BUFFER_BYTES", "StalledSubscriber", "open_stalled"]

#: SO_RCVBUF asked for before connecting (Linux doubles it for bookkeeping).
RECEIVE_BUFFER_BYTES = 4096


class StalledSubscriber:
    """An open WebSocket that is never read; :meth:`close` when the scenario ends."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def close(self) -> None:
        """Drop the connection (RST if unread data is pending: the server sees it go away)."""
        with contextlib.suppress(OSError):
            self._sock.close()


async def open_stalled(url: str, timeout_s: float = 10.0) -> StalledSubscriber:
    """Connect to a ``ws://`` URL, complete the upgrade, and stop reading.

    Raises:
        ConnectionError: the server refused the upgrade.
    """
    parts = urlsplit(url)
    if parts.scheme != "ws":
        # A stalled TLS reader would need the TLS layer itself to stop reading (not the
        # socket): not built; refused rather than measured as something else.
        raise ValueError(f"stalled subscribers connect over ws:// only, not {url!r}")
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        sock.setblocking(False)
        async with asyncio.timeout(timeout_s):
            await loop.sock_connect(sock, (host, port))
            key = new_key()
            await loop.sock_sendall(
                sock, handshake_request(f"{host}:{port}", target, key, auth_headers())
            )
            received = b""
            while _upgraded(received, key) is None:
                chunk = await loop.sock_recv(sock, 4096)
                if not chunk:
                    raise ConnectionError("the server closed the connection during the upgrade")
                received += chunk
    except BaseException:
        sock.close()
        raise
    return StalledSubscriber(sock)


def _upgraded(received: bytes, key: str) -> object | None:
    try:
        return parse_handshake(received, key)
    except HandshakeError as exc:
        raise ConnectionError(f"handshake refused: {exc}") from None
