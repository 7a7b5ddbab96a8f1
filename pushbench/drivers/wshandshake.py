"""The WebSocket opening handshake (RFC 6455 section 4), client side and sans I/O.

The raw asyncio clients (:mod:`pushbench.drivers.rawws`) and the Locust users' blocking client
(:mod:`pushbench.locust.ws_client`) send the same upgrade request and check the answer the same
way; the frames that follow are :mod:`pushbench.drivers.wsframes`' business, and an offered
permessage-deflate :mod:`pushbench.drivers.wsdeflate`'s.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Final

__all__ = [
    "GUID",
    "HandshakeError",
    "accept_key",
    "handshake_request",
    "new_key",
    "parse_handshake",
]

#: The GUID RFC 6455 appends to the client key to compute ``Sec-WebSocket-Accept``.
GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HandshakeError(Exception):
    """The server did not accept the WebSocket upgrade; ``status`` is its HTTP status or 0."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def new_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value a server must answer ``key`` with."""
    digest = hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def handshake_request(
    host: str, target: str, key: str, headers: dict[str, str] | None = None
) -> bytes:
    """The HTTP/1.1 upgrade request for ``target`` (path and query) on ``host`` (with port)."""
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_handshake(
    data: bytes, key: str, *, offered_extensions: bool = False
) -> tuple[dict[str, str], bytes] | None:
    """Check the server's answer to the upgrade request.

    Args:
        data: Everything received so far.
        key: The ``Sec-WebSocket-Key`` that was sent.
        offered_extensions: The request offered an extension (permessage-deflate), so the
            answer may name one: :func:`pushbench.drivers.wsdeflate.negotiate` checks it.

    Returns:
        None while the header block is incomplete; then the headers (lower-case names) and
        the bytes that followed them (the first frames, if the server was quick).

    Raises:
        HandshakeError: Not a ``101``, or not a valid WebSocket upgrade.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if len(data) > 65536:
            raise HandshakeError("handshake response headers too long")
        return None
    status_line, *header_lines = data[:end].decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if status != 101:
        raise HandshakeError(f"server answered {status_line!r} instead of 101", status)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket":
        raise HandshakeError("missing 'Upgrade: websocket' in the 101 response", status)
    if "upgrade" not in headers.get("connection", "").lower():
        raise HandshakeError("missing 'Connection: Upgrade' in the 101 response", status)
    if headers.get("sec-websocket-accept") != accept_key(key):
        raise HandshakeError("wrong Sec-WebSocket-Accept in the 101 response", status)
    if headers.get("sec-websocket-extensions") and not offered_extensions:
        raise HandshakeError("server negotiated an extension this client did not offer", status)
    return headers, data[end + 4 :]
