"""A minimal WebSocket client for capacity runs: handshake, prebuilt frames, frame counting.

Measuring a server's capacity needs a client that costs far less than the server per message.
A general client (``websockets``) decodes, validates and queues every message; this one only
counts frames as bytes arrive, and sends a frame prepared once. It is for the reference server's
small text frames only; latency measurements use the full clients.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

__all__ = ["RawClient", "masked_text_frame", "open_raw"]


def masked_text_frame(text: str) -> bytes:
    """One complete masked text frame, as a client must send it."""
    payload = text.encode()
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, length)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


class RawClient(asyncio.Protocol):
    """Counts complete frames received; ``on_frame`` (if any) runs once per frame."""

    def __init__(
        self, host: str, target: str, on_frame: Callable[[RawClient], None] | None
    ) -> None:
        self.frames = 0
        self.closed = False
        #: Set by a closed-loop sender: when its one outstanding frame left (perf_counter_ns).
        self.sent_ns = 0
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._on_frame = on_frame
        self._buffer = bytearray()
        self._handshake_done = False
        key = base64.b64encode(os.urandom(16)).decode()
        self._request = (
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self._request)

    def send(self, frame: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(frame)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._handshake_done:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status_line = bytes(buffer[: buffer.find(b"\r\n")])
            del buffer[: end + 4]
            if b" 101 " not in status_line:
                self.opened.set_exception(ConnectionError(f"handshake refused: {status_line!r}"))
                self.close()
                return
            self._handshake_done = True
            self.opened.set_result(None)
        # Walk complete frames; keep a partial one for the next chunk.
        offset = 0
        size = len(buffer)
        frames = 0
        on_frame = self._on_frame
        while size - offset >= 2:
            opcode = buffer[offset] & 0x0F
            length = buffer[offset + 1] & 0x7F
            start = offset + 2
            if length == 126:
                if size - offset < 4:
                    break
                length = (buffer[start] << 8) | buffer[start + 1]
                start += 2
            elif length == 127:
                if size - offset < 10:
                    break
                length = int.from_bytes(buffer[start : start + 8], "big")
                start += 8
            if start + length > size:
                break
            offset = start + length
            if opcode == 0x8:  # close
                self.close()
                break
            if opcode in (0x1, 0x2):
                frames += 1
                if on_frame is not None:
                    on_frame(self)
        del buffer[:offset]
        self.frames += frames

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during handshake"))


async def open_raw(url: str, on_frame: Callable[[RawClient], None] | None = None) -> RawClient:
    """Connect and complete the handshake to a ``ws://host:port/path?query`` URL."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: RawClient(f"{host}:{port}", target, on_frame), host, port
    )
    await protocol.opened
    return protocol
